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

The pickles are read by `unpickler.Unpickler`, which runs no pickled code: it hands out only
what state dicts and optimizer states need (OrderedDict, the tensor/parameter rebuild
functions, storage types, dtypes, Size), each mapped to our own small function; any other
global raises `pickle.UnpicklingError` naming it, like torch's `weights_only=True`.  BUILD
(setting an object's state) is allowed only on OrderedDicts (a state dict's `_metadata`)
and tensors (whose Python attributes are dropped).

Tensors load as in PyTorch: views of their storage, so tensors saved as views of one
storage share memory again, and an expanded (stride-0) tensor stays one element per
distinct value (read-only, as `expand`'s results are).  Parameters load as
`nn.Parameter`; bfloat16 loads as float32 (diffprog has no bfloat16).  A storage is read
into memory only after its size was checked against the file; compressed zip members
(torch.save never compresses) may expand at most `MAX_EXPANSION` times.
"""
import collections
import errno
import io
import operator
import pickle
import struct
import zipfile
import zlib

import numpy as np

from .. import dtypes as _dt
from ..nn.parameter import Parameter
from ..tensor import Size, Tensor
from .safetensors_format import CorruptFileError, read_into, widen_bfloat16
from .unpickler import Unpickler, brief


_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
_BFLOAT16 = "bfloat16"          # stored as uint16 bits, widened to float32 on load
MAX_EXPANSION = 64              # compressed members: at most this times the file's size, in total
_EXPANSION_FLOOR = 16 * 2**20   # ... or this many bytes, for small files

_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
             "BFloat16Storage": _BFLOAT16, "LongStorage": np.int64, "IntStorage": np.int32,
             "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
             "BoolStorage": np.bool_, "ComplexFloatStorage": np.complex64,
             "ComplexDoubleStorage": np.complex128, "UntypedStorage": np.uint8}


class _StorageType(collections.namedtuple("_StorageType", "dtype")):
    """What an allowed `torch.<X>Storage` global unpickles to: its element dtype (a tuple,
    so that nothing in a file can change it)."""

    __slots__ = ()

    def raw_dtype(self):
        return np.dtype(np.uint16 if self.dtype is _BFLOAT16 else self.dtype)


class _TensorType(collections.namedtuple("_TensorType", "parameter")):
    """Stands for `torch.Tensor` / `torch.nn.Parameter` in `_rebuild_from_type_v2`."""

    __slots__ = ()


class _Storage:
    """A storage's elements: a 1-d native-order array (bfloat16 widened to float32)."""

    def __init__(self, array):
        self.array = array


def _typed(raw, storage_type, byteorder):
    """The storage of raw bytes (a uint8 array) as elements of storage_type: a view of
    them where the byte order is native, a copy otherwise (and for bfloat16)."""
    dtype = storage_type.raw_dtype().newbyteorder(byteorder)
    a = raw[:len(raw) - len(raw) % dtype.itemsize].view(dtype)
    if not dtype.isnative:
        a = a.astype(dtype.newbyteorder("="))
    return _Storage(widen_bfloat16(a) if storage_type.dtype is _BFLOAT16 else a)


def _ints(values, what):
    try:
        return tuple(map(operator.index, values))
    except TypeError:
        raise CorruptFileError(f"load_torch: bad tensor {what} {brief(values)}") from None


def _overlapping(size, stride):
    """Whether two positions of the layout share an element (an expanded tensor)."""
    reach = 0                 # the furthest element reached by the dimensions seen so far
    for s, n in sorted((s, n) for n, s in zip(size, stride) if n > 1):
        if s <= reach:
            return True
        reach += (n - 1) * s
    return False


def _array(storage, offset, size, stride):
    """The tensor's elements: a view of its storage (bounds checked first: the view must
    never reach outside the storage)."""
    a = storage.array
    offset, = _ints((offset,), "offset")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride) or offset < 0 or any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise CorruptFileError(f"load_torch: bad tensor layout offset={offset} size={size} stride={stride}")
    try:
        if 0 in size:
            return np.empty(size, a.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= a.size:
            raise CorruptFileError(f"load_torch: tensor of size {size}, stride {stride}, offset {offset} "
                                   f"reaches past its storage of {a.size} elements")
        return np.lib.stride_tricks.as_strided(a[offset:], size, [s * a.itemsize for s in stride],
                                               writeable=not _overlapping(size, stride))
    except ValueError as e:          # more dimensions or elements than NumPy can index
        raise CorruptFileError(f"load_torch: impossible tensor layout size={size} stride={stride} ({e})") from None


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, *unused):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"load_torch: expected a storage, got {type(storage).__name__}")
    t = Tensor._make(_array(storage, storage_offset, size, stride))
    return t.requires_grad_(requires_grad is True) if t.dtype.is_floating_point or t.dtype.is_complex else t


