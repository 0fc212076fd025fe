"""Reading files written by `torch.save`, without torch and without running pickled code.

`torch.save` pickles the object; each tensor pickles as a call to
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`,
and each storage as a *persistent id* `("storage", torch.FloatStorage, key, location,
numel[, view])` whose bytes live outside the pickle:

* zip format (default since torch 1.6): a zip with `<prefix>/data.pkl`, the storages as
  `<prefix>/data/<key>` (raw bytes) and `<prefix>/byteorder` ("little" or "big");
* legacy format (`_use_new_zipfile_serialization=False`): pickles of the magic number,
  the protocol version (1001) and a sys_info dict, then the object's pickle, then a
  pickle of the sorted storage keys, then per key an 8-byte element count and the raw
  bytes.

The unpickler's `find_class` only hands out what state dicts and optimizer states need
(OrderedDict, the tensor/parameter rebuild functions, storage types, dtypes, Size),
each mapped to our own small function; any other global raises `pickle.UnpicklingError`
naming it, like torch's `weights_only=True`.  Tensors load as diffprog tensors that own
their data (views of one storage become separate copies); Parameters load as
`nn.Parameter`; bfloat16 loads as float32 (diffprog has no bfloat16).
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from .. import dtypes as _dt
from ..tensor import Size, Tensor
from .safetensors_format import CorruptFileError

__all__ = ["load_torch"]

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
_BFLOAT16 = "bfloat16"          # stored as uint16 bits, widened to float32 on load

_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
             "BFloat16Storage": _BFLOAT16, "LongStorage": np.int64, "IntStorage": np.int32,
             "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
             "BoolStorage": np.bool_, "ComplexFloatStorage": np.complex64,
             "ComplexDoubleStorage": np.complex128, "UntypedStorage": np.uint8}


class _StorageType:
    """What an allowed `torch.<X>Storage` global unpickles to: just its element dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def raw_dtype(self):
        return np.dtype(np.uint16 if self.dtype is _BFLOAT16 else self.dtype)


class _Storage:
    """A storage's elements: a 1-d array in the file's dtype (bfloat16 as uint16 bits)."""

    def __init__(self, array, dtype):
        self.array, self.dtype = array, dtype


class _TensorType:
    """Stands for `torch.Tensor` / `torch.nn.Parameter` in `_rebuild_from_type_v2`."""

    def __init__(self, parameter):
        self.parameter = parameter


def _array(storage, offset, size, stride):
    """The tensor's elements as an owned, native-order array (bounds checked first:
    `as_strided` must never read outside the storage)."""
    a = storage.array
    try:
        offset, size, stride = int(offset), tuple(map(int, size)), tuple(map(int, stride))
    except (TypeError, ValueError):
        raise CorruptFileError(f"load_torch: bad tensor layout {offset!r:.40} {size!r:.40} {stride!r:.40}") from None
    if len(size) != len(stride) or offset < 0 or any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise CorruptFileError(f"load_torch: bad tensor layout offset={offset} size={size} stride={stride}")
    if 0 in size:
        out = np.empty(size, a.dtype)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= a.size:
            raise CorruptFileError(f"load_torch: tensor of size {size}, stride {stride}, offset {offset} "
                                   f"reaches past its storage of {a.size} elements")
        out = np.lib.stride_tricks.as_strided(a[offset:], size, [s * a.itemsize for s in stride])
        out = np.array(out, dtype=a.dtype.newbyteorder("="))
    if storage.dtype is _BFLOAT16:
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, *unused):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"load_torch: expected a storage, got {type(storage).__name__}")
    t = Tensor._make(_array(storage, storage_offset, size, stride))
    return t.requires_grad_(bool(requires_grad)) if t.dtype.is_floating_point or t.dtype.is_complex else t


def _rebuild_parameter(data, requires_grad=True, *unused):
    from ..nn.parameter import Parameter         # nn imports io: import it when needed
    return Parameter(data, bool(requires_grad))


def _rebuild_from_type_v2(func, new_type, args, state=None):
    if not isinstance(new_type, _TensorType) or func not in _REBUILDERS:
        raise pickle.UnpicklingError(f"load_torch: unsupported tensor type {new_type!r:.60}")
    t = func(*args)
    return _rebuild_parameter(t, t.requires_grad) if new_type.parameter else t


def _size(*args):
    return Size(*args)


_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _TensorType(False),
    ("torch._tensor", "Tensor"): _TensorType(False),
    ("torch.nn.parameter", "Parameter"): _TensorType(True),
    ("torch", "Size"): _size,
    **{("torch", name): _StorageType(t) for name, t in _STORAGES.items()},
    ("torch.storage", "UntypedStorage"): _StorageType(np.uint8),
    **{("torch", d.name): d for d in _dt.ALL if d is not _dt.bool_},
    ("torch", "bool"): _dt.bool_,
}


_REBUILDERS = (_rebuild_tensor, _rebuild_parameter, _rebuild_from_type_v2)


def _ignore(*args):
    return None


