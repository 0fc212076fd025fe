"""diffprog.vision: CIFAR-10/100 from pickle batches written here (and a malicious one that
must not run), FakeData, ImageFolder, the PIL/tensor transforms and make_grid/save_image."""
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

import diffprog as dp
from diffprog.vision import _image, datasets, transforms as T, utils
from diffprog.vision.transforms import functional as F
from diffprog.vision.datasets.cifar import _Array, _DType, _safe_extract, safe_load_batch

pytestmark = pytest.mark.skipif(_image.Image is None, reason="Pillow not installed")
Image = _image.Image
RNG = np.random.default_rng(0)


def cifar_files(root, n=4, kind="cifar-10", protocol=2):
    """Batches as CIFAR's python version has them: dicts of bytes keys, data N x 3072 uint8."""
    folder = root / ("cifar-10-batches-py" if kind == "cifar-10" else "cifar-100-python")
    folder.mkdir(parents=True)
    names = ([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] if kind == "cifar-10"
             else ["train", "test"])
    label_key = b"labels" if kind == "cifar-10" else b"fine_labels"
    images, labels = {}, {}
    for k, name in enumerate(names):
        images[name] = RNG.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels[name] = [int(v) for v in RNG.integers(0, 10, n)]
        batch = {b"batch_label": b"batch " + name.encode(), label_key: labels[name],
                 b"data": images[name].transpose(0, 3, 1, 2).reshape(n, 3072),
                 b"filenames": [b"f%d.png" % i for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    meta = ({b"label_names": [b"c%d" % i for i in range(10)]} if kind == "cifar-10" else
            {b"fine_label_names": [b"f%d" % i for i in range(100)], b"coarse_label_names": []})
    (folder / ("batches.meta" if kind == "cifar-10" else "meta")).write_bytes(
        pickle.dumps(meta, protocol=protocol))
    return images, labels


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar10_reads_batches(tmp_path, protocol):
    images, labels = cifar_files(tmp_path, protocol=protocol)
    train = datasets.CIFAR10(tmp_path, train=True)
    assert train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data, np.concatenate(
        [images[f"data_batch_{i}"] for i in range(1, 6)]))
    assert train.targets == sum((labels[f"data_batch_{i}"] for i in range(1, 6)), [])
    assert train.classes == [f"c{i}" for i in range(10)] and train.class_to_idx["c3"] == 3
    test = datasets.CIFAR10(tmp_path, train=False, transform=T.ToTensor())
    img, label = test[2]
    assert label == labels["test_batch"][2]
    np.testing.assert_allclose(img.numpy(), images["test_batch"][2].transpose(2, 0, 1) / 255,
                               rtol=1e-6)
    pil, _ = datasets.CIFAR10(tmp_path, train=False)[1]
    assert pil.mode == "RGB" and np.array_equal(np.array(pil), images["test_batch"][1])


def test_cifar100_fine_labels(tmp_path):
    images, labels = cifar_files(tmp_path, n=3, kind="cifar-100")
    ds = datasets.CIFAR100(tmp_path, train=False)
    assert len(ds) == 3 and ds.targets == labels["test"] and len(ds.classes) == 100
    np.testing.assert_array_equal(ds.data, images["test"])


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(os.environ["EVIL_DIR"], "pwned"),))


@pytest.mark.parametrize("payload", [
    lambda: {b"data": _Evil()},
    lambda: {b"data": np.array([1, "x"], dtype=object)},      # object arrays hold globals
    lambda: {b"data": [eval]},
])
def test_malicious_pickle_is_refused_without_running(tmp_path, monkeypatch, payload):
    monkeypatch.setenv("EVIL_DIR", str(tmp_path))
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(payload(), protocol=2))
    with pytest.raises(RuntimeError, match="cannot read CIFAR batch .*data_batch_1.*refusing"):
        safe_load_batch(path)
    assert not (tmp_path / "pwned").exists()


