"""Hostile and odd files (issue 15): pickles that try to change allowed globals, files that
would make loading allocate far more than they hold, and formats that are no checkpoint.
The files are written by hand (tests/torchfiles.py): torch is not needed."""
import collections
import io
import json
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import diffprog as dp
from diffprog.io import CorruptFileError, safetensors_format, torch_format
from torchfiles import (PROTO, glob, legacy_file, odict, state_dict, storage, string, tensor,
                        zip_file)

LAYOUTS = {"legacy": lambda pkl, raw: legacy_file(pkl, {k: (v, 4) for k, v in raw.items()}),
           "zip": zip_file}


def load_bytes(data):
    return dp.load(io.BytesIO(data))


def peak_bytes(fn):
    """(fn(), the most memory traced while it ran)."""
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- defect 1: BUILD on allowed globals ---------------------------------------------------

STATES = {"slots": b"N}" + string("is_floating_point") + b"\x89s\x86",       # (None, {slot: v})
          "dict": b"}" + string("dtype") + glob("torch", "int64") + b"s",
          "defaults": b"N}" + string("__defaults__") + b"(\x88t" + b"s\x86"}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", sorted(f"{m}:{n}" for m, n in torch_format._GLOBALS))
def test_build_on_an_allowed_global_is_refused(name, state):
    module, attr = name.split(":")
    attack = PROTO + glob(module, attr) + STATES[state] + b"b."
    with pytest.raises(pickle.UnpicklingError, match="refusing BUILD on"):
        load_bytes(legacy_file(attack, {}))
    assert dp.float32.is_floating_point and dp.randn(3).dtype == dp.float32
    assert torch_format._GLOBALS["torch", "FloatStorage"].dtype is np.float32
    assert torch_format._rebuild_parameter.__defaults__ == (True,)


def test_dtypes_are_immutable():
    with pytest.raises(AttributeError, match="immutable"):
        dp.float32.is_floating_point = False
    with pytest.raises(AttributeError, match="immutable"):
        del dp.int64.itemsize
    assert dp.float32.is_floating_point and dp.int64.itemsize == 8


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_state_dicts_metadata_is_kept(layout):
    """torch.save gives a state dict's OrderedDict its `_metadata` by BUILD."""
    metadata = b"}" + string("_metadata") + odict((string(""), b"}" + string("version") + b"K\x01s")) + b"s"
    pkl = PROTO + odict((string("w"), tensor(storage("0", 2), (2,), (1,)))) + metadata + b"b."
    got = load_bytes(LAYOUTS[layout](pkl, {"0": np.float32([1, 2]).tobytes()}))
    assert type(got) is collections.OrderedDict and got["w"].tolist() == [1.0, 2.0]
    assert got._metadata == {"": {"version": 1}}


def test_build_may_not_shadow_an_ordereddicts_methods():
    attack = PROTO + odict() + b"}" + string("items") + glob("torch", "Size") + b"sb."
    with pytest.raises(pickle.UnpicklingError, match="refusing BUILD on OrderedDict"):
        load_bytes(legacy_file(attack, {}))


@pytest.mark.parametrize("opcode, pkl", [
    ("INST", b"(ios\nsystem\nS'true'\n."),
    ("OBJ", b"(ccollections\nOrderedDict\no."),
    ("EXT1", b"\x80\x02\x82\x01."),
    ("NEWOBJ_EX", PROTO + glob("collections", "OrderedDict") + b")}\x92."),
    ("NEXT_BUFFER", b"\x80\x05\x97."),
    ("READONLY_BUFFER", b"\x80\x05]\x98."),
])
def test_opcodes_that_call_code_are_refused(opcode, pkl):
    with pytest.raises(pickle.UnpicklingError, match=f"refusing the pickle opcode {opcode}"):
        load_bytes(legacy_file(pkl, {}))


def test_reduce_calls_only_allowed_globals():
    """A dtype (allowed, but not callable) and a built container can't be called."""
    for fn in (glob("torch", "float32"), b"]"):
        with pytest.raises(pickle.UnpicklingError, match="refusing REDUCE"):
            load_bytes(legacy_file(PROTO + fn + b")R.", {}))


