"""MNIST and Fashion-MNIST, read from the IDX files in which they are distributed."""
import gzip
import math
import os
import warnings
import zlib

import numpy as np

from ...creation import as_tensor
from ...utils.data import Dataset
from .utils import image_item, download_from_mirrors, resolve_root

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

# IDX type byte -> big-endian NumPy dtype
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """The array stored in an IDX file (gzip-compressed when its name ends in .gz).

    Layout: two zero bytes, a type byte, the number of dimensions, each dimension as a
    big-endian uint32, then the values in C order, big-endian."""
    try:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:    # bad or truncated gzip stream
        raise RuntimeError(f"cannot read IDX file {path}: {e}") from e
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in _IDX_DTYPES:
        raise RuntimeError(f"{path} is not an IDX file: bad magic number 0x{raw[:4].hex()}")
    ndim, start = raw[3], 4 + 4 * raw[3]
    if len(raw) < start:
        raise RuntimeError(f"IDX file {path} is truncated: {len(raw)} bytes, the header alone "
                           f"takes {start}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    size = start + math.prod(shape) * dtype.itemsize
    if len(raw) != size:
        raise RuntimeError(f"IDX file {path} is {'truncated' if len(raw) < size else 'corrupt'}: "
                           f"{len(raw)} bytes, expected {size} for shape {shape}")
    return np.frombuffer(raw, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28 x 28, uint8.

    Args (as torchvision's):
        root: folder holding `MNIST/raw/` with the four IDX files, gzipped as distributed
            or not; None reads the DIFFPROG_DATA environment variable.
        train: the training split, else the test split.
        transform: applied to each image (e.g. `transforms.ToTensor()`).
        target_transform: applied to each label.
        download: fetch the missing files from `mirrors`, verifying their MD5 checksums.

    `data` is a uint8 tensor N x 28 x 28 and `targets` an int64 tensor N.  `dataset[i]` is
    `(image, label)`: a PIL image of mode 'L' when Pillow is installed, else the image as
    a uint8 NumPy array of shape 28 x 28; label is an int.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = resolve_root(root, type(self).__name__)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        self.data, self.targets = self._load_data()

    # `data` and `targets` may be replaced (e.g. `ds.data = ds.data[:1000]`, as in
    # torchvision); items are read from NumPy views of them, which index faster.
    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        self._data = as_tensor(value)
        self._images = self._data.numpy()

    @property
    def targets(self):
        return self._targets

    @targets.setter
    def targets(self, value):
        self._targets = as_tensor(value)
        self._labels = self._targets.numpy()

    # The names torchvision had before `data` and `targets`: still served, with its warning.
    @property
    def train_labels(self):
        warnings.warn("train_labels has been renamed targets")
        return self.targets

    @property
    def test_labels(self):
        warnings.warn("test_labels has been renamed targets")
        return self.targets

    @property
    def train_data(self):
        warnings.warn("train_data has been renamed data")
        return self.data

    @property
    def test_data(self):
        warnings.warn("test_data has been renamed data")
        return self.data

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        return {name: i for i, name in enumerate(self.classes)}

    def _split_files(self):
        prefix = "train" if self.train else "t10k"
        return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]

    def _find(self, name):
        """The path of `name` in raw_folder, uncompressed or gzipped; None when neither."""
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        return None

    def _check_exists(self):
        return all(self._find(name) for name in self._split_files())

    def _where_to_put(self):
        names = " and ".join(name + ".gz" for name in self._split_files())
        return (f"Put {names} (gzipped as distributed, or uncompressed) in "
                f"{os.path.abspath(self.raw_folder)}{os.sep}, or pass download=True to fetch "
                f"them from {self.mirrors[0]}")

    def download(self):
        """Fetch the files not already in raw_folder (no-op when all are there)."""
        for filename, md5 in self.resources:
            if self._find(filename[:-3]) is None:
                try:
                    download_from_mirrors(self.mirrors, filename, self.raw_folder, md5)
                except RuntimeError as e:
                    raise RuntimeError(f"{type(self).__name__}: {e}\n{self._where_to_put()}") from None

    def _load_data(self):
        if not self._check_exists():
            raise RuntimeError(f"{type(self).__name__}: dataset not found. {self._where_to_put()}")
        image_file, label_file = (self._find(name) for name in self._split_files())
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise RuntimeError(f"{image_file}: expected uint8 images N x H x W, got "
                               f"{images.dtype} of shape {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise RuntimeError(f"{label_file}: expected {len(images)} labels, got shape "
                               f"{labels.shape}")
        return as_tensor(images), as_tensor(labels.astype(np.int64))

    def __getitem__(self, index):
        return image_item(self, self._images[index], int(self._labels[index]))

    def __len__(self):
        return len(self._images)

    def __repr__(self):
        lines = [f"Number of datapoints: {len(self)}", f"Root location: {self.root}",
                 f"Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}".replace("\n", "\n    "))
        return f"Dataset {type(self).__name__}\n" + "\n".join("    " + line for line in lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, ten kinds of clothing.

    Files are read from `root/FashionMNIST/raw/`."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
