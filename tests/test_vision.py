"""diffprog.vision: MNIST/FashionMNIST from IDX files (real ones and tiny ones written here),
downloads with MD5 checks, and the transforms ToTensor, Normalize, Compose, Lambda."""
import gzip
import hashlib
import os
import pathlib

import numpy as np
import pytest

import diffprog as dp
from diffprog.utils.data import DataLoader
from diffprog.vision import _image, datasets, transforms as T
from diffprog.vision.datasets.mnist import read_idx

needs_pil = pytest.mark.skipif(_image.Image is None, reason="Pillow not installed")


def idx_bytes(arr, type_byte=0x08):
    arr = np.asarray(arr)
    header = bytes([0, 0, type_byte, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path, data, gz):
    path = pathlib.Path(str(path) + (".gz" if gz else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def tiny_split(raw, prefix, n, gz, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    write(raw / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(raw / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


@pytest.fixture
def fashion_root(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    train = tiny_split(raw, "train", 5, gz=True, seed=1)
    test = tiny_split(raw, "t10k", 3, gz=False, seed=2)
    return tmp_path, train, test


# --- IDX files -------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("arr", [np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
                                 np.array([-3, 7, 1000], dtype=np.int32),
                                 np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)],
                         ids=["uint8", "int32", "float32"])
def test_read_idx(tmp_path, arr, gz):
    type_byte = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[arr.dtype.type]
    path = write(tmp_path / "f", idx_bytes(arr, type_byte), gz)
    out = read_idx(str(path))
    assert out.dtype == arr.dtype and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("mangle, message", [
    (lambda b: b"\x08\x03" + b[2:], "bad magic number"),      # not starting with 0 0
    (lambda b: b[:2] + b"\x42" + b[3:], "bad magic number"),  # unknown type byte
    (lambda b: b[:-5], "truncated"),                          # data cut short
    (lambda b: b[:10], "truncated"),                          # header cut short
    (lambda b: b + b"\0", "corrupt"),                         # trailing bytes
])
def test_read_idx_corrupt_names_the_file(tmp_path, gz, mangle, message):
    good = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    path = write(tmp_path / "train-images-idx3-ubyte", mangle(good), gz)
    with pytest.raises(RuntimeError, match=message) as e:
        read_idx(str(path))
    assert str(path) in str(e.value)


def test_read_idx_truncated_gzip_stream(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))[:-12])
    with pytest.raises(RuntimeError, match="cannot read IDX file") as e:
        read_idx(str(path))
    assert str(path) in str(e.value)


# --- FashionMNIST on tiny files -----------------------------------------------------------

@pytest.mark.parametrize("train", [True, False])
def test_fashion_mnist_tiny(fashion_root, train):
    root, train_split, test_split = fashion_root
    images, labels = train_split if train else test_split
    ds = datasets.FashionMNIST(str(root), train=train)
    assert len(ds) == len(images)
    assert ds.data.dtype == dp.uint8 and tuple(ds.data.shape) == images.shape
    assert ds.targets.dtype == dp.int64
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    assert ds.classes[0] == "T-shirt/top" and ds.class_to_idx["Ankle boot"] == 9
    img, target = ds[1]
    assert type(target) is int and target == labels[1]
    np.testing.assert_array_equal(np.asarray(img), images[1])
    assert f"Split: {'Train' if train else 'Test'}" in repr(ds)


@needs_pil
def test_fashion_mnist_item_is_pil_grayscale(fashion_root):
    img, _ = datasets.FashionMNIST(fashion_root[0])[0]
    assert isinstance(img, _image.Image.Image) and img.mode == "L" and img.size == (28, 28)


def test_without_pillow_items_are_arrays(fashion_root, monkeypatch):
    monkeypatch.setattr(_image, "Image", None)
    ds = datasets.FashionMNIST(fashion_root[0])
    img, _ = ds[2]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    img[:] = 0                                            # a copy: the dataset is unchanged
    np.testing.assert_array_equal(ds.data.numpy()[2], fashion_root[1][0][2])
    x = T.ToTensor()(ds[2][0])
    assert tuple(x.shape) == (1, 28, 28) and x.dtype == dp.float32


def test_transforms_and_dataloader(fashion_root):
    root, (images, labels), _ = fashion_root
    ds = datasets.FashionMNIST(root, transform=T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))]),
                               target_transform=T.Lambda(lambda y: y + 100))
    x, y = ds[0]
    np.testing.assert_allclose(x.numpy()[0], (images[0] / 255 - 0.5) / 0.5, rtol=1e-6, atol=1e-6)
    assert y == labels[0] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(xb.shape) == (4, 1, 28, 28) and xb.dtype == dp.float32
    np.testing.assert_array_equal(yb.numpy(), labels[:4] + 100)
    assert "Target transform: Lambda()" in repr(ds)