class _Unpickler(pickle.Unpickler):
    """Allows only the globals in _GLOBALS; resolves storage ids with `storage(...)`."""

    def __init__(self, f, storage=None, dry_run=False):
        super().__init__(f)
        self.storage, self.dry_run = storage, dry_run

    def find_class(self, module, name):
        try:
            found = _GLOBALS[module, name]
            return _ignore if self.dry_run and callable(found) and found in _REBUILDERS else found
        except KeyError:
            raise pickle.UnpicklingError(
                f"load_torch: refusing to unpickle the global {module}.{name}: only tensors, "
                "storages, dtypes and plain containers are allowed (as torch.load with "
                "weights_only=True)") from None

    def persistent_load(self, pid):
        if (self.storage is None or not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"load_torch: unsupported persistent id {pid!r:.100}")
        _, storage_type, key, _location, numel, *view = pid
        return self.storage(storage_type, str(key), int(numel), view[0] if view else None)


def _load_zip(data, filename):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        pickles = [n for n in z.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CorruptFileError(f"load_torch: {filename} is a zip without exactly one <name>/data.pkl")
        prefix = pickles[0][:-len("data.pkl")]
        byteorder = "<"
        if prefix + "byteorder" in z.namelist():
            byteorder = {b"little": "<", b"big": ">"}.get(z.read(prefix + "byteorder").strip())
            if byteorder is None:
                raise CorruptFileError(f"load_torch: {filename} has an unknown byteorder")
        storages = {}

        def storage(storage_type, key, numel, view):
            if key not in storages:
                dtype = storage_type.raw_dtype().newbyteorder(byteorder)
                try:
                    raw = z.read(f"{prefix}data/{key}")
                except KeyError:
                    raise CorruptFileError(f"load_torch: {filename} lacks the storage data/{key}") from None
                if len(raw) < numel * dtype.itemsize:
                    raise CorruptFileError(f"load_torch: storage data/{key} in {filename} is truncated")
                storages[key] = _Storage(np.frombuffer(raw, dtype, numel), storage_type.dtype)
            return storages[key]

        return _Unpickler(io.BytesIO(z.read(pickles[0])), storage).load()


def _load_legacy(data, filename):
    f = io.BytesIO(data)
    if _Unpickler(f).load() != _MAGIC:
        raise CorruptFileError(f"load_torch: {filename} is not a torch.save file (bad magic number)")
    if _Unpickler(f).load() != _PROTOCOL_VERSION:
        raise CorruptFileError(f"load_torch: {filename} has an unsupported torch.save protocol version")
    sys_info = _Unpickler(f).load()
    little = not isinstance(sys_info, dict) or sys_info.get("little_endian", True)
    byteorder = "<" if little else ">"
    # The storages' bytes come after the object's pickle: a dry run (tensors not built)
    # learns each storage's type and where the pickle ends.
    start = f.tell()
    types, views = {}, {}

    def record(storage_type, key, numel, view):
        types.setdefault(key, storage_type)
        if view is not None:
            views[view[0]] = (key, view[1], view[2])

    _Unpickler(f, record, dry_run=True).load()
    keys = _Unpickler(f).load()
    if not isinstance(keys, list):
        raise CorruptFileError(f"load_torch: {filename} has no storage key list")
    storages = {}
    for key in map(str, keys):
        if key not in types:
            raise CorruptFileError(f"load_torch: {filename} stores an unreferenced storage {key}")
        dtype = types[key].raw_dtype().newbyteorder(byteorder)
        head = f.read(8)
        count = struct.unpack(byteorder + "q", head)[0] if len(head) == 8 else -1
        raw = f.read(max(count, 0) * dtype.itemsize)
        if count < 0 or len(raw) != count * dtype.itemsize:
            raise CorruptFileError(f"load_torch: {filename} is truncated (storage {key})")
        storages[key] = _Storage(np.frombuffer(raw, dtype), types[key].dtype)
    for view_key, (key, offset, size) in views.items():      # old torch's storage views
        root = storages[key]
        storages[view_key] = _Storage(root.array[offset:offset + size], root.dtype)

    def storage(storage_type, key, numel, view):
        key = view[0] if view is not None else key
        if key not in storages:
            raise CorruptFileError(f"load_torch: {filename} lacks the storage {key}")
        return storages[key]

    f.seek(start)
    return _Unpickler(f, storage).load()


def load_stream(f, filename, head=b""):
    """Load a torch.save file from the binary stream `f`, of which `head` was already read."""
    data = head + f.read()
    try:
        if data.startswith(b"PK\x03\x04"):
            return _load_zip(data, filename)
        return _load_legacy(data, filename)
    except (EOFError, zipfile.BadZipFile, struct.error) as e:
        raise CorruptFileError(f"load_torch: {filename} is not a complete torch.save file ({e})") from None


def load_torch(f, map_location=None):
    """Load a file written by `torch.save` (zip or legacy format) from a path or a binary
    file object, without torch and without running pickled code: only tensors,
    parameters, dtypes, Size and plain containers (dict, OrderedDict, list, tuple, set,
    numbers, strings) are allowed; anything else raises `pickle.UnpicklingError`.
    `map_location` is handled as by `diffprog.load` (everything is on the CPU)."""
    from .serialization import load
    return load(f, map_location=map_location)
