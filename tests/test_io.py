"""diffprog.save / diffprog.load: exact round trips of tensors and containers, atomic
writes, clear errors for damaged files, and no code execution on load."""
import collections
import io
import json
import math
import os
import pickle
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import zipfile

import numpy as np
import pytest

import diffprog as dp
from diffprog.io import CorruptFileError, safetensors_format

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"]
SHAPES = [(), (0,), (3,), (2, 3), (0, 4), (2, 1, 3)]


def roundtrip(obj, tmp_path):
    path = tmp_path / "ckpt.dp"
    dp.save(obj, path)
    return dp.load(path)


def raw_file(path, header, body=b""):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)
    return path


def same_tensor(a, b):
    assert isinstance(b, dp.Tensor) and b.dtype == a.dtype and b.shape == a.shape
    assert b.requires_grad == a.requires_grad and b.is_leaf
    np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_tensor_roundtrip_every_dtype_and_shape(tmp_path, dtype, shape):
    a = np.random.default_rng(0).normal(size=shape) * 50
    t = dp.tensor(a).to(getattr(dp, dtype if dtype != "bool" else "bool"))
    same_tensor(t, roundtrip(t, tmp_path))


def test_non_contiguous_and_requires_grad(tmp_path):
    x = dp.arange(12.0).reshape(3, 4).t()
    w = dp.randn(2, 3, requires_grad=True)
    out = roundtrip({"x": x, "w": w, "h": dp.tensor([1.0, -0.0, math.inf], dtype=dp.float16)}, tmp_path)
    same_tensor(x, out["x"])
    same_tensor(w, out["w"])
    assert str(out["h"].numpy().tolist()) == "[1.0, -0.0, inf]"
    out["w"].sum().backward()                     # a leaf that takes gradients
    assert out["w"].grad.tolist() == [[1.0] * 3] * 2
    out["x"].add_(1)                              # writable, and not shared with x
    assert x[0, 0].item() == 0.0 and out["x"][0, 0].item() == 1.0


def test_nested_containers_and_python_values(tmp_path):
    obj = {
        "model": collections.OrderedDict([("b", dp.zeros(2)), ("a", dp.ones(1, dtype=dp.int32))]),
        "optimizer": {"state": {0: {"step": 3, "exp_avg": dp.ones(2)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0],
                                        "nesterov": False, "foreach": None}]},
        "floats": [1.0, 2, float("nan"), float("inf"), -float("inf"), 1e-310],
        "text": "unicode ✓",
        "empty": ({}, [], ()),
        "shape": dp.zeros(2, 3).shape,
        "dtype": dp.float16,
        "array": np.arange(6, dtype=np.uint16).reshape(2, 3),
        "scalar": np.float32(1.5),
        (1, "k"): "tuple key",
        7: None,
    }
    out = roundtrip(obj, tmp_path)
    assert list(out) == list(obj)
    assert type(out["model"]) is collections.OrderedDict and list(out["model"]) == ["b", "a"]
    same_tensor(obj["model"]["a"], out["model"]["a"])
    group = out["optimizer"]["param_groups"][0]
    assert group == {"lr": 0.1, "betas": (0.9, 0.999), "params": [0], "nesterov": False,
                     "foreach": None}
    assert out["optimizer"]["state"][0]["step"] == 3
    same_tensor(obj["optimizer"]["state"][0]["exp_avg"], out["optimizer"]["state"][0]["exp_avg"])
    f = out["floats"]
    assert type(f[0]) is float and type(f[1]) is int and math.isnan(f[2])
    assert f[3:] == [math.inf, -math.inf, 1e-310]
    assert out["text"] == "unicode ✓" and out["empty"] == ({}, [], ())
    assert type(out["shape"]) is dp.Size and out["shape"] == (2, 3)
    assert out["dtype"] is dp.float16
    np.testing.assert_array_equal(out["array"], obj["array"])
    assert out["array"].dtype == np.uint16
    assert type(out["scalar"]) is np.float32 and out["scalar"] == 1.5
    assert out[(1, "k")] == "tuple key" and out[7] is None


