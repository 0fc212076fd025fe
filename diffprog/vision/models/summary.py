"""`summary(model, input_size)`: a per-layer table of output shapes, parameters and multiply-adds
(in the spirit of torchsummary / Keras' model.summary())."""
import math
from dataclasses import dataclass, field

from ...autograd.grad_mode import no_grad
from ...creation import zeros
from ...dtypes import float32
from ...random import randn
from ... import nn

__all__ = ["summary", "ModelSummary"]


def _shapes(output):
    """Output shape(s) of a layer: a list for a tuple/list of tensors."""
    if isinstance(output, (tuple, list)):
        return [_shapes(o) for o in output if o is not None]
    return list(output.shape) if hasattr(output, "shape") else None


def _mult_adds(module, args, output):
    """Multiply-adds of one call: conv = out elements * in/groups * kernel size (transposed:
    in elements * out/groups * kernel size), linear = out elements * in_features."""
    if isinstance(module, nn.modules.conv._ConvNd):
        kernel = math.prod(module.kernel_size)
        if module.transposed:
            return args[0].numel() * module.out_channels // module.groups * kernel
        return output.numel() * module.in_channels // module.groups * kernel
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


@dataclass
class ModelSummary:
    """What `summary` found: `layers` (one dict per leaf module call), totals, and the table."""
    layers: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    total_mult_adds: int = 0
    input_size: list = field(default_factory=list)

    @property
    def non_trainable_params(self):
        return self.total_params - self.trainable_params

    def to_dict(self):
        return {"layers": self.layers, "total_params": self.total_params,
                "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params,
                "total_mult_adds": self.total_mult_adds, "input_size": self.input_size}

    def __str__(self):
        rows = [(f"{layer['type']}-{i + 1} ({layer['name']})", str(layer["output_shape"]),
                 f"{layer['params']:,}", f"{layer['mult_adds']:,}") for i, layer in enumerate(self.layers)]
        head = ("Layer (type)", "Output Shape", "Param #", "Mult-Adds")
        w = [max([len(head[c])] + [len(r[c]) for r in rows]) for c in range(4)]
        line = lambda r: "  ".join([r[0].ljust(w[0])] + [r[c].rjust(w[c]) for c in (1, 2, 3)])
        rule = "=" * len(line(head))
        return "\n".join([rule, line(head), rule, *map(line, rows), rule,
                          f"Total params: {self.total_params:,}",
                          f"Trainable params: {self.trainable_params:,}",
                          f"Non-trainable params: {self.non_trainable_params:,}",
                          f"Total mult-adds: {self.total_mult_adds:,}", rule])

    __repr__ = __str__


def summary(model, input_size, batch_size=1, dtypes=None, print_summary=True):
    """Run `model` once on random inputs of `(batch_size, *input_size)` (a list of sizes
    for several inputs; `dtypes` one per input, float32 by default) and tabulate every leaf
    module's output shape, parameter count and multiply-adds. Prints the table (unless
    `print_summary=False`) and returns a `ModelSummary`; the model's train/eval mode is kept."""
    sizes = [input_size] if isinstance(input_size[0], int) else list(input_size)
    dtypes = dtypes or [float32] * len(sizes)
    inputs = [randn(batch_size, *s).to(d) if d.is_floating_point else zeros(batch_size, *s, dtype=d)
              for s, d in zip(sizes, dtypes)]
    result = ModelSummary(input_size=[[batch_size, *s] for s in sizes])

    def hook(name):
        def record(module, args, output):
            params = list(module.parameters(recurse=False))
            result.layers.append({
                "name": name, "type": type(module).__name__, "output_shape": _shapes(output),
                "params": sum(p.numel() for p in params),
                "trainable": sum(p.numel() for p in params if p.requires_grad),
                "mult_adds": _mult_adds(module, args, output)})
        return record

    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook(n or type(m).__name__)) for n, m in leaves]
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
    result.total_params = sum(p.numel() for p in model.parameters())
    result.trainable_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result.total_mult_adds = sum(layer["mult_adds"] for layer in result.layers)
    if print_summary:
        print(result)
    return result
