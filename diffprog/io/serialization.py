"""`save` and `load`: tensors and nested containers of them, in a file that can't run code.

A checkpoint is a safetensors file (see safetensors_format.py).  Its tensors are named by
their path in the saved object (`model.fc.weight`, `state.0.exp_avg`), so a flat state
dict is an ordinary safetensors state dict.  The container structure is a JSON document in
the file's metadata: JSON numbers, strings, booleans, null and arrays (lists) stand for
themselves; other values are one-key objects such as `{"tuple": [...]}`,
`{"dict": [[key, value], ...]}` or `{"tensor": [name, requires_grad]}`.  Loading only
parses JSON and copies bytes: nothing is unpickled.  (`load` also reads `torch.save`
files, with the allow-listed unpickler of torch_format.py.)

What is kept: dtypes, shapes (0-d and empty included), `requires_grad` (tensors load as
leaves), dict/OrderedDict/list/tuple/Size, None/bool/int/float/str, dtypes, NumPy arrays
and scalars, and whole nn.Modules (rebuilt only from allow-listed classes: objects.py).  A
tensor object saved twice loads as one object; distinct tensors sharing memory (views) load
as separate copies.  Other objects raise TypeError at save time.
"""
import collections
import io
import json
import math
import os

import numpy as np

from .. import dtypes as _dt
from ..tensor import Size, Tensor
from .._array.device import check_device, device, library_of, move
from . import objects, safetensors_format, torch_format
from .atomic import write_atomically

__all__ = ["save", "load"]

STRUCTURE_KEY = "diffprog.structure"