def _rebuild_parameter(data, requires_grad=True, *unused):
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError(f"load_torch: a parameter of {type(data).__name__}, not a tensor")
    return Parameter(data, requires_grad is True)


def _rebuild_from_type_v2(func, new_type, args, state=None):
    if not isinstance(new_type, _TensorType) or not any(func is f for f in _REBUILDERS) \
            or type(args) is not tuple:
        raise pickle.UnpicklingError(f"load_torch: unsupported tensor type {brief(new_type)}")
    t = func(*args)
    return _rebuild_parameter(t, t.requires_grad) if new_type.parameter else t


def _size(dims=()):
    return Size(_ints(dims, "size"))


def _build(obj, state):
    """BUILD: what PyTorch's weights-only unpickler allows, minus code: a state dict's
    attributes (`_metadata`) on an OrderedDict; a tensor's Python attributes, dropped.
    (obj is None for a tensor that a dry run did not build.)"""
    if type(obj) is collections.OrderedDict and type(state) is dict and all(
            type(k) is str and not hasattr(collections.OrderedDict, k) for k in state):
        obj.__dict__.update(state)
    elif not ((obj is None or isinstance(obj, Tensor)) and type(state) is dict):
        raise pickle.UnpicklingError(
            f"load_torch: refusing BUILD on {brief(obj)} with a "
            f"{type(state).__name__} state: only tensors, parameters and OrderedDicts take state")


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


# A dry run (legacy format) learns the storages' types without building tensors.
_DRY_GLOBALS = {k: _ignore if any(v is f for f in _REBUILDERS) else v for k, v in _GLOBALS.items()}


def _unpickle(f, size, storage=None, dry_run=False):
    """The next pickle in f; `storage(storage_type, key, numel, view)` resolves storage ids."""
    allowed = _DRY_GLOBALS if dry_run else _GLOBALS
    callables = [v for v in allowed.values() if callable(v)]

    def persistent_load(pid):
        if (storage is None or type(pid) is not tuple or len(pid) < 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"load_torch: unsupported persistent id {brief(pid)}")
        _, storage_type, key, _location, numel, *view = pid
        numel, = _ints((numel,), "storage size")
        return storage(storage_type, str(key), numel, view[0] if view else None)

    return Unpickler(f, size, allowed, callables, _build, persistent_load, "load_torch").load()


class _Budget:
    """What compressed members may still expand to (the file's own bytes bound the rest)."""

    def __init__(self, file_size):
        self.left = max(MAX_EXPANSION * file_size, _EXPANSION_FLOOR)

    def take(self, n, filename, name):
        if n > self.left:
            raise CorruptFileError(
                f"load_torch: {filename} is a zip whose compressed member {name} would expand past "
                f"{MAX_EXPANSION} times the file's size; torch.save never compresses: save it again "
                "with torch.save or diffprog.save")
        self.left -= n


def _member(z, name, filename, file_size, budget):
    """A zip member's bytes as a uint8 array, read in a stream after its declared sizes were
    checked against the file (zipfile checks the CRC at the end)."""
    try:
        info = z.getinfo(name)
    except KeyError:
        raise CorruptFileError(f"load_torch: {filename} lacks the member {name}") from None
    stored = info.compress_type == zipfile.ZIP_STORED
    if info.flag_bits & 0x1:
        raise CorruptFileError(f"load_torch: {filename}: member {name} is encrypted")
    if info.compress_size > file_size or (stored and info.file_size != info.compress_size):
        raise CorruptFileError(f"load_torch: {filename}: the sizes of member {name} do not fit the file")
    if not stored:
        budget.take(info.file_size, filename, name)
    out = np.empty(info.file_size, np.uint8)
    with z.open(info) as stream:
        if read_into(stream, out) != info.file_size:
            raise CorruptFileError(f"load_torch: {filename}: member {name} is truncated")
    return out