def test_root_from_environment(fashion_root, monkeypatch):
    monkeypatch.setenv("DIFFPROG_DATA", str(fashion_root[0]))
    assert len(datasets.FashionMNIST(train=False)) == 3
    monkeypatch.delenv("DIFFPROG_DATA")
    with pytest.raises(ValueError, match="DIFFPROG_DATA"):
        datasets.FashionMNIST()


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(RuntimeError) as e:
        datasets.MNIST(tmp_path, train=False)
    msg = str(e.value)
    assert "dataset not found" in msg and "t10k-images-idx3-ubyte.gz" in msg
    assert os.path.join(str(tmp_path), "MNIST", "raw") in msg and "download=True" in msg


def test_mismatched_label_count(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    tiny_split(raw, "train", 4, gz=False)
    write(raw / "train-labels-idx1-ubyte", idx_bytes(np.zeros(3, np.uint8)), False)
    with pytest.raises(RuntimeError, match="expected 4 labels") as e:
        datasets.FashionMNIST(tmp_path)
    assert "train-labels-idx1-ubyte" in str(e.value)


# --- downloads (from file:// mirrors) -----------------------------------------------------

def make_mirror(tmp_path):
    """A folder serving the four gzipped files, and resources with their MD5s."""
    mirror = tmp_path / "mirror"
    tiny_split(mirror, "train", 4, gz=True)
    tiny_split(mirror, "t10k", 2, gz=True)
    resources = [(p.name, hashlib.md5(p.read_bytes()).hexdigest()) for p in sorted(mirror.iterdir())]
    return mirror.as_uri() + "/", resources


def test_download_tries_mirrors_and_checks_md5(tmp_path, capsys):
    url, resources = make_mirror(tmp_path)

    class Tiny(datasets.FashionMNIST):
        mirrors = [(tmp_path / "nowhere").as_uri() + "/", url]

    Tiny.resources = resources
    ds = Tiny(tmp_path / "root", train=False, download=True)
    assert len(ds) == 2 and "Downloading" in capsys.readouterr().out
    raw = tmp_path / "root" / "Tiny" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(name for name, _ in resources)
    Tiny(tmp_path / "root", download=True)                     # present: nothing fetched
    assert "Downloading" not in capsys.readouterr().out


def test_download_bad_md5_leaves_nothing(tmp_path):
    url, resources = make_mirror(tmp_path)

    class Tiny(datasets.FashionMNIST):
        mirrors = [url]

    Tiny.resources = [(name, "0" * 32) for name, _ in resources]
    with pytest.raises(RuntimeError, match="MD5") as e:
        Tiny(tmp_path / "root", download=True)
    assert "Put " in str(e.value)
    assert list((tmp_path / "root" / "Tiny" / "raw").iterdir()) == []


def test_download_url_skips_verified_file(tmp_path):
    from diffprog.vision.datasets.utils import check_integrity, download_url
    src = tmp_path / "a.bin"
    src.write_bytes(b"hello")
    md5 = hashlib.md5(b"hello").hexdigest()
    out = download_url(src.as_uri(), tmp_path / "dst", md5=md5)
    assert check_integrity(out, md5) and not check_integrity(out, "1" * 32)
    src.unlink()                                   # a second call must not need the source
    assert download_url(src.as_uri(), tmp_path / "dst", md5=md5) == out


# --- real MNIST ---------------------------------------------------------------------------

def real_root():
    root = os.environ.get("DIFFPROG_DATA")
    if not root or not os.path.isdir(os.path.join(root, "MNIST", "raw")):
        pytest.skip("real MNIST needs DIFFPROG_DATA pointing at a folder with MNIST/raw/")
    return root


def test_real_mnist():
    root = real_root()
    train, test = datasets.MNIST(root, train=True), datasets.MNIST(root, train=False)
    assert len(train) == 60000 and len(test) == 10000
    assert tuple(train.data.shape) == (60000, 28, 28) and train.data.dtype == dp.uint8
    assert train.targets[:5].tolist() == [5, 0, 4, 1, 9] and test.targets[:3].tolist() == [7, 2, 1]
    assert np.bincount(train.targets.numpy()).tolist()[:2] == [5923, 6742]
    pixels = train.data.numpy() / 255
    assert abs(pixels.mean() - 0.1307) < 1e-4 and abs(pixels.std() - 0.3081) < 1e-4
    x, y = datasets.MNIST(root, train=False, transform=T.ToTensor())[0]
    assert y == 7 and tuple(x.shape) == (1, 28, 28)
    np.testing.assert_array_equal(x.numpy()[0], test.data.numpy()[0] / np.float32(255))


# --- transforms ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 7), (5, 7, 1), (5, 7, 3), (0, 4)])
def test_to_tensor_uint8_array(shape):
    torch = pytest.importorskip("torch")
    arr = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = T.ToTensor()(arr)
    hwc = arr if arr.ndim == 3 else arr[:, :, None]
    expected = torch.from_numpy(hwc.transpose(2, 0, 1).copy()).float().div(255)
    assert out.dtype == dp.float32 and out.is_contiguous()
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_to_tensor_other_arrays_keep_dtype_and_values():
    arr = np.linspace(0, 3, 24).reshape(2, 4, 3)
    out = T.ToTensor()(arr)
    assert out.dtype == dp.float64 and tuple(out.shape) == (3, 2, 4)
    np.testing.assert_array_equal(out.numpy(), arr.transpose(2, 0, 1))
    assert T.ToTensor()(np.arange(6, dtype=np.int32).reshape(2, 3)).dtype == dp.int32


def test_to_tensor_uses_default_dtype():
    old = dp.get_default_dtype()
    dp.set_default_dtype(dp.float64)
    try:
        assert T.ToTensor()(np.full((2, 2), 255, np.uint8)).dtype == dp.float64
    finally:
        dp.set_default_dtype(old)


@needs_pil
@pytest.mark.parametrize("mode, channels", [("L", 1), ("RGB", 3), ("1", 1)])
def test_to_tensor_pil(mode, channels):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    img = _image.Image.fromarray(rgb).convert(mode)
    out = T.ToTensor()(img)
    arr = np.array(img).astype(np.uint8) * (255 if mode == "1" else 1)
    arr = arr if arr.ndim == 3 else arr[:, :, None]
    assert tuple(out.shape) == (channels, 6, 5)
    np.testing.assert_array_equal(out.numpy(), arr.transpose(2, 0, 1) / np.float32(255))


@pytest.mark.parametrize("bad, error", [(np.zeros(3, np.uint8), ValueError),
                                        (np.zeros((1, 2, 3, 4), np.uint8), ValueError),
                                        ([[1, 2]], TypeError), (dp.zeros(1, 2, 2), TypeError)])
def test_to_tensor_rejects(bad, error):
    with pytest.raises(error, match="pic should be"):
        T.ToTensor()(bad)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
def test_normalize(shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).random(shape).astype(np.float32)
    mean, std = [0.1, 0.5, 0.9], (0.2, 0.3, 0.4)
    out = T.Normalize(mean, std)(dp.tensor(x))
    expected = (torch.tensor(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    assert out.dtype == dp.float32
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


def test_normalize_inplace_and_out_of_place():
    x = dp.ones(1, 2, 2)
    y = T.Normalize((0.5,), (0.25,))(x)
    assert x.tolist() == [[[1.0, 1.0], [1.0, 1.0]]] and y.tolist() == [[[2.0, 2.0], [2.0, 2.0]]]
    z = T.Normalize((0.5,), (0.25,), inplace=True)(x)
    assert z is x and x.tolist() == [[[2.0, 2.0], [2.0, 2.0]]]


def test_normalize_is_differentiable():
    x = dp.rand(2, 3, 3, dtype=dp.float64, requires_grad=True)
    T.Normalize((1.0, 2.0), (0.5, 4.0))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:, 0, 0], [2.0, 0.25])


@pytest.mark.parametrize("x, mean, std, error, match", [
    (dp.zeros(1, 2, 2, dtype=dp.uint8), (0,), (1,), TypeError, "float tensor"),
    (dp.zeros(2, 2), (0,), (1,), ValueError, "size \\(..., C, H, W\\)"),
    (dp.zeros(1, 2, 2), (0,), (0,), ValueError, "std evaluated to zero"),
    (np.zeros((1, 2, 2)), (0,), (1,), TypeError, "Tensor Image"),
])
def test_normalize_rejects(x, mean, std, error, match):
    with pytest.raises(error, match=match):
        T.Normalize(mean, std)(x)


def test_compose_lambda_order_and_repr():
    t = T.Compose([T.Lambda(lambda v: v + 1), T.Lambda(lambda v: v * 10)])
    assert t(1) == 20
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)")
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)


def test_replacing_data_and_targets(fashion_root):
    """Course-lab idiom: shrink the dataset by assigning to .data / .targets."""
    ds = datasets.FashionMNIST(fashion_root[0])
    ds.data, ds.targets = ds.data[:2], ds.targets[:2] + 1
    assert len(ds) == 2 and ds[1][1] == fashion_root[1][1][1] + 1
    ds.data[0] = 7                                        # in place: items see it
    assert np.asarray(ds[0][0]).max() == 7
