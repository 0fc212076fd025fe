"""Reading and writing named arrays in the safetensors layout, without the safetensors
package and without ever executing anything from the file.

Layout: an 8-byte little-endian header length N, N bytes of JSON header (padded with
spaces), then the tensors' little-endian bytes back to back.  The header maps each name to
`{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the byte area) and holds
string-to-string `__metadata__`.  We add a CRC-32 of the byte area to the metadata so
corruption is detected, not only truncation; files from other writers have none and load
unchecked.  complex128 is written as "C128", which other safetensors readers lack; BF16
(which diffprog lacks) is read as float32.  Nothing is allocated for a tensor before the
header's sizes were checked against the file's.
"""
import json
import math
import struct
import zlib

import numpy as np

__all__ = ["write", "read", "read_exact", "read_into", "widen_bfloat16", "CorruptFileError",
           "NotSafetensorsError"]

CRC_KEY = "diffprog.crc32"
_MAX_HEADER = 100 * 2**20      # the safetensors reference reader's limit
_CODES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
          "I32": np.int32, "U32": np.uint32, "I64": np.int64, "U64": np.uint64,
          "F16": np.float16, "F32": np.float32, "F64": np.float64, "C64": np.complex64,
          "C128": np.complex128}
_CODE_OF = {np.dtype(t): code for code, t in _CODES.items()}
_UNSUPPORTED = ("F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4")   # safetensors' others


class CorruptFileError(RuntimeError):
    """A file that is not a complete, well-formed checkpoint."""


class NotSafetensorsError(CorruptFileError):
    """A file whose first bytes are no safetensors header length (perhaps another format)."""


def widen_bfloat16(bits):
    """bfloat16 values, given as their uint16 bit patterns, as float32 (exactly)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


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


def read_into(f, out):
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


def _parse_header(raw, fail, filename):
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
        code = info.get("dtype") if isinstance(info, dict) else None
        if code in _UNSUPPORTED:
            raise TypeError(f"load: tensor {name!r} in {filename} has dtype {code}, which diffprog "
                            "does not support")
        try:
            dtype = np.dtype(np.uint16 if code == "BF16" else _CODES[code])
            shape = tuple(info["shape"])
            begin, end = info["data_offsets"]
            ok = all(type(s) is int and s >= 0 for s in (*shape, begin, end))
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok or end - begin != math.prod(shape) * dtype.itemsize:
            raise fail(f"bad header entry for tensor {name!r}: {info!r}")
        entries.append((begin, end, name, dtype, shape, code == "BF16"))
    entries.sort()
    position = 0
    for begin, end, name, *_ in entries:
        if begin != position:
            raise fail(f"tensor {name!r} does not start where the previous one ends")
        position = end
    return entries, metadata, position


def read(f, filename, head, available):
    """Read a safetensors stream; return (name -> ndarray in file order, metadata).

    `head` is the stream's first 8 bytes, already read by the caller (to tell formats
    apart).  `available` is the number of bytes in the stream from its start: a truncated
    file is caught before any tensor memory is allocated.  Raises CorruptFileError, naming
    `filename`, for anything malformed (NotSafetensorsError when the first bytes can't be
    a header length)."""
    def fail(reason, error=CorruptFileError):
        return error(f"load: {filename} is not a valid checkpoint ({reason})")

    if len(head) < 8:
        raise fail(f"truncated: {len(head)} bytes, shorter than the 8-byte header length")
    n = struct.unpack("<Q", head)[0]
    if n > _MAX_HEADER:
        raise fail(f"header length {n} is implausibly large", NotSafetensorsError)
    if n > available - 8:
        raise fail(f"truncated: the header needs {n} bytes, the file has {available - 8} after the length")
    raw = read_exact(f, n)
    entries, metadata, total = _parse_header(raw, fail, filename)
    if available < 8 + n + total:
        raise fail(f"truncated: the header describes {8 + n + total} bytes, the file has "
                   f"{available}")
    arrays, crc = {}, 0
    for begin, end, name, dtype, shape, bfloat16 in entries:
        little = dtype.newbyteorder("<")
        try:
            a = np.empty(shape, little)
        except ValueError:      # e.g. dimensions whose product overflows, even with a 0 among them
            raise fail(f"tensor {name!r} has an impossible shape {list(shape)}") from None
        flat = a.reshape(-1).view(np.uint8)
        got = read_into(f, flat)
        if got < end - begin:
            raise fail(f"truncated: tensor {name!r} needs {end - begin} bytes, {got} are left")
        crc = zlib.crc32(flat, crc)
        a = a if little.isnative else a.astype(dtype)
        arrays[name] = widen_bfloat16(a) if bfloat16 else a
    if CRC_KEY in metadata and metadata[CRC_KEY] != str(crc):
        raise fail("the tensor data does not match its checksum")
    return arrays, metadata
