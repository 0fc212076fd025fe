"""Reading torch.save files (zip and legacy formats) without torch and without running
pickled code (diffprog/io/torch_format.py)."""
import collections
import gzip
import io
import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import diffprog as dp
from diffprog.io import CorruptFileError

torch = pytest.importorskip("torch")

FORMATS = {"zip": True, "legacy": False}
DATA = os.environ.get("DIFFPROG_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
CHECKPOINT = os.path.join(DATA, "torch-checkpoints", "bettercnn.weights")
MNIST = os.path.join(DATA, "MNIST", "raw")


def torch_save(obj, path, fmt):
    torch.save(obj, path, _use_new_zipfile_serialization=FORMATS[fmt])
    return path


def cnn_state_dict():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(12, 2))
    net(torch.randn(2, 1, 4, 4))                      # running stats and num_batches_tracked move
    return net.state_dict()


def zoo():
    """Tensors covering layouts and dtypes; `base` is shared by several views."""
    base = torch.arange(24.0, dtype=torch.float64)
    return {
        "transposed": torch.arange(6.0).reshape(2, 3).t(),
        "view": base[2:14].view(3, 4),
        "strided": base[1::5],
        "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),
        "base": base,
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "half": torch.tensor([0.5, -1.25], dtype=torch.float16),
        "bool": torch.tensor([[True, False]]),
        "ints": [torch.tensor([-3, 4], dtype=t) for t in (torch.int8, torch.int16, torch.int32, torch.int64)],
        "uint8": torch.tensor([0, 255], dtype=torch.uint8),
        "complex": torch.tensor([1 + 2j], dtype=torch.complex64),
        "grad": torch.ones(2, requires_grad=True),
    }


def assert_same(got, want, where="obj"):
    if isinstance(want, torch.Tensor):
        assert isinstance(got, dp.Tensor), where
        assert got.dtype.name == str(want.dtype).removeprefix("torch."), where
        assert tuple(got.shape) == tuple(want.shape), where
        assert got.requires_grad == want.requires_grad, where
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy(), err_msg=where)
    elif isinstance(want, dict):
        assert type(got) is type(want) and list(got) == list(want), where
        for k in want:
            assert_same(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    else:
        assert got == want and type(got) is type(want), where


@pytest.mark.parametrize("fmt", FORMATS)
def test_cnn_state_dict(tmp_path, fmt):
    sd = cnn_state_dict()
    got = dp.load(torch_save(sd, tmp_path / "cnn.pt", fmt))
    assert_same(got, sd)
    assert got["1.num_batches_tracked"].dtype == dp.int64 and got["1.num_batches_tracked"].item() == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_layouts_dtypes_and_containers(tmp_path, fmt):
    obj = {"zoo": zoo(), "meta": ("adam", 3, 0.5, None, True, -7), "nested": [{"step": 4}]}
    got = dp.io.load_torch(torch_save(obj, tmp_path / "zoo.pt", fmt))
    assert_same(got, obj)
    got["zoo"]["base"][2] = 100.0                      # views of one storage share it, as in PyTorch
    obj["zoo"]["base"][2] = 100.0
    assert got["zoo"]["view"][0, 0].item() == obj["zoo"]["view"][0, 0].item() == 100.0
    assert not got["zoo"]["expanded"]._data.flags.writeable     # stride 0: a read-only view


@pytest.mark.parametrize("fmt", FORMATS)
def test_parameter_size_dtype_bfloat16(tmp_path, fmt):
    obj = {"p": torch.nn.Parameter(torch.tensor([1.0, 2.0])),
           "frozen": torch.nn.Parameter(torch.zeros(1), requires_grad=False),
           "size": torch.Size([2, 3]), "dtype": torch.float16,
           "bf16": torch.tensor([1.5, -2.0, 3.0e38], dtype=torch.bfloat16),
           "with_attr": torch.ones(2)}
    obj["with_attr"].note = "pickled via _rebuild_from_type_v2"
    got = dp.load(torch_save(obj, tmp_path / "p.pt", fmt))
    assert isinstance(got["p"], dp.nn.Parameter) and got["p"].requires_grad
    assert isinstance(got["frozen"], dp.nn.Parameter) and not got["frozen"].requires_grad
    assert isinstance(got["size"], dp.Size) and got["size"] == (2, 3)
    assert got["dtype"] is dp.float16
    assert got["with_attr"].tolist() == [1.0, 1.0]                # its Python attributes are dropped
    assert got["bf16"].dtype == dp.float32                     # widened: diffprog has no bfloat16
    np.testing.assert_array_equal(got["bf16"].numpy(), obj["bf16"].float().numpy())


@pytest.mark.parametrize("protocol", [1, 2, 4, 5])
def test_legacy_files_of_every_binary_pickle_protocol(tmp_path, protocol):
    sd = cnn_state_dict()
    path = tmp_path / "p.pt"
    torch.save(sd, path, pickle_protocol=protocol, _use_new_zipfile_serialization=False)
    got = dp.load(path)
    assert_same(got, sd)
    assert got._metadata == sd._metadata                   # as torch.load keeps it


def test_protocol_0_files_are_refused_as_by_torch(tmp_path):
    """Protocol 0 writes persistent ids as text, which torch.load can't read either."""
    path = tmp_path / "p0.pt"
    torch.save({"w": torch.ones(2)}, path, pickle_protocol=0, _use_new_zipfile_serialization=False)
    with pytest.raises(pickle.UnpicklingError, match="unsupported persistent id"):
        dp.load(path)


def test_file_objects_and_map_location(tmp_path):
    for fmt in FORMATS:
        buf = io.BytesIO(b"junk")
        buf.seek(4)
        torch.save({"w": torch.ones(2)}, buf, _use_new_zipfile_serialization=FORMATS[fmt])
        buf.seek(4)
        got = dp.load(buf, map_location=lambda t, loc: t * 2)
        assert got["w"].tolist() == [2.0, 2.0]
        assert dp.load(torch_save(torch.arange(3), tmp_path / f"t{fmt}.pt", fmt), map_location="cpu").tolist() == [0, 1, 2]


NO_TORCH = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, Block())
    import diffprog as dp
    for src in sys.argv[1:]:
        dp.save(dp.load(src), src + ".dp")
    assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