def test_a_tensor_saved_twice_loads_once(tmp_path):
    t = dp.ones(3)
    out = roundtrip([t, {"again": t}, dp.ones(3)], tmp_path)
    assert out[0] is out[1]["again"] and out[2] is not out[0]


def test_file_objects_and_pathlike(tmp_path):
    buf = io.BytesIO()
    buf.write(b"prefix")
    dp.save({"x": dp.arange(4)}, buf)
    buf.seek(6)
    assert dp.load(buf)["x"].tolist() == [0, 1, 2, 3]
    with open(tmp_path / "f.dp", "wb") as f:
        dp.save(dp.tensor(2.5), f)
    with open(tmp_path / "f.dp", "rb") as f:
        assert dp.load(f).item() == 2.5
    dp.save([1], str(tmp_path / "s.dp"))
    assert dp.load(str(tmp_path / "s.dp")) == [1]


def test_flat_state_dict_is_a_plain_safetensors_file(tmp_path):
    path = tmp_path / "sd.safetensors"
    dp.save({"fc.weight": dp.ones(2, 3), "fc.bias": dp.zeros(2, dtype=dp.float64)}, path)
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    assert header["fc.weight"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [16, 40]}
    assert header["fc.bias"] == {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}
    assert (8 + n) % 8 == 0 and len(raw) == 8 + n + 40


def test_loads_safetensors_files_from_other_writers(tmp_path):
    header = {"b": {"dtype": "I64", "shape": [3], "data_offsets": [0, 24]},
              "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [24, 40]},
              "__metadata__": {"format": "pt"}}
    body = np.arange(3, dtype="<i8").tobytes() + np.ones(4, "<f4").tobytes()
    out = dp.load(raw_file(tmp_path / "other.safetensors", header, body))
    assert list(out) == ["b", "a"] and out["b"].tolist() == [0, 1, 2]
    assert out["a"].dtype == dp.float32 and out["a"].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_map_location(tmp_path):
    dp.save({"x": dp.ones(2)}, tmp_path / "m.dp")
    assert dp.load(tmp_path / "m.dp", map_location="cpu")["x"].tolist() == [1.0, 1.0]
    assert dp.load(tmp_path / "m.dp", map_location={"cuda:0": "cpu"})["x"].shape == (2,)
    doubled = dp.load(tmp_path / "m.dp", map_location=lambda t, loc: t * 2)
    assert doubled["x"].tolist() == [2.0, 2.0]
    if not dp.cuda.is_available():
        with pytest.raises(RuntimeError, match="not available"):
            dp.load(tmp_path / "m.dp", map_location="cuda")


def test_unsupported_objects_fail_before_writing(tmp_path):
    with pytest.raises(TypeError, match=r"can't store an object of type object \(at obj\['a'\]\[1\]\)"):
        dp.save({"a": [1, object()]}, tmp_path / "bad.dp")
    assert os.listdir(tmp_path) == []


# --- atomic writes --------------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["write", "fsync", "replace"])
def test_failed_save_leaves_the_previous_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "ckpt.dp"
    dp.save({"version": 1, "w": dp.ones(3)}, path)
    before = path.read_bytes()

    def boom(*args):
        if failure == "write":      # fail halfway through the file
            args[0].write(b"\x00" * 100)
        raise OSError("disk on fire")

    monkeypatch.setattr(safetensors_format if failure == "write" else os, failure, boom)
    with pytest.raises(OSError, match="disk on fire"):
        dp.save({"version": 2, "w": dp.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and dp.load(path)["version"] == 1
    assert os.listdir(tmp_path) == ["ckpt.dp"]          # no temporary file left behind


def test_saved_file_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        dp.save(dp.ones(1), tmp_path / "p.dp")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "p.dp").st_mode & 0o777) == 0o644


