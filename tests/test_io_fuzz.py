"""Fuzzing the loaders (issue 15): damaged and hostile files load or raise a clear error,
and never make loading allocate much more than they hold.

Seeds: a checkpoint in each format `diffprog.load` reads (diffprog's safetensors, of
containers and of a whole module, BF16 safetensors, torch.save zip (stored and deflated)
and legacy, written by hand) and
pickles of plain data in every protocol.  Cases: truncations, byte flips and splices of
the seeds; random pickle programs that use every opcode (with random, often hostile,
arguments, and stand-ins for tensors, storages and allowed globals); and files that declare
huge sizes.  A case passes when loading returns or raises CorruptFileError,
pickle.UnpicklingError or a TypeError naming an unsupported dtype, with the memory traced
while it ran below `limit(file)`.  While the fuzzer runs, the process's address space is
capped (RLIMIT_AS, 1 GiB above its size), so a regression fails with MemoryError instead
of swapping the machine.  A failure names the case, which is reproducible from its seed."""
import contextlib
import io
import os
import pickle
import pickletools
import random
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import diffprog as dp
from diffprog.io import CorruptFileError, torch_format
from torchfiles import (PROTO, glob, integer, legacy_file, state_dict, storage, string, tensor,
                        tup, zip_file)

try:
    import resource
except ImportError:          # not POSIX: no address-space cap, tracemalloc's bound still holds
    resource = None

OPCODES = {op.code.encode("latin-1"): op for op in pickletools.opcodes}


def limit(size, deflated):
    """The most a load of a `size`-byte file may trace: the file's bytes once or twice,
    the pickle's objects (unpickler.MAX_GROWTH times its size, plus strings and numbers),
    and for compressed zips what their members may expand to."""
    expansion = max(torch_format.MAX_EXPANSION * size, torch_format._EXPANSION_FLOOR) if deflated else 0
    return 64 * size + expansion + 2 * 2**20


# --- seeds -----------------------------------------------------------------------------------

def seeds():
    buf = io.BytesIO()
    dp.manual_seed(0)
    dp.save({"w": dp.randn(3, 4), "b": dp.arange(5), "step": 7, "betas": (0.9, 0.99),
             "name": "adam", "half": dp.ones(2, dtype=dp.float16)}, buf)
    st = state_dict(w=tensor(storage("0", 12), (3, 4), (4, 1)), t=tensor(storage("0", 12), (4, 3), (1, 4)),
                    e=tensor(storage("1", 1, "DoubleStorage"), (5, 5), (0, 0)),
                    i=tensor(storage("2", 3, "LongStorage"), (3,), (1,)))
    raw = {"0": np.arange(12, dtype=np.float32).tobytes(), "1": np.float64([2.0]).tobytes(),
           "2": np.int64([1, -2, 3]).tobytes()}
    bf16 = b'{"x":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}'
    plain = {"ints": [1, 2**40, -3], "f": 0.5, "s": "text", "nested": [(None, True), {"k": [0.25]}]}
    whole = io.BytesIO()
    dp.save(dp.nn.Sequential(dp.nn.Linear(2, 3), dp.nn.ReLU(), dp.nn.LayerNorm(3)), whole)
    out = {
        "safetensors": (buf.getvalue(), False),
        "whole-module safetensors": (whole.getvalue(), False),
        "bf16 safetensors": (struct.pack("<Q", len(bf16)) + bf16 + bytes(range(8)), False),
        "torch zip": (zip_file(st, raw), False),
        "torch zip deflated": (zip_file(st, raw, compression=zipfile.ZIP_DEFLATED), True),
        "torch legacy": (legacy_file(st, {k: (v, 8 if k != "0" else 4) for k, v in raw.items()}), False),
    }
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        out[f"pickle protocol {protocol}"] = (legacy_file(pickle.dumps(plain, protocol), {}), False)
    return out


# --- mutations -------------------------------------------------------------------------------

def truncations(data, rng, n):
    cuts = set(range(min(len(data), 40))) | {rng.randrange(len(data)) for _ in range(n)}
    return [data[:c] for c in sorted(cuts)]


def flips(data, rng, n):
    out = []
    for _ in range(n):
        b = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 4))):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256) if rng.random() < 0.5 else b[i] ^ (1 << rng.randrange(8))
        out.append(bytes(b))
    return out