def test_safe_load_keeps_dtype_and_byte_order(tmp_path):
    arr = np.arange(12, dtype=">i4").reshape(3, 4)
    (tmp_path / "b").write_bytes(pickle.dumps({"data": arr, "f": np.asfortranarray(arr)}, 2))
    got = safe_load_batch(tmp_path / "b")
    np.testing.assert_array_equal(got["data"], arr)
    np.testing.assert_array_equal(got["f"], arr)
    py2 = _Array()      # Python 2 pickles hold the raw bytes as a str, read back as latin1
    py2.__setstate__((1, (2,), _DType("u1"), False, "\xff\x01"))
    assert py2.array.tolist() == [255, 1]


def test_cifar_missing_files_says_where(tmp_path):
    with pytest.raises(RuntimeError, match="cifar-10-batches-py.*download=True"):
        datasets.CIFAR10(tmp_path)


def test_cifar_download_checks_md5_and_extracts(tmp_path, monkeypatch):
    src = tmp_path / "src"
    cifar_files(src, n=2)
    archive = tmp_path / "c.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    md5s = {p.name: hashlib.md5(p.read_bytes()).hexdigest()
            for p in (src / "cifar-10-batches-py").iterdir()}
    monkeypatch.setattr(datasets.CIFAR10, "url", archive.as_uri())
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(datasets.CIFAR10, "train_list",
                        [[n, md5s[n]] for n, _ in datasets.CIFAR10.train_list])
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
    ds = datasets.CIFAR10(tmp_path / "root", download=True)
    assert len(ds) == 10
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(RuntimeError, match="corrupt"):
        datasets.CIFAR10(tmp_path / "other", download=True)
    assert not (tmp_path / "other" / "cifar-10-python.tar.gz").exists()


def test_safe_extract_refuses_escaping_members(tmp_path):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(RuntimeError, match="unsafe archive member"):
        _safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.skipif(not os.environ.get("DIFFPROG_DATA"), reason="DIFFPROG_DATA not set")