CRASHING_SAVE = textwrap.dedent("""
    import os, signal, sys
    import diffprog as dp
    from diffprog.io import safetensors_format

    def dying_write(out, arrays, metadata):          # killed halfway through the file
        out.write(b"\\0" * 4096)
        out.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    safetensors_format.write = dying_write
    dp.save({"w": dp.ones(1000)}, sys.argv[1])
""")


def temporaries(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_saves_leave_at_most_one_temporary(tmp_path):
    path = tmp_path / "ckpt.dp"
    dp.save({"version": 1}, path)
    other = tmp_path / ".other.dp.0123456789ab.tmp"      # another target's: not ours to remove
    other.write_bytes(b"x")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(dp.__file__)),
                                                       os.environ.get("PYTHONPATH", "")]))
    for _ in range(2):
        killed = subprocess.run([sys.executable, "-c", CRASHING_SAVE, str(path)], env=env, timeout=60)
        assert killed.returncode == -signal.SIGKILL
        assert len(temporaries(tmp_path)) == 2              # this crash's and the other target's
    assert dp.load(path) == {"version": 1}
    dp.save({"version": 2}, path)
    assert temporaries(tmp_path) == [other.name] and dp.load(path) == {"version": 2}


def test_a_live_writers_temporary_is_left_alone(tmp_path, monkeypatch):
    """A save that runs while another is writing the same file removes only temporaries of
    writers that died; both saves complete."""
    path = tmp_path / "ckpt.dp"
    writing, finish = threading.Event(), threading.Event()
    write = safetensors_format.write

    def slow_write(out, arrays, metadata):
        if threading.current_thread().name == "slow":
            out.write(b"partial")
            out.flush()
            writing.set()
            assert finish.wait(10)
            out.seek(0)
        write(out, arrays, metadata)

    monkeypatch.setattr(safetensors_format, "write", slow_write)
    slow = threading.Thread(target=dp.save, args=({"by": "slow"}, path), name="slow")
    slow.start()
    assert writing.wait(10)
    dp.save({"by": "fast"}, path)
    assert dp.load(path) == {"by": "fast"} and len(temporaries(tmp_path)) == 1
    finish.set()
    slow.join()
    assert dp.load(path) == {"by": "slow"} and os.listdir(tmp_path) == ["ckpt.dp"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes and symlinks")
def test_saving_through_a_symlink_replaces_its_target_and_keeps_its_mode(tmp_path):
    target = tmp_path / "runs" / "ckpt.dp"
    target.parent.mkdir()
    dp.save({"version": 1}, target)
    os.chmod(target, 0o600)
    link = tmp_path / "latest.dp"
    link.symlink_to(target)
    dp.save({"version": 2}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert dp.load(target) == {"version": 2}
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(target.parent) == ["ckpt.dp"]
    dangling = tmp_path / "next.dp"
    dangling.symlink_to(tmp_path / "runs" / "new.dp")
    dp.save({"version": 3}, dangling)
    assert dangling.is_symlink() and dp.load(tmp_path / "runs" / "new.dp") == {"version": 3}


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "ckpt.dp"
    dp.save([1], path)
    os.chmod(path, 0o640)
    dp.save([2], path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and dp.load(path) == [2]


# --- damaged files --------------------------------------------------------------------------

@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.dp"
    dp.save({"w": dp.arange(100.0), "b": dp.ones(3, dtype=dp.int32), "n": 5}, path)
    return path


def damaged(good_file, edit):
    raw = bytearray(good_file.read_bytes())
    bad = good_file.with_name("bad.dp")
    bad.write_bytes(edit(raw))
    return bad


@pytest.mark.parametrize("edit,match", [
    (lambda r: r[:0], "shorter than the 8-byte header length"),
    (lambda r: r[:5], "shorter than the 8-byte header length"),
    (lambda r: r[:40], "truncated"),
    (lambda r: r[:-1], "truncated"),
    (lambda r: r[:-400], "truncated"),
    (lambda r: r[:8] + b"!" + r[9:], "header is not valid JSON"),
    (lambda r: r[:-3] + bytes([r[-3] ^ 1]) + r[-2:], "does not match its checksum"),
    (lambda r: struct.pack("<Q", 2**40) + r[8:], "no plausible header length"),
    (lambda r: r.replace(b'"F32"', b'"F99"'), "bad header entry for tensor 'w'"),
])
def test_damaged_files_raise_a_clear_error(good_file, edit, match):
    bad = damaged(good_file, edit)
    with pytest.raises(CorruptFileError, match=match) as info:
        dp.load(bad)
    assert str(bad) in str(info.value) and isinstance(info.value, RuntimeError)
    assert dp.load(good_file)["n"] == 5


@pytest.mark.parametrize("header,match", [
    ({"x": {"dtype": "F32", "shape": [0, 2**62], "data_offsets": [0, 0]}}, "impossible shape"),
    ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, "does not start where"),
    ({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, "bad header entry"),
    ({"x": "F32"}, "bad header entry"),
    ([1, 2], "not a JSON object"),
    ({"__metadata__": {"a": 1}}, "not a map of strings"),
    ({"x": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}, "bad header entry"),
])
def test_malformed_headers(tmp_path, header, match):
    with pytest.raises(CorruptFileError, match=match):
        dp.load(raw_file(tmp_path / "h.dp", header, b"\0" * 8))


@pytest.mark.parametrize("old,new,match", [
    ('["n",5]', '["n",{"pickle":1}]', "unknown structure tag 'pickle'"),
    ('["w",false]', '["zz",false]', "bad 'tensor' node"),
    ('["n",5]', '["n",{"tuple":1}]', "bad 'tuple' node"),
    ('["n",5]', '["n",{"dict":[[[1],2]]}]', "bad 'dict' node"),
    ('{"dict"', '{"dict', "structure document is not valid JSON"),
])
def test_damaged_structure_raises_a_clear_error(good_file, old, new, match):
    with open(good_file, "rb") as f:
        arrays, metadata = safetensors_format.read(f, "good", f.read(8), os.path.getsize(good_file))
    key = "diffprog.structure"
    assert old in metadata[key]
    bad = good_file.with_name("bad.dp")
    with open(bad, "wb") as f:
        safetensors_format.write(f, arrays, {key: metadata[key].replace(old, new)})
    with pytest.raises(CorruptFileError, match=match):
        dp.load(bad)


def test_damaged_file_object_is_named_too(good_file):
    with open(damaged(good_file, lambda r: r[:-10]), "rb") as f, pytest.raises(CorruptFileError,
                                                                              match="bad.dp"):
        dp.load(f)
    with pytest.raises(CorruptFileError, match="<file object>.*truncated"):
        dp.load(io.BytesIO(good_file.read_bytes()[:-10]))


# --- nothing is executed --------------------------------------------------------------------

class Payload:
    """Unpickling this creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payloads_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Payload(str(marker)), protocol=2)
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(payload)
    zipped = tmp_path / "zipped.pt"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", payload)
    # A well-formed header followed by the payload where the tensor bytes should be.
    disguised = raw_file(tmp_path / "disguised.dp", {"x": {"dtype": "U8", "shape": [len(payload)],
                                                         "data_offsets": [0, len(payload)]}}, payload)
    for path in (legacy, zipped):       # read as torch.save files: refused by the allow-list
        with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle the global"):
            dp.load(path, weights_only=False)
    assert dp.load(disguised)["x"].numpy().tobytes() == payload     # just bytes
    assert not marker.exists()


def test_header_length_that_looks_like_a_pickle_opcode(tmp_path):
    """A header of 128 + 256k bytes starts the file with 0x80, pickle's first byte."""
    for pad in range(256):
        buf = io.BytesIO()
        safetensors_format.write(buf, {"x": np.arange(3)}, {"pad": "." * pad})
        if buf.getvalue()[0] == 0x80:
            break
    buf.seek(0)
    assert dp.load(buf)["x"].tolist() == [0, 1, 2]


def test_real_torch_checkpoint_is_read(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "t.pt")
    assert dp.load(tmp_path / "t.pt")["w"].tolist() == [1.0, 1.0]      # see test_io_torch.py