def splices(data, rng, n):
    out = []
    for _ in range(n):
        i, j = sorted(rng.randrange(len(data) + 1) for _ in range(2))
        k = rng.randrange(len(data) + 1)
        out.append(data[:i] + data[k:k + rng.randrange(64)] + data[j:])
    return out


# --- random pickle programs ------------------------------------------------------------------

HUGE = (2**31 - 1, 2**32 - 1, 2**40, 2**63 - 1)


def length(rng, fmt):
    """A length field and the number of bytes to follow it: usually honest, sometimes huge."""
    most = 2**(8 * struct.calcsize(fmt) - fmt[-1].islower()) - 1      # lower case: signed
    if rng.random() < 0.1:
        return struct.pack(fmt, min(rng.choice(HUGE), most)), 0
    k = rng.randrange(40)
    return struct.pack(fmt, k), k


def text(rng, k):
    return rng.choice((b"x" * k, bytes(rng.randrange(256) for _ in range(k)), "é".encode() * (k // 2)))


def argument(arg, rng):
    """Random bytes for one opcode argument of pickletools' kind `arg`."""
    name = arg.name
    if name in ("uint1", "uint2", "uint4", "uint8", "int4"):
        size = arg.n
        if rng.random() < 0.2:
            return rng.randbytes(size)
        return rng.randrange(min(2**(8 * size - 1), 300)).to_bytes(size, "little")
    if name == "float8":
        return struct.pack(">d", rng.choice((0.5, -1e308, float("nan"), float("inf"))))
    if name in ("decimalnl_short", "decimalnl_long"):
        digits = rng.choice((b"0", b"01", b"00", b"-17", b"9" * rng.randrange(1, 6000), b"x"))
        return digits + (b"L" if name.endswith("long") and rng.random() < 0.5 else b"") + b"\n"
    if name == "floatnl":
        return rng.choice((b"1.5", b"nan", b"1e999", b"?")) + b"\n"
    if name == "stringnl":
        return rng.choice((b"'abc'", b'"\\x00\\n"', b"'unterminated", b"''")) + b"\n"
    if name == "stringnl_noescape":
        return rng.choice((b"12", b"cpu", b"\xff\xfe", b"")) + b"\n"
    if name == "stringnl_noescape_pair":
        module, attr = rng.choice(GLOBAL_NAMES)
        return module.encode() + b"\n" + attr.encode() + b"\n"
    if name == "unicodestringnl":
        return rng.choice((b"abc", b"\\u00e9", b"\\uZZZZ")) + b"\n"
    if name in ("long1", "long4"):
        head, k = length(rng, "<B" if name == "long1" else "<i")
        return head + rng.randbytes(k)
    # length-prefixed strings and bytes
    head, k = length(rng, {"1": "<B", "4": "<I", "8": "<Q"}[name[-1]])
    return head + text(rng, k)


GLOBAL_NAMES = sorted(torch_format._GLOBALS) + [("os", "system"), ("builtins", "eval"),
                                                ("torch", "load"), ("numpy", "ndarray")]


def pusher(rng):
    """Opcodes that push something a hostile program can work on: containers, marks,
    strings, numbers, globals (allowed or not), storage ids and tensors."""
    roll = rng.random()
    if roll < 0.15:
        n = rng.randrange(3)
        return tensor(storage(str(rng.randrange(2)), rng.choice((1, 4, 8, 2**40)),
                              rng.choice(["FloatStorage", "BFloat16Storage", "LongStorage", "BoolStorage"])),
                      [rng.choice((0, 1, 2, 3, 2**20)) for _ in range(n)],
                      [rng.choice((0, 1, 4, -1)) for _ in range(n + (rng.random() < 0.1))], rng.choice((0, 1, 7)))
    if roll < 0.3:
        return glob(*rng.choice(GLOBAL_NAMES))
    if roll < 0.35:
        module, attr = rng.choice(GLOBAL_NAMES)
        return string(module) + string(attr) + b"\x93"              # STACK_GLOBAL
    if roll < 0.45:
        return tup(string("storage"), glob("torch", rng.choice(("FloatStorage", "LongStorage"))),
                   string(str(rng.randrange(2))), string("cpu"), integer(rng.choice((2, 4, 2**40))))
    return rng.choice((b"]", b"}", b"\x8f", b"(", b")", b"N", b"\x88", b"K\x02", integer(-5),
                       string("_metadata"), string("w")))


def opcode(rng, code=None):
    code = code if code is not None else rng.choice(list(OPCODES))
    op = OPCODES[code]
    return code + (argument(op.arg, rng) if op.arg is not None and op.arg.n != 0 else b"")


def program(rng, code):
    """Things pushed, then the opcode `code`, then random opcodes and pushers."""
    atoms = [pusher(rng) for _ in range(rng.randrange(1, 8))] + [opcode(rng, code)]
    atoms += [opcode(rng) if rng.random() < 0.5 else pusher(rng) for _ in range(rng.randrange(6))]
    return PROTO + b"".join(atoms) + b"."


def hostile_pickles(rng, per_opcode):
    raw = {"0": np.arange(8, dtype=np.float32).tobytes(), "1": bytes(64)}
    out = []
    for code in OPCODES:
        for _ in range(per_opcode):
            pkl = program(rng, code)
            wrap = rng.choice(("legacy", "zip", "bare"))
            if wrap == "legacy":
                out.append(legacy_file(pkl, {k: (v, 4) for k, v in raw.items()}))
            elif wrap == "zip":
                out.append(zip_file(pkl, raw))
            else:
                out.append(pkl)
    return out


# --- huge declared sizes ---------------------------------------------------------------------

def huge_declarations(rng, n):
    out = []
    for _ in range(n):
        big = rng.choice(HUGE)
        shape = [big // rng.choice((1, 4, 8)), rng.choice((0, 1, 3))][:rng.randrange(1, 3)]
        header = ('{"x":{"dtype":"%s","shape":%s,"data_offsets":[0,%d]}}'
                  % (rng.choice(("F32", "BF16", "U8")), shape, big)).encode()
        out.append(struct.pack("<Q", len(header)) + header + bytes(rng.randrange(64)))
        n_el = rng.choice((1, 2, big))
        sizes = [rng.choice((big, 2**20, 3)) for _ in range(rng.randrange(1, 4))]
        pkl = state_dict(t=tensor(storage("0", n_el), sizes, [rng.choice((0, 0, 1, big)) for _ in sizes]))
        out.append(zip_file(pkl, {"0": bytes(8)}))
        legacy = legacy_file(pkl, {"0": (bytes(8), 4)})
        out.append(legacy.replace(struct.pack("<q", 2) + bytes(8), struct.pack("<q", big) + bytes(8)))
    return out


# --- running the cases -----------------------------------------------------------------------

@contextlib.contextmanager
def address_space_cap(extra=2**30):
    if resource is None or not os.path.exists("/proc/self/statm"):
        yield
        return
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    old = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra if old[1] == resource.RLIM_INFINITY else min(size + extra, old[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old)


def check(name, data, deflated):
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        dp.load(io.BytesIO(data))
    except (CorruptFileError, pickle.UnpicklingError):
        pass
    except TypeError as e:
        assert "does not support" in str(e), f"{name}: {e!r}"
    except Exception as e:
        raise AssertionError(f"{name}: loading raised {type(e).__name__}: {e}; file: {data[:200]!r}") from e
    peak = tracemalloc.get_traced_memory()[1] - before
    assert peak <= limit(len(data), deflated), f"{name}: {peak} bytes traced for a {len(data)}-byte file"


@pytest.mark.parametrize("seed", [0])
def test_damaged_and_hostile_files_fail_cleanly_and_stay_small(seed):
    rng = random.Random(seed)
    cases = []
    for name, (data, deflated) in seeds().items():
        check(f"seed {name}", data, deflated)              # the seeds themselves load
        for kind, mutate, n in (("cut", truncations, 60), ("flip", flips, 150), ("splice", splices, 40)):
            cases += [(f"{name} {kind} {i}", d, deflated) for i, d in enumerate(mutate(data, rng, n))]
    cases += [(f"hostile pickle {i}", d, False) for i, d in enumerate(hostile_pickles(rng, 20))]
    cases += [(f"huge declaration {i}", d, False) for i, d in enumerate(huge_declarations(rng, 40))]
    tracemalloc.start()
    try:
        with address_space_cap():
            for name, data, deflated in cases:
                check(f"{name} (fuzz seed {seed})", data, deflated)
    finally:
        tracemalloc.stop()
