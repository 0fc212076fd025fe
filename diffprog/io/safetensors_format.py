"""Reading and writing named arrays in the safetensors layout, without the safetensors
package and without ever executing anything from the file.

Layout: an 8-byte little-endian header length N, N bytes of JSON header (padded with
spaces), then the tensors' little-endian bytes back to back.  The header maps each name to
`{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the byte area) and holds
string-to-string `__metadata__`.  We add a CRC-32 of the byte area to the metadata so
corruption is detected, not only truncation; files from other writers have none and load
unchecked.  complex128 is written as "C128", which other safetensors readers lack.
"""
import json
import math
import struct
import zlib

import numpy as np

__all__ = ["write", "read", "read_exact", "CorruptFileError"]

CRC_KEY = "diffprog.crc32"
_MAX_HEADER = 100 * 2**20      # the safetensors reference reader's limit
_CODES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
          "I32": np.int32, "U32": np.uint32, "I64": np.int64, "U64": np.uint64,
          "F16": np.float16, "F32": np.float32, "F64": np.float64, "C64": np.complex64,
          "C128": np.complex128}
_CODE_OF = {np.dtype(t): code for code, t in _CODES.items()}


class CorruptFileError(RuntimeError):
    """A file that is not a complete, well-formed safetensors file."""


def _bytes_of(a):
    """a's little-endian bytes as a flat uint8 array (no copy when a is already that)."""
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return a.reshape(-1).view(np.uint8)


def write(f, arrays, metadata):
    """Write `arrays` (name -> ndarray) and `metadata` (str -> str) to the binary file `f`."""
    # Larger items first: with the header padded to 8 bytes, every tensor is then aligned.
    names = sorted(arrays, key=lambda k: -arrays[k].dtype.itemsize)
    chunks = [_bytes_of(arrays[k]) for k in names]
    crc = 0
    for c in chunks:
        crc = zlib.crc32(c, crc)
    header = {"__metadata__": {**metadata, CRC_KEY: str(crc)}}
    offset = 0
    for name, c in zip(names, chunks):
        a = arrays[name]
        if a.dtype not in _CODE_OF:
            raise TypeError(f"save: can't store arrays of dtype {a.dtype} ({name!r})")
        header[name] = {"dtype": _CODE_OF[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + c.size]}
        offset += c.size
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for c in chunks:
        f.write(c)


def read_exact(f, n):
    """Up to n bytes (fewer only at the end of the file)."""
    parts, got = [], 0
    while got < n:
        part = f.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_into(f, out):
    """Fill the uint8 array `out` from f; return how many bytes were read."""
    view, got = memoryview(out), 0
    readinto = getattr(f, "readinto", None)
    while got < len(view):
        if readinto is not None:
            n = readinto(view[got:])
        else:
            part = f.read(len(view) - got)
            n = len(part)
            view[got:got + n] = part
        if not n:
            break
        got += n
    return got


def _parse_header(raw, fail):
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise fail("the header is not valid JSON") from None
    if not isinstance(header, dict):
        raise fail("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail("__metadata__ is not a map of strings")
    entries = []
    for name, info in header.items():
        try:
            dtype = np.dtype(_CODES[info["dtype"]])
            shape = tuple(info["shape"])
            begin, end = info["data_offsets"]
            ok = all(type(s) is int and s >= 0 for s in (*shape, begin, end))
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok or end - begin != math.prod(shape) * dtype.itemsize:
            raise fail(f"bad header entry for tensor {name!r}: {info!r}")
        entries.append((begin, end, name, dtype, shape))
    entries.sort()
    position = 0
    for begin, end, name, *_ in entries:
        if begin != position:
            raise fail(f"tensor {name!r} does not start where the previous one ends")
        position = end
    return entries, metadata, position


def read(f, filename, head, available=None):
    """Read a safetensors stream; return (name -> ndarray in file order, metadata).

    `head` is the stream's first 8 bytes, already read by the caller (to tell formats
    apart).  `available` is the number of bytes in the stream from its start, when known:
    a truncated file is then caught before any tensor memory is allocated.  Raises
    CorruptFileError, naming `filename`, for anything malformed."""
    def fail(reason):
        return CorruptFileError(f"load: {filename} is not a valid checkpoint ({reason})")

    if len(head) < 8:
        raise fail(f"truncated: {len(head)} bytes, shorter than the 8-byte header length")
    n = struct.unpack("<Q", head)[0]
    if n > _MAX_HEADER:
        raise fail(f"header length {n} is implausibly large")
    raw = read_exact(f, n)
    if len(raw) < n:
        raise fail(f"truncated: the header needs {n} bytes, the file has {len(raw)} after the length")
    entries, metadata, total = _parse_header(raw, fail)
    if available is not None and available < 8 + n + total:
        raise fail(f"truncated: the header describes {8 + n + total} bytes, the file has "
                   f"{available}")
    arrays, crc = {}, 0
    for begin, end, name, dtype, shape in entries:
        little = dtype.newbyteorder("<")
        try:
            a = np.empty(shape, little)
        except ValueError:      # e.g. dimensions whose product overflows, even with a 0 among them
            raise fail(f"tensor {name!r} has an impossible shape {list(shape)}") from None
        flat = a.reshape(-1).view(np.uint8)
        got = _read_into(f, flat)
        if got < end - begin:
            raise fail(f"truncated: tensor {name!r} needs {end - begin} bytes, {got} are left")
        crc = zlib.crc32(flat, crc)
        arrays[name] = a if little.isnative else a.astype(dtype)
    if CRC_KEY in metadata and metadata[CRC_KEY] != str(crc):
        raise fail("the tensor data does not match its checksum")
    return arrays, metadata
