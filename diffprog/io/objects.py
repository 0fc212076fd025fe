"""Whole modules in a checkpoint (`torch.save(model, f)`), kept safe to load.

A module is stored as its class's name, its plain attributes, and its parameters, buffers
and submodules; functions it holds (an activation) by name. Loading rebuilds it without
running any of its code: `cls.__new__`, a fresh `Module` core, then the stored state.
Only allow-listed classes and functions are rebuilt, PyTorch's `weights_only` rule:
diffprog's own, and those passed to `add_safe_globals` or `safe_globals` (a user's model
class, as the official examples do). Anything else fails, naming the class to allow.
"""
import collections
import importlib
import pickle
import types

from ..nn import Module, Parameter

__all__ = ["add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals"]

_SAFE = {}           # "module.qualname" -> the object


def _name(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


def add_safe_globals(safe_globals):
    """Allow these classes / functions (or (object, "module.name") pairs) in loaded files."""
    for g in safe_globals:
        obj, name = g if isinstance(g, tuple) else (g, _name(g))
        _SAFE[name] = obj


def get_safe_globals():
    return list(_SAFE.values())


def clear_safe_globals():
    _SAFE.clear()


class safe_globals:
    """Within `with safe_globals([...])`, these objects are allowed too."""

    def __init__(self, safe_globals):
        self.globals = list(safe_globals)

    def __enter__(self):
        self._before = dict(_SAFE)
        add_safe_globals(self.globals)

    def __exit__(self, *exc):
        _SAFE.clear()
        _SAFE.update(self._before)


def _modules():
    return Module, Parameter


def encodable(obj):
    Module, _ = _modules()
    return isinstance(obj, Module) or (
        isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type))
        and "<" not in obj.__qualname__)


def is_parameter(t):
    return isinstance(t, _modules()[1])


def parameter(t, requires_grad):
    return _modules()[1](t, requires_grad)


def encode(encoder, obj, path):
    Module, _ = _modules()
    if not isinstance(obj, Module):
        return {"global": _name(obj)}
    fields = {k: v for k, v in obj.__dict__.items() if k not in _CORE}
    return {"module": [_name(type(obj)),
                       encoder.encode(fields, path),
                       encoder.encode(collections.OrderedDict(obj._parameters), path),
                       encoder.encode(collections.OrderedDict(obj._buffers), path),
                       encoder.encode(collections.OrderedDict(obj._modules), path),
                       sorted(obj._non_persistent_buffers_set)]}


def lookup(name, filename):
    """The allowed object `name` (a diffprog one, or one given to add_safe_globals)."""
    if name in _SAFE:
        return _SAFE[name]
    module, _, attr = name.rpartition(".")
    if module == "diffprog" or module.startswith("diffprog."):
        try:
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            obj = None
        # Only a class or function defined under that name: not a module, nor what a diffprog
        # module imported (`diffprog.x.os`, `diffprog.x.system`).
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)) and _name(obj) == name:
            return obj
    short = attr.rsplit(".", 1)[-1]
    raise pickle.UnpicklingError(
        f"load: {filename} holds {name}, which is not an allowed global: loading never runs code "
        f"from a file, so classes and functions other than diffprog's must be allowed first, with "
        f"torch.serialization.add_safe_globals([{short}]) or inside "
        f"`with torch.serialization.safe_globals([{short}]):`")


def decode_module(decoder, value):
    name, fields, params, buffers, children, non_persistent = value
    Module, Parameter = _modules()
    cls = lookup(name, decoder.filename)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise pickle.UnpicklingError(f"load: {name} in {decoder.filename} is not a Module class")
    obj = cls.__new__(cls)
    Module.__init__(obj)
    obj.__dict__.update(decoder.decode(fields))
    for k, p in decoder.decode(params).items():
        obj._parameters[k] = p
    obj._buffers.update(decoder.decode(buffers))
    obj._modules.update(decoder.decode(children))
    obj._non_persistent_buffers_set.update(non_persistent)
    return obj


def _core_names():
    probe = object.__new__(Module)
    Module.__init__(probe)
    return set(probe.__dict__) - {"training"}


class _Core:
    """The attribute names `Module.__init__` makes (computed once, on first use)."""

    names = None

    def __contains__(self, key):
        if _Core.names is None:
            _Core.names = _core_names()
        return key in _Core.names


_CORE = _Core()