""")


def test_loads_without_torch(tmp_path):
    """The loading code path never imports torch: a subprocess where importing it fails."""
    obj = {"sd": cnn_state_dict(), "x": torch.arange(6.0).reshape(2, 3).t(), "p": torch.nn.Parameter(torch.ones(1))}
    paths = [str(torch_save(obj, tmp_path / f"{fmt}.pt", fmt)) for fmt in FORMATS]
    if os.path.exists(CHECKPOINT):
        paths.append(CHECKPOINT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(dp.__file__)),
                                                       os.environ.get("PYTHONPATH", "")]))
    out_dir = tmp_path / "copy"
    out_dir.mkdir()
    if os.path.exists(CHECKPOINT):                    # write next to a copy, not into the data folder
        paths[-1] = str(out_dir / "bettercnn.weights")
        with open(CHECKPOINT, "rb") as src, open(paths[-1], "wb") as dst:
            dst.write(src.read())
    subprocess.run([sys.executable, "-c", NO_TORCH, *paths], check=True, env=env, timeout=60)
    for path in paths[:2]:
        assert_same(dp.load(path + ".dp"), obj)
    if len(paths) > 2:
        want = torch.load(CHECKPOINT, weights_only=True)
        assert_same(dp.load(paths[2] + ".dp"), want)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvalEvil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w')",))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("payload, name", [(Evil, "system"), (EvalEvil, "eval")])
def test_malicious_pickles_are_refused_and_not_run(tmp_path, fmt, payload, name):
    marker = tmp_path / "pwned"
    path = torch_save({"w": torch.ones(2), "x": payload(str(marker))}, tmp_path / "evil.pt", fmt)
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to unpickle the global .*{name}"):
        dp.load(path, weights_only=False)
    assert not marker.exists()


class OutOfBounds:
    """A tensor whose size reaches past its storage (torch itself can't make one)."""

    def __reduce__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            storage = torch.ones(4).storage()
        return (torch._utils._rebuild_tensor_v2, (storage, 0, (100,), (1,), False, collections.OrderedDict()))


@pytest.mark.parametrize("fmt", FORMATS)
def test_tensor_outside_its_storage_is_corrupt(tmp_path, fmt):
    path = torch_save({"w": OutOfBounds()}, tmp_path / "oob.pt", fmt)
    with pytest.raises(CorruptFileError, match="reaches past its storage"):
        dp.load(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files(tmp_path, fmt):
    data = torch_save({"w": torch.ones(1000)}, tmp_path / "t.pt", fmt).read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[:-100])
    with pytest.raises(CorruptFileError, match="cut.pt"):
        dp.load(tmp_path / "cut.pt")


class BetterCNN(dp.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = dp.nn.Conv2d(1, 32, 5)
        self.conv2 = dp.nn.Conv2d(32, 15, 3)
        self.fc1 = dp.nn.Linear(375, 128)
        self.fc2 = dp.nn.Linear(128, 50)
        self.fc3 = dp.nn.Linear(50, 10)
        self.pool = dp.nn.MaxPool2d(2)

    def forward(self, x):
        F = dp.nn.functional
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x))).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def mnist_test_images(n):
    with gzip.open(os.path.join(MNIST, "t10k-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[:n * 784].reshape(n, 1, 28, 28)
    with gzip.open(os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return ((x / 255.0 - 0.1307) / 0.3081).astype(np.float32), y


@pytest.mark.skipif(not os.path.exists(CHECKPOINT), reason="needs DIFFPROG_DATA/torch-checkpoints/bettercnn.weights")
def test_real_legacy_checkpoint_classifies_mnist():
    model = BetterCNN()
    model.load_state_dict(dp.load(CHECKPOINT))
    model.eval()
    have_mnist = os.path.exists(os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz"))
    x, y = mnist_test_images(500) if have_mnist else (np.random.default_rng(0).standard_normal((8, 1, 28, 28), np.float32), None)

    ref = torch.nn.Module()
    for name, mod in model.named_children():
        ref.add_module(name, getattr(torch.nn, type(mod).__name__)(*{
            "conv1": (1, 32, 5), "conv2": (32, 15, 3), "fc1": (375, 128), "fc2": (128, 50), "fc3": (50, 10),
            "pool": (2,)}[name]))
    ref.load_state_dict(torch.load(CHECKPOINT, weights_only=True))
    with torch.no_grad():
        t = torch.from_numpy(x)
        t = ref.pool(torch.relu(ref.conv1(t)))
        t = ref.pool(torch.relu(ref.conv2(t))).flatten(1)
        want = ref.fc3(torch.relu(ref.fc2(torch.relu(ref.fc1(t))))).numpy()
    with dp.no_grad():
        got = model(dp.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    if have_mnist:
        assert (got.argmax(1) == y).mean() > 0.95
