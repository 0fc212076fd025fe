"""Run unmodified PyTorch, torchvision and Torchbearer code on diffprog.

    python -m diffprog.compat train.py --epochs 1     # a script, with its arguments
    import diffprog.compat; diffprog.compat.install() # from Python, before `import torch`
    %load_ext diffprog.compat                         # in a notebook (IPython)

Once installed, `import torch` gives `diffprog`, `import torchvision` gives
`diffprog.vision`, `import torchbearer` gives `diffprog.train`, and every submodule
(`torch.nn.modules.conv`, `torch.utils.data.dataloader`, `torchbearer.callbacks.decorators`)
is the diffprog module that holds the same names. Each is one module object under both
names (`sys.modules["torch.nn"] is diffprog.nn`), imported once, and keeps its own
`__spec__`. A module diffprog has no counterpart for fails at import with a
ModuleNotFoundError naming it and saying what to use instead; so does importing the shim
after the real PyTorch.
"""
import importlib
import importlib.abc
import importlib.util
import sys

# Root packages and the diffprog packages that stand for them.
ROOTS = {"torch": "diffprog", "torchvision": "diffprog.vision", "torchbearer": "diffprog.train"}

# torch's own top-level submodules that diffprog mirrors (the rest of diffprog is not torch).
TORCH_SUBMODULES = {"nn", "optim", "utils", "autograd", "distributions", "linalg", "fft",
                    "special", "func", "cuda", "backends", "random", "accelerator", "testing",
                    "version", "onnx", "serialization", "distributed"}

# Modules whose names live under another file name in diffprog.
RENAMED = {
    "torch.nn.modules.batchnorm": "diffprog.nn.modules.normalization",
    "torch.nn.modules.instancenorm": "diffprog.nn.modules.normalization",
    "torch.nn.modules.padding": "diffprog.nn.modules.pooling",
    "torch.nn.modules.pixelshuffle": "diffprog.nn.modules.pooling",
    "torch.nn.modules.upsampling": "diffprog.nn.modules.pooling",
    "torch.nn.modules.channelshuffle": "diffprog.nn.modules.pooling",
    "torch.nn.modules.adaptive": "diffprog.nn.modules.pooling",
    "torch.autograd.grad_mode": "diffprog.autograd.grad_mode",
    "torch.autograd.variable": "diffprog.autograd",
    "torch.optim.adamw": "diffprog.optim.adam",
    "torch.optim.adamax": "diffprog.optim.adam",
    "torch.optim.nadam": "diffprog.optim.adam",
    "torch.optim.radam": "diffprog.optim.adam",
    "torchbearer.bases": "diffprog.train",
    "torchbearer.trial": "diffprog.train.trial",
    "torchbearer.version": "diffprog.train",
    "torchbearer.callbacks.checkpointers": "diffprog.train.callbacks.checkpoint",
    "torchbearer.callbacks.torch_scheduler": "diffprog.train.callbacks.schedulers",
    "torchbearer.callbacks.live_loss_plot": "diffprog.train.callbacks.live_plot",
    "torchbearer.callbacks.printer": "diffprog.train.callbacks.progress",
    "torchbearer.callbacks.weight_decay": "diffprog.train.callbacks.regularisers",
    "torchbearer.callbacks.label_smoothing": "diffprog.train.callbacks.regularisers",
    "torchbearer.callbacks.mixup": "diffprog.train.callbacks.regularisers",
    "torchbearer.callbacks.unpack_state": "diffprog.train.callbacks.regularisers",
    "torchbearer.metrics.metrics": "diffprog.train.metrics.metric",
    "torchbearer.metrics.primitives": "diffprog.train.metrics.default",
    "torchbearer.metrics.lr": "diffprog.train.metrics.default",
    "torchbearer.metrics.wrappers": "diffprog.train.metrics.aggregators",
}

