"""Mechanistic interpretability with forward hooks: record what submodules compute, patch
(replace) their outputs, and activation patching (Meng et al. 2022's causal tracing; Wang et
al. 2023): run a corrupted input with one activation taken from a clean run, and see how much
of the clean behaviour that single activation restores.
"""
import contextlib

import numpy as np

from ..autograd.grad_mode import no_grad
from .features import _layer

__all__ = ["record_activations", "patch_activations", "activation_patching"]


def _first(output):
    """A module's main output (attention modules return (output, weights))."""
    return output[0] if isinstance(output, tuple) else output


def _replace_first(output, new):
    return (new,) + tuple(output[1:]) if isinstance(output, tuple) else new


@contextlib.contextmanager
def record_activations(model, names, detach=True):
    """Inside the block, every call of the submodules `names` (dotted names or modules) stores
    its output in the yielded dict under its name (the last call wins; detached unless
    `detach=False`, e.g. to take gradients with respect to it)."""
    acts, handles = {}, []

    def hook_for(name):
        def hook(module, args, output):
            out = _first(output)
            acts[name] = out.detach() if detach else out
        return hook
    try:
        for name in names:
            handles.append(_layer(model, name).register_forward_hook(hook_for(name)))
        yield acts
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def patch_activations(model, patches):
    """Inside the block, the output of each submodule in `patches` ({name: value}) is replaced:
    by `value` itself when it is a tensor, or by `value(output)` when it is a function."""
    handles = []

    def hook_for(value):
        def hook(module, args, output):
            new = value(_first(output)) if callable(value) else value
            return _replace_first(output, new)
        return hook
    try:
        for name, value in patches.items():
            handles.append(_layer(model, name).register_forward_hook(hook_for(value)))
        yield
    finally:
        for h in handles:
            h.remove()


def activation_patching(model, clean, corrupted, metric, names, positions, seq_dim=1):
    """The metric of `model(corrupted)` with the output of submodule `name` at sequence
    position `pos` (index `pos` along `seq_dim` of that output) copied from `model(clean)`,
    for every name and position.

    Returns a dict: 'patched' (array of shape (len(names), len(positions))), 'clean' and
    'corrupted' (the metric of the unpatched runs) and 'restored', the fraction of the
    clean-corrupted gap that each patch closes: (patched - corrupted) / (clean - corrupted).
    """
    names, positions = list(names), list(positions)
    with no_grad():
        with record_activations(model, names) as acts:
            clean_metric = float(metric(model(clean)))
        corrupted_metric = float(metric(model(corrupted)))
        patched = np.empty((len(names), len(positions)))
        for i, name in enumerate(names):
            source = acts[name]
            for j, pos in enumerate(positions):
                def swap(out, source=source, pos=pos):
                    index = (slice(None),) * (seq_dim % out.ndim) + (pos,)
                    new = out.clone()
                    new[index] = source[index]
                    return new
                with patch_activations(model, {name: swap}):
                    patched[i, j] = float(metric(model(corrupted)))
    gap = clean_metric - corrupted_metric
    restored = (patched - corrupted_metric) / gap if gap != 0 else np.full_like(patched, np.nan)
    return {"patched": patched, "clean": clean_metric, "corrupted": corrupted_metric, "restored": restored}