def test_real_cifar_images_round_trip(tmp_path):
    real = np.load(os.path.join(os.environ["DIFFPROG_DATA"], "cifar10", "cifar10_subset.npz"))
    x, y = real["x_test"][:50], [int(v) for v in real["y_test"][:50]]
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps(
        {b"data": x.transpose(0, 3, 1, 2).reshape(50, -1), b"labels": y}, 2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a"] * 10}, 2))
    ds = datasets.CIFAR10(tmp_path, train=False, transform=T.Compose(
        [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
         T.Normalize((0.5,) * 3, (0.5,) * 3)]))
    np.testing.assert_array_equal(ds.data, x)
    img, label = ds[7]
    assert img.shape == (3, 32, 32) and label == y[7]
    assert -1 <= img.min().item() <= img.max().item() <= 1


def test_fakedata():
    ds = datasets.FakeData(size=5, image_size=(3, 8, 6), num_classes=4, transform=T.PILToTensor())
    img, label = ds[3]
    assert len(ds) == 5 and img.shape == (3, 8, 6) and img.dtype == dp.uint8 and 0 <= label < 4
    assert np.array_equal(ds[3][0].numpy(), img.numpy()) and ds[3][1] == label
    assert not np.array_equal(ds[2][0].numpy(), img.numpy())
    with pytest.raises(IndexError):
        ds[5]


def png_tree(root):
    arrays = {}
    for cls in ("cat", "dog"):
        (root / cls / "sub").mkdir(parents=True)
        for k in range(2):
            arr = RNG.integers(0, 256, (5, 4, 3), dtype=np.uint8)
            path = root / cls / ("sub" if k else "") / f"{k}.png"
            Image.fromarray(arr).save(path)
            arrays[str(path)] = arr
    (root / "dog" / "notes.txt").write_text("not an image")
    return arrays


def test_image_folder(tmp_path):
    arrays = png_tree(tmp_path)
    ds = datasets.ImageFolder(tmp_path, transform=T.PILToTensor())
    assert ds.classes == ["cat", "dog"] and ds.targets == [0, 0, 1, 1] and len(ds) == 4
    for (path, target), (img, t) in zip(ds.samples, ds):
        assert t == target and np.array_equal(img.numpy().transpose(1, 2, 0), arrays[path])
    only_sub = datasets.DatasetFolder(tmp_path, np.load, is_valid_file=lambda p: "sub" in p)
    assert len(only_sub) == 2


def test_image_folder_undecodable_file_is_named(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(RuntimeError, match="broken.png"):
        datasets.ImageFolder(tmp_path)[0]
    with pytest.raises(FileNotFoundError, match="class folder"):
        datasets.ImageFolder(tmp_path / "a")


# ---- deterministic transforms: against PIL / NumPy directly ------------------------------

RGB = RNG.integers(0, 256, (7, 10, 3), dtype=np.uint8)


def pil():
    return Image.fromarray(RGB)


def chw():
    return dp.from_numpy(RGB.transpose(2, 0, 1).copy())


def hwc(t):
    return t.numpy().transpose(1, 2, 0)


@pytest.mark.parametrize("size,expect", [((4, 6), (4, 6)), (5, (5, 7)), ([14], (14, 20))])
def test_resize(size, expect):
    out = T.Resize(size)(pil())
    assert out.size == expect[::-1]
    assert np.array_equal(np.array(out), np.array(pil().resize(expect[::-1], Image.BILINEAR)))
    t = T.Resize(size)(chw())
    assert t.shape == (3, *expect) and t.dtype == dp.uint8
    ft = T.Resize(size, antialias=False)(chw().float())
    ref = dp.nn.functional.interpolate(chw().float()[None], size=expect, mode="bilinear",
                                       align_corners=False)[0]
    np.testing.assert_allclose(ft.numpy(), ref.numpy())


@pytest.mark.parametrize("size", [(3, 4), 5, (9, 12)])
def test_center_crop_matches_slicing_and_pads(size):
    h, w = (size, size) if isinstance(size, int) else size
    padded = np.pad(RGB, [((max(h - 7, 0)) // 2, (max(h - 7, 0) + 1) // 2),
                          ((max(w - 10, 0)) // 2, (max(w - 10, 0) + 1) // 2), (0, 0)])
    top, left = int(round((padded.shape[0] - h) / 2)), int(round((padded.shape[1] - w) / 2))
    expect = padded[top:top + h, left:left + w]
    assert np.array_equal(np.array(T.CenterCrop(size)(pil())), expect)
    assert np.array_equal(hwc(T.CenterCrop(size)(chw())), expect)


@pytest.mark.parametrize("padding,mode", [(2, "constant"), ((1, 3), "edge"),
                                          ((1, 2, 3, 0), "reflect"), (2, "symmetric")])
def test_pad_matches_numpy(padding, mode):
    p = [padding] * 4 if isinstance(padding, int) else list(padding) * (4 // len(padding))
    expect = np.pad(RGB, [(p[1], p[3]), (p[0], p[2]), (0, 0)], mode=mode)
    assert np.array_equal(np.array(T.Pad(padding, padding_mode=mode)(pil())), expect)
    assert np.array_equal(hwc(T.Pad(padding, padding_mode=mode)(chw())), expect)
    filled = np.array(T.Pad(1, fill=(1, 2, 3))(pil()))
    assert filled[0, 0].tolist() == [1, 2, 3]


def test_flips_and_conversions():
    assert np.array_equal(np.array(T.RandomHorizontalFlip(1.0)(pil())), RGB[:, ::-1])
    assert np.array_equal(np.array(T.RandomVerticalFlip(1.0)(pil())), RGB[::-1])
    assert np.array_equal(hwc(T.RandomHorizontalFlip(1.0)(chw())), RGB[:, ::-1])
    assert np.array_equal(hwc(T.RandomVerticalFlip(1.0)(chw())), RGB[::-1])
    assert np.array_equal(np.array(T.RandomHorizontalFlip(0.0)(pil())), RGB)
    assert np.array_equal(np.array(T.ToPILImage()(T.PILToTensor()(pil()))), RGB)
    assert np.array_equal(np.array(T.ToPILImage()(T.ToTensor()(pil()) + 1e-4)), RGB)
    assert T.ToPILImage()(dp.zeros(1, 3, 2)).mode == "L"


@pytest.mark.parametrize("angle", [90, -90, 180, 33])
def test_rotation_matches_pil(angle):
    expect = np.array(pil().rotate(angle))
    assert np.array_equal(np.array(F.rotate(pil(), angle)), expect)
    assert np.array_equal(hwc(F.rotate(chw(), angle)), expect)


def test_affine_translation_and_fill():
    out = hwc(F.affine(chw(), 0, (2, 1), 1.0, 0, fill=9))
    assert np.array_equal(out[1:, 2:], RGB[:-1, :-2]) and (out[0] == 9).all()
    np.testing.assert_array_equal(np.array(F.affine(pil(), 0, (2, 1), 1.0, 0, fill=9)), out)


def test_grayscale_and_color_adjustments():
    gray = np.array(T.Grayscale()(pil()))
    assert np.array_equal(gray, np.array(pil().convert("L")))
    t = T.Grayscale(3)(chw().float() / 255)
    ref = (0.2989 * RGB[..., 0] + 0.587 * RGB[..., 1] + 0.114 * RGB[..., 2]) / 255
    assert t.shape == (3, 7, 10)
    np.testing.assert_allclose(t.numpy()[2], ref, rtol=1e-5)
    np.testing.assert_array_equal(F.adjust_brightness(chw(), 0.5).numpy(),
                                  np.round(RGB.transpose(2, 0, 1) * 0.5))
    assert np.abs(np.array(F.adjust_hue(pil(), 0.0), dtype=int) - RGB).max() <= 1
    twice = F.adjust_hue(F.adjust_hue(chw().double() / 255, 0.5), 0.5)
    np.testing.assert_allclose(twice.numpy(), RGB.transpose(2, 0, 1) / 255, atol=1e-9)
    flat = F.adjust_saturation(chw().double(), 0.0).numpy()
    np.testing.assert_allclose(flat[0], flat[1])
    mid = F.adjust_contrast(chw().double() / 255, 0.0).numpy()
    np.testing.assert_allclose(mid, np.full_like(mid, ref.mean()), rtol=1e-6)


def test_gaussian_blur_matches_explicit_convolution():
    x = RNG.random((2, 6, 7))
    k = np.exp(-0.5 * (np.arange(3) - 1.0) ** 2 / 0.8 ** 2)
    k /= k.sum()
    p = np.pad(x, [(0, 0), (1, 1), (1, 1)], mode="reflect")
    expect = sum(k[a] * k[b] * p[:, a:a + 6, b:b + 7] for a in range(3) for b in range(3))
    np.testing.assert_allclose(F.gaussian_blur(dp.from_numpy(x), 3, 0.8).numpy(), expect)
    blurred = T.GaussianBlur(5, (0.5, 1.5))(pil())
    assert blurred.size == pil().size and blurred.mode == "RGB"


# ---- random transforms: shapes, ranges, reproducibility under diffprog.manual_seed --------

RANDOM = [T.RandomCrop(6, padding=2, padding_mode="reflect"),
          T.RandomCrop((9, 12), pad_if_needed=True),
          T.RandomResizedCrop(5), T.RandomRotation(30), T.ColorJitter(0.4, 0.4, 0.4, 0.1),
          T.RandomAffine(20, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=10),
          T.GaussianBlur(3), T.RandomHorizontalFlip()]


def as_array(img):
    return img.numpy() if isinstance(img, dp.Tensor) else np.array(img)


@pytest.mark.parametrize("transform", RANDOM, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_random_transforms_are_seeded(transform, as_tensor):
    img = chw() if as_tensor else pil()
    outs = []
    for _ in range(2):
        dp.manual_seed(3)
        outs.append([as_array(transform(img)) for _ in range(3)])
    for a, b in zip(*outs):
        assert np.array_equal(a, b)
    assert outs[0][0].dtype == np.uint8
    if not isinstance(transform, (T.RandomHorizontalFlip, T.GaussianBlur)):
        assert any(not np.array_equal(outs[0][0], o) for o in outs[0][1:])


def test_random_crop_is_a_window_of_the_padded_image():
    dp.manual_seed(0)
    padded = np.pad(RGB, [(2, 2), (2, 2), (0, 0)])
    for _ in range(5):
        out = np.array(T.RandomCrop((7, 10), padding=2)(pil()))
        assert any(np.array_equal(out, padded[i:i + 7, j:j + 10])
                   for i in range(5) for j in range(5))
    assert T.RandomResizedCrop((4, 3))(chw()).shape == (3, 4, 3)
    with pytest.raises(ValueError, match="larger than input"):
        T.RandomCrop(8)(pil())


def test_random_erasing():
    dp.manual_seed(1)
    x = dp.ones(3, 20, 20)
    out = T.RandomErasing(p=1.0, value=(0, 0, 0))(x)
    assert (x.numpy() == 1).all() and (out.numpy() == 0).any()
    zero = out.numpy()[0] == 0
    rows, cols = np.nonzero(zero)
    assert zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert T.RandomErasing(p=0.0)(x) is x
    with pytest.raises(TypeError):
        T.RandomErasing(p=1.0)(pil())


# ---- make_grid / save_image ----------------------------------------------------------

def test_make_grid_matches_hand_built():
    x = RNG.random((5, 1, 2, 3)).astype(np.float32)
    grid = utils.make_grid(dp.from_numpy(x), nrow=2, padding=1, pad_value=0.5).numpy()
    expect = np.full((3, 3 * 3 + 1, 2 * 4 + 1), 0.5, np.float32)
    for k in range(5):
        r, c = divmod(k, 2)
        expect[:, 1 + 3 * r:3 + 3 * r, 1 + 4 * c:4 + 4 * c] = x[k, 0]
    np.testing.assert_array_equal(grid, expect)
    norm = utils.make_grid(dp.from_numpy(x * 4 - 1), normalize=True, padding=0).numpy()
    assert norm.min() == 0 and norm.max() == 1
    ranged = utils.make_grid([dp.from_numpy(x[0] * 4 - 1)], normalize=True, value_range=(-1, 1))
    np.testing.assert_allclose(ranged.numpy()[0], np.clip(x[0, 0] * 4 - 1, -1, 1) / 2 + 0.5,
                               rtol=1e-6)
    each = utils.make_grid(dp.from_numpy(np.stack([x[0], x[1] * 10])), normalize=True,
                           scale_each=True, padding=0).numpy()
    assert each[:, :, :3].max() == 1 and each[:, :, 3:].max() == 1


def test_save_image_round_trips(tmp_path):
    x = dp.from_numpy(RGB.transpose(2, 0, 1) / 255.0)
    utils.save_image(x, tmp_path / "img.png")
    assert np.array_equal(np.array(Image.open(tmp_path / "img.png")), RGB)
    utils.save_image(dp.from_numpy(np.stack([RGB.transpose(2, 0, 1)] * 3) / 255.0),
                     tmp_path / "grid.png", nrow=3, padding=0)
    assert np.array_equal(np.array(Image.open(tmp_path / "grid.png")), np.tile(RGB, (1, 3, 1)))


def test_random_grayscale_and_random_apply():
    from diffprog.vision import transforms as T
    img = dp.rand(3, 5, 6)
    dp.manual_seed(0)
    always, never = T.RandomGrayscale(p=1.0), T.RandomGrayscale(p=0.0)
    g = always(img).numpy()
    assert g.shape == (3, 5, 6) and np.allclose(g[0], g[1]) and np.allclose(g[1], g[2])
    assert never(img) is img
    flip = T.RandomApply([T.RandomHorizontalFlip(p=1.0)], p=0.5)
    flipped = sum(bool(np.allclose(flip(img).numpy(), img.numpy()[..., ::-1])) for _ in range(400))
    assert 150 < flipped < 250          # p = 0.5 of 400 draws, 5 standard deviations
    assert repr(T.RandomApply([T.Grayscale()], p=0.3)) == "RandomApply(transforms=[Grayscale(num_output_channels=1)], p=0.3)"
