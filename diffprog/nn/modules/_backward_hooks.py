"""Module backward hooks (`register_full_backward_hook`, `register_full_backward_pre_hook`).

As in PyTorch, a module call with such hooks passes its tensor inputs and its outputs
through identity nodes: the outputs' node sees grad_output first (pre-hooks may replace
it), the inputs' node then sees grad_input (hooks get both, and may replace grad_input).
When no input needs a gradient, the hooks run at the outputs' node with grad_input all None.
"""
import warnings

from ...autograd.function import Function
from ...tensor import Tensor


class _Identity(Function):
    """Returns its tensors unchanged; on the way back hands their gradients to `on_grads`."""

    @staticmethod
    def forward(ctx, on_grads, *tensors):
        ctx.on_grads = on_grads
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.on_grads(grads))


class BackwardHook:
    """The hook state of one module call."""

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0
        self.inputs_need_grad = False

    def wrap_inputs(self, args):
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.n_inputs = len(positions)
        self.needs = [args[i].requires_grad for i in positions]
        self.inputs_need_grad = any(self.needs)
        if not self.inputs_need_grad:
            return args
        wrapped = _Identity.apply(self._on_input_grads, *[args[i] for i in positions])
        args = list(args)
        for i, t in zip(positions, wrapped):
            args[i] = t
        return tuple(args)

    def wrap_outputs(self, result):
        single = isinstance(result, Tensor)
        items = [result] if single else list(result) if isinstance(result, (tuple, list)) else None
        if items is None:
            return result
        positions = [i for i, t in enumerate(items) if isinstance(t, Tensor) and t.requires_grad]
        if not positions:
            return result
        wrapped = _Identity.apply(self._on_output_grads, *[items[i] for i in positions])
        for i, t in zip(positions, wrapped):
            items[i] = t
        return items[0] if single else type(result)(items)

    def _on_output_grads(self, grads):
        for hook in self.module._backward_pre_hooks.values():
            out = hook(self.module, grads)
            if out is not None:
                grads = _checked(out, len(grads), "backward pre hook", "grad_output")
        self.grad_output = grads
        if not self.inputs_need_grad and self.module._backward_hooks:
            warnings.warn("Full backward hook is firing when gradients are computed with respect to "
                          "module outputs since no inputs require gradients. See "
                          "torch.nn.Module.register_full_backward_hook's documentation for more "
                          "details.", stacklevel=2)
            self._run_hooks((None,) * self.n_inputs)
        return grads

    def _on_input_grads(self, grads):
        full = iter(grads)
        grad_input = tuple(next(full) if need else None for need in self.needs)
        grad_input = self._run_hooks(grad_input)
        return tuple(g for g, need in zip(grad_input, self.needs) if need)

    def _run_hooks(self, grad_input):
        for hook in self.module._backward_hooks.values():
            out = hook(self.module, grad_input, self.grad_output)
            if out is not None:
                grad_input = _checked(out, len(grad_input), "backward hook", "grad_input")
        return grad_input


def _checked(out, n, what, name):
    out = (out,) if isinstance(out, Tensor) else tuple(out)
    if len(out) != n:
        raise RuntimeError(f"{what} returned an invalid number of {name}, got {len(out)}, but "
                           f"expected {n}")
    return out