class _Encoder:
    """Turns an object into a JSON-able structure plus named arrays."""

    def __init__(self):
        self.arrays = {}
        self.tensor_names = {}      # id(tensor) -> its array's name, to store it once

    def _name(self, path):
        base = ".".join(map(str, path)) or "tensor"
        name, n = base, 1
        while name in self.arrays or name == "__metadata__":
            name, n = f"{base}#{n}", n + 1
        return name

    def _array(self, a, path):
        name = self._name(path)
        self.arrays[name] = a
        return name

    def encode(self, obj, path=()):
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            if id(obj) not in self.tensor_names:
                self.tensor_names[id(obj)] = self._array(library_of(obj._data).to_host(obj._data), path)
            tag = "parameter" if objects.is_parameter(obj) else "tensor"
            return {tag: [self.tensor_names[id(obj)], obj.requires_grad]}
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._array(obj, path)}
        if isinstance(obj, np.generic):
            return {"numpy_scalar": self._array(np.asarray(obj), path)}
        if isinstance(obj, _dt.DType):
            return {"dtype": obj.name}
        if isinstance(obj, dict):
            tag = "odict" if isinstance(obj, collections.OrderedDict) else "dict"
            return {tag: [[self.encode(k, path), self.encode(v, path + (k,))]
                          for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            items = [self.encode(v, path + (i,)) for i, v in enumerate(obj)]
            if isinstance(obj, list):
                return items
            return {"size" if isinstance(obj, Size) else "tuple": items}
        if objects.encodable(obj):           # an nn.Module, or a function / class it holds
            return objects.encode(self, obj, path)
        where = "".join(f"[{p!r}]" for p in path)
        raise TypeError(f"save: can't store an object of type {type(obj).__name__} (at obj{where}); "
                        "supported: tensors, NumPy arrays, dict, list, tuple, str, int, float, "
                        "bool, None")


_CONTAINERS = {"tuple": tuple, "size": Size, "dict": dict, "odict": collections.OrderedDict}


class _Decoder:
    """Rebuilds what _Encoder.encode produced from the structure and the named arrays."""

    def __init__(self, arrays, filename):
        self.arrays, self.filename = arrays, filename
        self.tensors = {}           # name -> tensor, so a tensor saved once loads once

    def fail(self, reason):
        return safetensors_format.CorruptFileError(f"load: {self.filename} is not a valid "
                                                   f"checkpoint ({reason})")

    def tensor(self, name, requires_grad=False):
        if name not in self.tensors:
            self.tensors[name] = _tensor(self.arrays[name], name, self.filename)
            self.tensors[name].requires_grad_(requires_grad)
        return self.tensors[name]

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(n) for n in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise self.fail(f"unexpected structure node {node!r:.80}")
        (tag, value), = node.items()
        try:
            if tag in _CONTAINERS:
                return _CONTAINERS[tag](self.decode(n) for n in value)
            if tag == "tensor":
                return self.tensor(*value)
            if tag == "parameter":
                name, requires_grad = value
                if not objects.is_parameter(self.tensors.get(name)):
                    self.tensors[name] = objects.parameter(self.tensor(name), requires_grad)
                return self.tensors[name]
            if tag == "module":
                return objects.decode_module(self, value)
            if tag == "global":
                return objects.lookup(value, self.filename)
            if tag == "ndarray":
                return self.arrays[value]
            if tag == "numpy_scalar":
                return self.arrays[value][()]
            if tag == "float":
                return float(value)
            if tag == "dtype":
                return _dt.to_dtype(value)
        except (KeyError, TypeError, ValueError) as e:
            raise self.fail(f"bad {tag!r} node: {e!r}") from None
        raise self.fail(f"unknown structure tag {tag!r}")


def save(obj, f, pickle_module=None, pickle_protocol=None):
    """Save `obj` (a tensor, state dict, or nested containers of them) to `f`, a path or a
    binary file object.  A path is written atomically.  `pickle_module` and
    `pickle_protocol` exist for PyTorch compatibility and are ignored: nothing is pickled."""
    encoder = _Encoder()
    structure = encoder.encode(obj)
    metadata = {STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"), allow_nan=False)}
    if isinstance(f, (str, os.PathLike)):
        write_atomically(os.fspath(f), lambda out: safetensors_format.write(out, encoder.arrays, metadata))
    else:
        safetensors_format.write(f, encoder.arrays, metadata)


def _check_map_location(map_location):
    """Files hold host arrays, so everything loads on the CPU first; then map_location
    moves it: a device, a dict whose "cpu" entry names one, or a callable(tensor, "cpu")."""
    if isinstance(map_location, dict):
        for target in map_location.values():
            check_device(target, "load")
    elif isinstance(map_location, (str, device)):
        check_device(map_location, "load")


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load what `save` wrote (or any safetensors file: a dict of tensors) from a path or a
    binary file object.

    A corrupt or truncated file raises `CorruptFileError` (a RuntimeError) naming the
    file.  Files written by `torch.save` (zip or legacy format) are read by
    `torch_format` with an allow-listed unpickler, whatever `weights_only` says: tensors
    and plain containers only, anything else raises `pickle.UnpicklingError`.  What
    loading guarantees and the limits it applies: docs/security.md."""
    _check_map_location(map_location)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as stream:
            obj = _load_stream(stream, repr(os.fspath(f)), os.fstat(stream.fileno()).st_size)
    else:
        name = repr(getattr(f, "name", "<file object>"))
        if not getattr(f, "seekable", lambda: False)():
            f = io.BytesIO(f.read())      # sizes must be known before anything is allocated
        start = f.tell()
        available = f.seek(0, os.SEEK_END) - start
        f.seek(start)
        obj = _load_stream(f, name, available)
    if isinstance(map_location, dict):
        map_location = map_location.get("cpu")
    if callable(map_location):
        return _apply_map_location(obj, map_location)
    if map_location is not None and device(map_location).type != "cpu":
        return _apply_map_location(obj, lambda t, _: _moved(t, map_location))
    return obj


def _moved(t, target):
    t._data = move(t._data, target)         # a tensor just loaded: no one else holds it
    return t


def _tensor(a, name, filename):
    if a.dtype not in _dt._FROM_NP:
        raise TypeError(f"load: tensor {name!r} in {filename} has dtype {a.dtype}, which diffprog "
                        "does not support")
    return Tensor._make(a)


def _load_stream(f, filename, available):
    """Load from the seekable stream f, of which `available` bytes are left: a torch.save
    zip, a safetensors file, or else a torch.save legacy file (a pickle)."""
    start = f.tell()
    head = safetensors_format.read_exact(f, 8)
    if head.startswith(b"PK\x03\x04"):
        f.seek(start)
        return torch_format.load_stream(f, filename, available)
    try:
        arrays, metadata = safetensors_format.read(f, filename, head, available)
    except safetensors_format.NotSafetensorsError:
        f.seek(start)
        return torch_format.load_stream(f, filename, available)
    if STRUCTURE_KEY not in metadata:       # a safetensors file from elsewhere: a dict of tensors
        return {name: _tensor(a, name, filename) for name, a in arrays.items()}
    decoder = _Decoder(arrays, filename)
    try:
        return decoder.decode(json.loads(metadata[STRUCTURE_KEY]))
    except (ValueError, RecursionError):
        raise decoder.fail("its structure document is not valid JSON, or nested too deeply") from None


def _apply_map_location(obj, fn):
    if isinstance(obj, Tensor):
        return fn(obj, "cpu")
    if isinstance(obj, dict):
        return type(obj)((k, _apply_map_location(v, fn)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not isinstance(obj, Size):
        return type(obj)(_apply_map_location(v, fn) for v in obj)
    return obj


def load_torch(f, map_location=None):
    """Load a file written by `torch.save` (zip or legacy format) from a path or a binary
    file object, without torch and without running pickled code: only tensors,
    parameters, dtypes, Size and plain containers (dict, OrderedDict, list, tuple, set,
    numbers, strings) are allowed; anything else raises `pickle.UnpicklingError`.
    `map_location` is handled as by `diffprog.load` (everything is on the CPU)."""
    return load(f, map_location=map_location)