def _load_zip(f, filename, file_size):
    with zipfile.ZipFile(f) as z:
        pickles = [n for n in z.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise CorruptFileError(f"load_torch: {filename} is a zip without exactly one <name>/data.pkl")
        prefix = pickles[0][:-len("data.pkl")]
        budget = _Budget(file_size)
        byteorder = "<"
        if prefix + "byteorder" in z.namelist():
            order = _member(z, prefix + "byteorder", filename, file_size, budget).tobytes().strip()
            byteorder = {b"little": "<", b"big": ">"}.get(order)
            if byteorder is None:
                raise CorruptFileError(f"load_torch: {filename} has an unknown byteorder")
        raws, storages = {}, {}

        def storage(storage_type, key, numel, view):
            if (key, storage_type) not in storages:
                if key not in raws:
                    raws[key] = _member(z, f"{prefix}data/{key}", filename, file_size, budget)
                if len(raws[key]) < numel * storage_type.raw_dtype().itemsize:
                    raise CorruptFileError(f"load_torch: storage data/{key} in {filename} is truncated")
                storages[key, storage_type] = _typed(raws[key], storage_type, byteorder)
            return storages[key, storage_type]

        data = _member(z, pickles[0], filename, file_size, budget).tobytes()
        return _unpickle(io.BytesIO(data), len(data), storage)


def _load_legacy(f, filename, end):
    start = f.tell()
    try:
        magic = _unpickle(f, end - start)
    except CorruptFileError:
        f.seek(start)
        raise CorruptFileError(f"load: {filename} is not a checkpoint: neither a safetensors file (its "
                               "first 8 bytes are no plausible header length) nor a torch.save file; "
                               f"it begins with {_describe(f.read(16))}") from None
    if type(magic) is not int or magic != _MAGIC:
        raise CorruptFileError(f"load_torch: {filename} is a pickle but not a torch.save file (bad magic number)")
    if _unpickle(f, end - f.tell()) != _PROTOCOL_VERSION:
        raise CorruptFileError(f"load_torch: {filename} has an unsupported torch.save protocol version")
    sys_info = _unpickle(f, end - f.tell())
    little = type(sys_info) is not dict or sys_info.get("little_endian", True) is not False
    byteorder = "<" if little else ">"
    # The storages' bytes come after the object's pickle: a dry run (tensors not built)
    # learns each storage's type and where the pickle ends.
    start = f.tell()
    types, views = {}, {}

    def record(storage_type, key, numel, view):
        types.setdefault(key, storage_type)
        if view is not None:
            views[str(view[0])] = (key, *_ints(view[1:3], "storage view"))

    _unpickle(f, end - start, record, dry_run=True)
    keys = _unpickle(f, end - f.tell())
    if type(keys) is not list:
        raise CorruptFileError(f"load_torch: {filename} has no storage key list")
    storages = {}
    for key in map(str, keys):
        if key not in types:
            raise CorruptFileError(f"load_torch: {filename} stores an unreferenced storage {key}")
        head = f.read(8)
        count = struct.unpack(byteorder + "q", head)[0] if len(head) == 8 else -1
        nbytes = count * types[key].raw_dtype().itemsize
        raw = np.empty(nbytes, np.uint8) if 0 <= nbytes <= end - f.tell() else None
        if raw is None or read_into(f, raw) != nbytes:
            raise CorruptFileError(f"load_torch: {filename} is truncated (storage {key})")
        storages[key] = raw
    for view_key, (key, offset, size) in views.items():      # old torch's storage views
        itemsize = types[key].raw_dtype().itemsize
        if key not in storages or offset < 0 or size < 0:
            raise CorruptFileError(f"load_torch: {filename} has a bad storage view {view_key}")
        storages[view_key] = storages[key][offset * itemsize:(offset + size) * itemsize]
    typed = {}

    def storage(storage_type, key, numel, view):
        key = str(view[0]) if view is not None else key
        if key not in storages:
            raise CorruptFileError(f"load_torch: {filename} lacks the storage {key}")
        if (key, storage_type) not in typed:
            typed[key, storage_type] = _typed(storages[key], storage_type, byteorder)
        return typed[key, storage_type]

    f.seek(start)
    return _unpickle(f, end - start, storage)


def _describe(head):
    """The first bytes of a file, as text when they read as text."""
    try:
        text = head.decode("utf-8")
        if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
            return f"text {text!r}"
    except UnicodeDecodeError:
        pass
    return repr(head)


# How zipfile and its decompressors meet a damaged zip (besides some OSErrors).
_DAMAGED_ZIP = (EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, struct.error,
                ValueError, OverflowError, zlib.error)
try:
    import lzma
    _DAMAGED_ZIP += (lzma.LZMAError,)
except ImportError:
    pass


def load_stream(f, filename, size):
    """Load a torch.save file from the seekable binary stream `f` (zip or legacy format),
    of which `size` bytes are left."""
    start = f.tell()
    is_zip = f.read(4) == b"PK\x03\x04"
    f.seek(start)
    try:
        if is_zip:
            return _load_zip(f, filename, size)
        return _load_legacy(f, filename, start + size)
    except OSError as e:        # errno EINVAL: a seek to an offset < 0; None: bad bzip2 data
        if e.errno not in (errno.EINVAL, None):
            raise
        error = e
    except _DAMAGED_ZIP as e:
        error = e
    raise CorruptFileError(f"load_torch: {filename} is not a complete torch.save file ({error})")