# What to tell a user who imports a module diffprog does not have.
UNAVAILABLE = {
    "torch.distributed.rpc": "diffprog.distributed has collectives and DistributedDataParallel, "
                             "not RPC",
    "torch.distributed.fsdp": "diffprog does not shard models; wrap the model in "
                              "DistributedDataParallel",
    "torch.distributed.elastic": "the launcher (python -m diffprog.distributed.run) does not "
                                 "restart failed ranks; resume from a checkpoint",
    "torch.multiprocessing": "use Python's multiprocessing; DataLoader(num_workers=N) already "
                             "loads batches in worker processes",
    "torch.jit": "diffprog has no TorchScript; run the function eagerly, or trace it with "
                 "torch.compile (diffprog.compile)",
    "torch.fx": "diffprog has no graph capture to rewrite; run the module eagerly",
    "torch.utils.tensorboard": "log with torchbearer.callbacks.CSVLogger or LiveLossPlot "
                               "(diffprog.train.callbacks)",
    "torch.profiler": "time code with bench/ (same workload on diffprog and PyTorch) or "
                      "time.perf_counter",
    "torch.autograd.profiler": "time code with bench/ or time.perf_counter",
    "torch.amp": "diffprog computes in the dtype you give it; drop autocast / GradScaler",
    "torch.cuda.amp": "diffprog computes in the dtype you give it; drop autocast / GradScaler",
    "torch.hub": "load weights from a file with torch.load (reads torch.save files)",
    "torch.quantization": "diffprog has no quantized tensors",
    "torch.ao": "diffprog has no quantized tensors",
    "torch.sparse": "diffprog has no sparse tensors; use dense ones",
    "torchbearer.callbacks.tensor_board": "log with torchbearer.callbacks.CSVLogger or LiveLossPlot",
}


def _unavailable(name, hint=None):
    """The error for an unmapped module. Its `name` is left unset: `from torch import x`
    would otherwise swallow it into a bare "cannot import name 'x' from 'diffprog'"."""
    hint = hint or ("see docs/compat.md for what torch, torchvision and torchbearer map to")
    return ModuleNotFoundError(f"No module named {name!r} in diffprog (diffprog.compat maps "
                               f"{name.split('.')[0]} onto {ROOTS[name.split('.')[0]]}): {hint}")


def target(name):
    """The name of the diffprog module that stands for module `name` (torch.nn ->
    diffprog.nn); raises ModuleNotFoundError, with what to use, when there is none."""
    parts = name.split(".")
    for k in range(len(parts), 1, -1):
        hint = UNAVAILABLE.get(".".join(parts[:k]))
        if hint:
            raise _unavailable(name, hint)
    if name in RENAMED:
        return RENAMED[name]
    root, rest = parts[0], parts[1:]
    if any(p.startswith("_") for p in rest) or (
            root == "torch" and rest and rest[0] not in TORCH_SUBMODULES):
        raise _unavailable(name)
    mapped = ".".join([ROOTS[root]] + rest)
    try:
        found = importlib.util.find_spec(mapped) is not None
    except ImportError:     # a parent that is a module, not a package
        found = False
    if not found:
        raise _unavailable(name)
    return mapped


def resolve(name):
    """The diffprog module object for module `name` (imported if need be)."""
    return importlib.import_module(target(name))


class _Alias(importlib.abc.Loader):
    """Loads a torch module name as the (already imported) diffprog module."""

    def __init__(self, module):
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        module.__spec__ = self.spec    # the import machinery set the alias's spec; undo it


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target_module=None):
        if fullname.partition(".")[0] not in ROOTS:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(resolve(fullname)))


_finder = _Finder()


def installed():
    return _finder in sys.meta_path


def install():
    """Map torch, torchvision and torchbearer onto diffprog for every later import."""
    if installed():
        return
    for root, mapped in ROOTS.items():
        present = sys.modules.get(root)
        if present is not None and present is not sys.modules.get(mapped):
            raise RuntimeError(f"diffprog.compat.install(): the real {root} is already imported "
                               f"({getattr(present, '__file__', present)}); install the shim "
                               f"before the first `import {root}` (first line of the script or "
                               f"notebook, or run it with python -m diffprog.compat)")
    sys.meta_path.insert(0, _finder)


def uninstall():
    """Undo `install()`: forget the torch names (the diffprog modules stay imported)."""
    if installed():
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n.partition(".")[0] in ROOTS]:
        if getattr(sys.modules[name], "__name__", "").startswith("diffprog"):
            del sys.modules[name]


def load_ipython_extension(ipython):
    """`%load_ext diffprog.compat` in IPython / Jupyter."""
    install()
