"""Writing torch.save files by hand, without torch: a small pickle assembler for the
hostile and damaged files of test_io_security.py and test_io_fuzz.py.

Each function returns pickle opcodes (bytes); `legacy_file` and `zip_file` wrap an object's
pickle and its storages' bytes in torch.save's two layouts."""
import io
import pickle
import struct
import zipfile

MAGIC = 0x1950A86A20F9469CFC6C
PROTO = b"\x80\x02"


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def string(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def integer(n):
    if -2**31 <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw          # LONG1


def tup(*items):
    return b"(" + b"".join(items) + b"t"


def call(fn, *args):
    """fn(*args) through REDUCE."""
    return fn + tup(*args) + b"R"


def odict(*pairs):
    """An OrderedDict of (key opcodes, value opcodes) pairs."""
    items = b"".join(k + v for k, v in pairs)
    return call(glob("collections", "OrderedDict")) + (b"(" + items + b"u" if pairs else b"")


def storage(key, numel, kind="FloatStorage"):
    """The persistent id of storage `key` holding `numel` elements of torch.<kind>."""
    return tup(string("storage"), glob("torch", kind), string(key), string("cpu"), integer(numel)) + b"Q"


def tensor(storage_ops, size, stride, offset=0):
    """torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""
    return call(glob("torch._utils", "_rebuild_tensor_v2"), storage_ops, integer(offset),
                tup(*map(integer, size)), tup(*map(integer, stride)), b"\x89", odict())


def state_dict(**tensors):
    """A pickle (PROTO ... STOP) of an OrderedDict name -> tensor opcodes."""
    return PROTO + odict(*((string(k), v) for k, v in tensors.items())) + b"."


def legacy_file(obj_pickle, storages, little=True):
    """torch.save's legacy layout; storages: key -> raw bytes, with their element size."""
    out = [pickle.dumps(MAGIC, 2), pickle.dumps(1001, 2),
           pickle.dumps({"protocol_version": 1001, "little_endian": little}, 2), obj_pickle,
           pickle.dumps(sorted(storages), 2)]
    for key in sorted(storages):
        raw, itemsize = storages[key]
        out.append(struct.pack("<q" if little else ">q", len(raw) // itemsize) + raw)
    return b"".join(out)


def zip_file(obj_pickle, storages, compression=zipfile.ZIP_STORED):
    """torch.save's zip layout; storages: key -> raw bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        z.writestr("archive/data.pkl", obj_pickle)
        z.writestr("archive/byteorder", b"little")
        for key, raw in storages.items():
            z.writestr(f"archive/data/{key}", raw)
    return buf.getvalue()