def plain_data():
    return {"ints": [0, 1, -1, 255, 256, 65535, -(2**31), 2**31, 2**64, -(2**100)],
            "floats": (0.5, -1e300, float("inf")), "text": ["", "é", "x" * 300],
            "bytes": [b"", b"\x00\xff" * 200], "bytearray": bytearray(b"ab"),
            "sets": [set(), {1, 2}, frozenset({"a"})], "nested": [[[]], ({},)], "none": None,
            "bools": [True, False], "odict": collections.OrderedDict(a=1)}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_the_unpickler_reads_plain_data_of_every_protocol(protocol):
    from diffprog.io.unpickler import Unpickler
    obj = plain_data()
    obj["shared"] = [obj["nested"]] * 2
    if protocol < 3:
        del obj["bytes"], obj["bytearray"]        # Python 2's pickles have no bytes
    data = pickle.dumps(obj, protocol)
    allowed = {("collections", "OrderedDict"): collections.OrderedDict,
               **{(module, t.__name__): t for module in ("builtins", "__builtin__")   # (Python 2's name)
                  for t in (set, frozenset, bytearray)}}

    def build(obj, state):
        raise AssertionError("no BUILD expected")

    got = Unpickler(io.BytesIO(data), len(data), allowed, [collections.OrderedDict, set, frozenset, bytearray],
                    build, None, "test").load()
    assert got == obj and got["shared"][0] is got["shared"][1]


