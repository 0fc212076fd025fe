"""Calling a module with other parameters: `functional_call`, `stack_module_state`.

`functional_call(model, params, x)` runs `model(x)` with the tensors in `params` standing
in for the module's parameters and buffers of the same (dotted) names, as torch.func does.
The tensors are swapped into the module's registries for the duration of the call, not
copied into the parameters, so they may be any tensors: non-leaf results of an inner
optimisation step (MAML), aliases a transform differentiates, batched tensors under vmap.
Whatever happens in forward, the module has its own tensors back afterwards.

This module duck-types `nn.Module` (it sits below nn/ in the layers): it needs
`named_parameters`, `named_buffers`, `get_submodule`, `_parameters` and `_buffers`.
"""
import contextlib

from ..ops.shape import stack
from ..tensor import Tensor

__all__ = ["functional_call", "stack_module_state", "replace_all_batch_norm_modules_"]

_MISSING = object()          # a name the module did not have before the swap


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """`module(*args, **kwargs)` with the given tensors in place of the module's
    parameters and buffers (torch.func.functional_call).

    Args:
        module: the nn.Module to call.
        parameter_and_buffer_dicts: a dict from dotted names (`"0.weight"`,
            `"encoder.bn.running_mean"`) to tensors, or a tuple/list of such dicts with
            disjoint keys.  Names not given keep the module's own tensors.
        args: the positional arguments (a tuple; anything else is one argument).
        kwargs: the keyword arguments.
        tie_weights: parameters and buffers that the module shares under several names
            (tied weights) stay shared: a value given for one name is used for all of
            them (and giving two different values raises).  With False, only the names
            given are replaced.
        strict: every parameter and buffer must be given, and nothing else.

    Returns whatever the module returns.  A buffer that forward updates in place (batch
    norm's running statistics in training mode) is updated in the tensor you passed; a
    module attribute that forward reassigns is written back into the dict (a single
    dict only), as in PyTorch.
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        tensors = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (tuple, list)):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("functional_call: Expected all elements of parameter_and_buffer_dicts "
                             "to be dictionaries")
        seen, repeated = set(), []
        for d in parameter_and_buffer_dicts:
            repeated += [k for k in d if k in seen and k not in repeated]
            seen.update(d)
        if repeated:
            raise ValueError(f"functional_call: {repeated} appeared in multiple dictionaries; "
                             f"behavior of functional call is ambiguous")
        tensors = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError(f"functional_call: Expected parameter_and_buffer_dicts to be a dict, or a "
                         f"list/tuple of dicts, but got {type(parameter_and_buffer_dicts).__name__}")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, tensors, tie_weights, strict):
        return module(*args, **(kwargs or {}))


@contextlib.contextmanager
def _swapped(module, tensors, tie_weights, strict):
    """Put `tensors` (dotted name -> tensor) into the module; restore the module's own on
    exit, writing back into `tensors` what forward reassigned."""
    if strict:
        _check_keys(module, tensors)
    given = _untie(module, tensors) if tie_weights else tensors
    originals = {}
    try:
        for name, value in given.items():
            originals[name] = _swap(module, name, value)
        yield
    finally:
        current = {name: _swap(module, name, value) for name, value in originals.items()}
        tensors.update({k: current[k] for k in tensors if k in current})


def _swap(module, name, value):
    """Set module's tensor `name` (dotted) to value; return what was there (_MISSING if
    nothing, value _MISSING deletes)."""
    prefix, _, attr = name.rpartition(".")
    owner = module.get_submodule(prefix)
    if value is not _MISSING and value is not None and not isinstance(value, Tensor):
        raise TypeError(f"functional_call: the value for '{name}' should be a Tensor, "
                        f"got {type(value).__name__}")
    for registry in (owner._parameters, owner._buffers):
        if attr in registry:
            old = registry[attr]
            if value is _MISSING:
                del registry[attr]
            else:
                registry[attr] = value
            return old
    old = getattr(owner, attr, _MISSING)
    if old is not _MISSING and old is not None and not isinstance(old, Tensor):
        raise TypeError(f"functional_call: attribute '{name}' of {type(module).__name__} is a "
                        f"{type(old).__name__}, not a Tensor, and cannot be replaced")
    if value is not _MISSING:
        setattr(owner, attr, value)
    elif old is not _MISSING:
        delattr(owner, attr)
    return old


def _named_tensors(module):
    """Every parameter and buffer name, tied ones included, with its tensor."""
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _check_keys(module, tensors):
    valid = set(_named_tensors(module))
    missing, unexpected = sorted(valid - set(tensors)), sorted(set(tensors) - valid)
    errors = []
    if unexpected:
        errors.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
    if missing:
        errors.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
    if errors:
        raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(
            type(module).__name__, "\n\t".join(errors)))


def _untie(module, tensors):
    """`tensors` extended to every name tied to a given one (one shared tensor in the
    module, several names); two different values for one tied tensor are an error."""
    names_of = {}
    for name, t in _named_tensors(module).items():
        names_of.setdefault(id(t), []).append(name)
    untied = dict(tensors)
    for names in names_of.values():
        given = [n for n in names if n in tensors]
        if len(names) < 2 or not given:
            continue
        if len({id(tensors[n]) for n in given}) > 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, which "
                             f"are tied. Consider using tie_weights=False")
        for n in names:
            untied[n] = tensors[given[0]]
    return untied


def stack_module_state(models):
    """(params, buffers): each model's parameters and buffers stacked along a new dim 0,
    by name, for an ensemble run as `vmap(functional_call)` (torch.func.stack_module_state).

    The stacked parameters are new leaves that require grad (when the models' do); the
    stacked buffers do not.  The models must be of one class, in one mode (train/eval), with
    the same parameter and buffer names and shapes.
    """
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if len({type(m) for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = _stack([dict(m.named_parameters()) for m in models], "parameters")
    buffers = _stack([dict(m.named_buffers()) for m in models], "buffers")
    return params, buffers


def _stack(dicts, kind):
    first = dicts[0]
    for i, d in enumerate(dicts[1:], 1):
        if list(d) != list(first):
            raise RuntimeError(f"stack_module_state: Expected all models to have the same {kind}; "
                               f"model 0 has {list(first)}, model {i} has {list(d)}")
        for name, t in d.items():
            if t.shape != first[name].shape or t.dtype != first[name].dtype:
                raise RuntimeError(f"stack_module_state: {kind[:-1]} '{name}' is {tuple(t.shape)} "
                                   f"{t.dtype} in model {i} but {tuple(first[name].shape)} "
                                   f"{first[name].dtype} in model 0")
    stacked = {}
    for name in first:
        leaves = [d[name] for d in dicts]
        flags = {t.requires_grad for t in leaves}
        if len(flags) > 1:
            raise RuntimeError(f"stack_module_state: Expected {name} from each model to have the "
                               f"same .requires_grad")
        t = stack([x.detach() for x in leaves])
        stacked[name] = t.requires_grad_() if flags == {True} else t
    return stacked


def replace_all_batch_norm_modules_(root):
    """Switch off running statistics in every batch norm of `root`, in place (running_mean,
    running_var and num_batches_tracked become None, track_running_stats False), so that
    they always normalise by the batch statistics: what a model run under vmap needs
    (torch.func.replace_all_batch_norm_modules_).  Returns root.

    Modules are recognised by their running-statistics buffers, so instance norms that
    track running statistics are switched too (torch leaves those alone)."""
    for m in root.modules():
        if getattr(m, "track_running_stats", False) and "running_mean" in m._buffers:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                m._buffers[name] = None
            m.track_running_stats = False
    return root