# --- defect 4: size amplification ---------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_expanded_tensor_stays_a_view(layout):
    """One element on disk, 16M elements seen: loads as a read-only view, as `expand`
    gives (64 MB if it were materialised)."""
    pkl = state_dict(e=tensor(storage("0", 1), (4096, 4096), (0, 0)))
    data = LAYOUTS[layout](pkl, {"0": np.float32([2.5]).tobytes()})
    assert len(data) < 2000
    got, peak = peak_bytes(lambda: load_bytes(data))
    e = got["e"]
    assert e.shape == (4096, 4096) and e[4095, 7].item() == 2.5 and peak < 2**20
    with pytest.raises(ValueError, match="read-only"):
        e.add_(1)
    assert e.sum().item() == pytest.approx(2.5 * 4096 * 4096, rel=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_tensors_of_one_storage_share_it(layout):
    pkl = state_dict(base=tensor(storage("0", 12), (12,), (1,)),
                     block=tensor(storage("0", 12), (2, 3), (1, 2), offset=4),
                     ints=tensor(storage("0", 12, "IntStorage"), (3,), (4,)))
    got = load_bytes(LAYOUTS[layout](pkl, {"0": np.arange(12, dtype=np.float32).tobytes()}))
    assert got["block"].tolist() == [[4, 6, 8], [5, 7, 9]]
    got["base"][6] = -1.0
    assert got["block"][0, 1].item() == -1.0                 # one storage, as in PyTorch
    assert got["ints"].tolist() == np.arange(12, dtype=np.float32)[[0, 4, 8]].view(np.int32).tolist()


def deflated_zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


ZEROS = bytes(64 * 2**20)


@pytest.mark.parametrize("member", ["storage", "pickle"])
def test_a_zip_bomb_is_refused_before_it_expands(member):
    """64 MiB of zeros deflate to 64 KiB: more than the cap lets the file expand to."""
    n = len(ZEROS) // 4
    if member == "storage":
        members = {"archive/data.pkl": state_dict(w=tensor(storage("0", n), (n,), (1,))),
                   "archive/data/0": ZEROS}
    else:       # a pickle that pushes 64 MiB of bytes
        members = {"archive/data.pkl": PROTO + b"\x8e" + struct.pack("<Q", len(ZEROS)) + ZEROS + b"."}
    data = deflated_zip(members)
    assert len(data) < 2**17
    error, peak = peak_bytes(lambda: pytest.raises(CorruptFileError, load_bytes, data))
    assert error.match("would expand past 64 times") and peak < 2**21


def test_a_small_deflated_zip_loads():
    pkl = state_dict(w=tensor(storage("0", 1000), (10, 100), (100, 1)))
    raw = np.zeros(1000, np.float32)
    raw[::7] = 3.0
    got = load_bytes(deflated_zip({"archive/data.pkl": pkl, "archive/data/0": raw.tobytes()}))
    np.testing.assert_array_equal(got["w"].numpy().reshape(-1), raw)


class Unseekable(io.RawIOBase):
    """A pipe-like stream: read only, no seek, no length."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._data.readinto(b)


def safetensors_bytes(header, body=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


@pytest.mark.parametrize("case", ["safetensors", "safetensors stream", "legacy storage", "pickle bytes",
                                  "pickle frame", "zip member"])
def test_declared_sizes_are_checked_before_allocating(case):
    """Each file declares about a terabyte it does not hold: a clear error, no allocation."""
    tb = 2**40 - 64
    if case.startswith("safetensors"):
        data = safetensors_bytes({"x": {"dtype": "F32", "shape": [tb // 4], "data_offsets": [0, tb]}}, b"\0" * 64)
    elif case == "legacy storage":
        data = legacy_file(state_dict(w=tensor(storage("0", 4), (4,), (1,))), {"0": (b"\0" * 16, 4)})
        data = data.replace(struct.pack("<q", 4) + b"\0" * 16, struct.pack("<q", tb) + b"\0" * 16)
    elif case == "pickle bytes":
        data = legacy_file(PROTO + b"\x8e" + struct.pack("<Q", tb) + b"abc.", {})
    elif case == "pickle frame":
        data = legacy_file(b"\x80\x04\x95" + struct.pack("<Q", tb) + b"N.", {})
    else:       # zip's sizes are 32-bit: 4 GiB
        data = bytearray(zip_file(state_dict(w=tensor(storage("0", 4), (4,), (1,))), {"0": b"\0" * 16}))
        name = b"archive/data/0"
        for at in (data.find(name) - 12, data.rfind(name) - 26):    # local header, central directory
            data[at:at + 8] = struct.pack("<II", 2**32 - 64, 2**32 - 64)   # compressed, full size
        data = bytes(data)
    stream = Unseekable(data) if case == "safetensors stream" else io.BytesIO(data)
    error, peak = peak_bytes(lambda: pytest.raises(CorruptFileError, dp.load, stream))
    assert error.match("truncated|do not fit") and peak < 2**20 + 2 * len(data)


# --- defect 7: formats that are no checkpoint, and BF16 -----------------------------------

def test_bf16_safetensors_load_as_float32():
    values = np.float32([1.0, -2.5, 3.0e38, 2**-130, np.inf])
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    got = load_bytes(safetensors_bytes({"x": {"dtype": "BF16", "shape": [5], "data_offsets": [0, 10]}},
                                       bits.tobytes()))
    assert got["x"].dtype == dp.float32
    np.testing.assert_array_equal(got["x"].numpy(), (bits.astype(np.uint32) << 16).view(np.float32))
    assert got["x"][1].item() == -2.5


def test_an_unsupported_safetensors_dtype_is_named():
    data = safetensors_bytes({"x": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\0\0")
    with pytest.raises(TypeError, match="'x' .* has dtype F8_E4M3, which diffprog does not support"):
        load_bytes(data)


def test_a_text_file_is_named_as_text():
    with pytest.raises(CorruptFileError, match="is not a checkpoint.*begins with text 'epoch,loss"):
        load_bytes(b"epoch,loss\n1,0.5\n2,0.25\n")


class Payload:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("protocol", [0, 1])
def test_text_and_old_protocol_pickles(protocol):
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle the global __builtin__.print"):
        load_bytes(pickle.dumps([Payload()], protocol))
    with pytest.raises(CorruptFileError, match="is a pickle but not a torch.save file"):
        load_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol))


def test_a_pickle_cannot_build_much_more_than_its_size():
    """An empty set takes 2 bytes to pickle and 216 bytes of memory."""
    data = legacy_file(PROTO + b"]" + b"\x8fa" * 100_000 + b".", {})
    error, peak = peak_bytes(lambda: pytest.raises(CorruptFileError, load_bytes, data))
    assert error.match("builds objects of more than 32 times its size")
    assert peak < 40 * len(data)
    many = PROTO + b"]" + b"(" + b"\x8f" * 1000 + b"e" + b"."       # 1000 sets: well within
    assert len(load_bytes(legacy_file(many, {}))) == 1000


def structure_file(structure):
    buf = io.BytesIO()
    safetensors_format.write(buf, {}, {"diffprog.structure": json.dumps(structure)})
    return buf.getvalue()


@pytest.mark.parametrize("name", ["diffprog.io.serialization.os", "diffprog.io.atomic.os.system",
                                  "diffprog.io.atomic.uuid", "diffprog.nn.functional.relu.__globals__",
                                  "diffprog.no_such_module.thing", "os.system"])
def test_a_saved_global_must_be_defined_under_its_name(name):
    """Whole-module checkpoints name the classes and functions they hold: only those defined
    in diffprog (or allowed), never what a diffprog module merely imported."""
    with pytest.raises(pickle.UnpicklingError, match="not an allowed global"):
        load_bytes(structure_file({"global": name}))


def test_whole_modules_round_trip():
    model = dp.nn.Sequential(dp.nn.Linear(2, 3), dp.nn.ReLU())
    buf = io.BytesIO()
    dp.save(model, buf)
    got = load_bytes(buf.getvalue())
    assert type(got[0]) is dp.nn.Linear and got[0].weight.tolist() == model[0].weight.tolist()


def test_refusals_describe_values_without_printing_them():
    """(Found by the fuzz test.) An error message once held the repr of what was refused:
    for a tensor viewing one element as 2**24, that took 100 MB."""
    huge = tensor(storage("0", 1), (4096, 4096), (0, 0))
    pkl = PROTO + huge + b"\x85" + glob("torch", "float32") + b"\x86" + b")\x81."     # NEWOBJ on a tuple
    error, peak = peak_bytes(lambda: pytest.raises(pickle.UnpicklingError, load_bytes,
                                                   zip_file(pkl, {"0": b"\0" * 4})))
    assert error.match(r"refusing NEWOBJ on \(\(Tensor,\), DType\)") and peak < 2**20
