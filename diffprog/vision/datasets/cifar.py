"""CIFAR-10 and CIFAR-100, read from the python pickle batches in which they are distributed.

The batches are pickles, and unpickling runs whatever code a file names.  They are read by
`safe_load_batch`, whose Unpickler resolves no global at all except stand-ins for the four
names a NumPy uint8 array and Python 3 bytes need (`_reconstruct`, `ndarray`, `dtype`,
`_codecs.encode`); the stand-ins only record shapes, plain numeric dtypes and raw bytes, from
which the arrays are rebuilt with `np.frombuffer`.  Anything else is refused before it runs.
"""
import os
import pickle
import tarfile

import numpy as np

from ...utils.data import Dataset
from .utils import image_item, check_integrity, download_url, resolve_root

__all__ = ["CIFAR10", "CIFAR100", "safe_load_batch"]


class _DType:
    """Stand-in for `numpy.dtype(name, align, copy)`: plain numeric dtypes only."""

    def __init__(self, name, align=False, copy=False):
        if isinstance(name, bytes):
            name = name.decode("latin1")
        dtype = np.dtype(name) if isinstance(name, str) and len(name) <= 4 else None
        if dtype is None or dtype.kind not in "biuf" or dtype.fields is not None:
            raise pickle.UnpicklingError(f"refusing array dtype {name!r}")
        self.dtype = dtype

    def __setstate__(self, state):       # (version, byteorder, ...) as NumPy pickles it
        if state[1] == ">" or (state[1] == "=" and np.little_endian is False):
            self.dtype = self.dtype.newbyteorder(">")


class _Array:
    """Stand-in for `numpy.ndarray`, filled by pickle's BUILD with (version, shape, dtype,
    fortran_order, raw_bytes)."""

    def __setstate__(self, state):
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _DType) or not isinstance(raw, (bytes, bytearray, str)):
            raise pickle.UnpicklingError("refusing an array that is not plain numeric data")
        if isinstance(raw, str):                        # Python 2 str, read as latin1
            raw = raw.encode("latin1")
        shape = tuple(int(s) for s in shape)
        self.array = np.frombuffer(raw, dtype.dtype).reshape(shape, order="F" if fortran else "C")


def _reconstruct(cls, shape, typecode):
    if cls is not _Array:
        raise pickle.UnpicklingError("refusing to reconstruct anything but numpy.ndarray")
    return _Array()


def _encode(text, encoding="utf-8"):
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}")
    return text.encode("latin1")


_ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): _Array,
            ("numpy", "dtype"): _DType,
            ("_codecs", "encode"): _encode}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def _unwrap(obj):
    if isinstance(obj, _Array):
        return obj.array
    if isinstance(obj, dict):
        return {_unwrap(k): _unwrap(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unwrap(v) for v in obj]
    if isinstance(obj, (_DType, type)) or callable(obj):
        raise pickle.UnpicklingError(f"unexpected object {type(obj).__name__} in batch")
    return obj


def safe_load_batch(path):
    """The dict in a CIFAR pickle batch, keys as str; never executes pickled code."""
    try:
        with open(path, "rb") as f:
            obj = _unwrap(_SafeUnpickler(f, encoding="latin1").load())
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise RuntimeError(f"cannot read CIFAR batch {path}: {e}") from e
    if not isinstance(obj, dict):
        raise RuntimeError(f"{path}: expected a dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _safe_extract(archive, dest):
    """Extract regular files and folders of a tar archive, refusing paths that leave `dest`."""
    dest = os.path.realpath(dest)
    with tarfile.open(archive, "r:*") as tar:
        members = []
        for m in tar.getmembers():
            target = os.path.realpath(os.path.join(dest, m.name))
            if not (m.isfile() or m.isdir()) or os.path.commonpath([dest, target]) != dest:
                raise RuntimeError(f"{archive}: refusing unsafe archive member {m.name!r}")
            members.append(m)
        tar.extractall(dest, members=members, filter="data")


class CIFAR10(Dataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32 x 32, in 10 classes.

    Args (as torchvision's): root holds `cifar-10-batches-py/` (None reads DIFFPROG_DATA);
    train picks data_batch_1..5, else test_batch; transform / target_transform apply to
    each image / label; download fetches and checks the archive and extracts it.

    `data` is a uint8 NumPy array N x 32 x 32 x 3, `targets` a list of ints, `classes` the
    class names.  `dataset[i]` is `(image, label)`, the image a PIL RGB image (a uint8 NumPy
    array H x W x 3 without Pillow)."""

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}
    label_key = "labels"

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = resolve_root(root, type(self).__name__)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError(f"{type(self).__name__}: dataset not found. {self._where_to_put()}")
        data, self.targets = [], []
        for name, _ in self.train_list if train else self.test_list:
            batch = safe_load_batch(os.path.join(self.folder, name))
            data.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            self.targets.extend(int(t) for t in batch[self.label_key])
        self.data = np.concatenate(data).transpose(0, 2, 3, 1).copy()
        if len(self.targets) != len(self.data):
            raise RuntimeError(f"{type(self).__name__}: {len(self.data)} images but "
                               f"{len(self.targets)} labels in {self.folder}")
        names = safe_load_batch(os.path.join(self.folder, self.meta["filename"]))[self.meta["key"]]
        self.classes = [c.decode("latin1") if isinstance(c, bytes) else c for c in names]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    @property
    def folder(self):
        return os.path.join(self.root, self.base_folder)

    def _check_exists(self):
        split = self.train_list if self.train else self.test_list
        names = [n for n, _ in split] + [self.meta["filename"]]
        return all(os.path.isfile(os.path.join(self.folder, n)) for n in names)

    def _where_to_put(self):
        return (f"Extract {self.filename} so that {os.path.abspath(self.folder)}{os.sep} holds "
                f"its batches, or pass download=True to fetch it from {self.url}")

    def download(self):
        """Fetch the archive (MD5-checked) and extract it, unless the batches are there."""
        if self._check_exists():
            return
        try:
            archive = download_url(self.url, self.root, self.filename, self.tgz_md5)
        except Exception as e:  # noqa: BLE001 - network errors come in many classes
            raise RuntimeError(f"{type(self).__name__}: could not download {self.url}: {e}\n"
                               f"{self._where_to_put()}") from None
        _safe_extract(archive, self.root)
        for name, md5 in self.train_list + self.test_list:
            if not check_integrity(os.path.join(self.folder, name), md5):
                raise RuntimeError(f"{type(self).__name__}: {name} in {archive} is corrupt")

    def __getitem__(self, index):
        return image_item(self, self.data[index], self.targets[index])

    def __len__(self):
        return len(self.data)

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self):
        lines = [f"Number of datapoints: {len(self)}", f"Root location: {self.root}",
                 self.extra_repr()]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}".replace("\n", "\n    "))
        return f"Dataset {type(self).__name__}\n" + "\n".join("    " + line for line in lines)


class CIFAR100(CIFAR10):
    """CIFAR-100: CIFAR-10's format with 100 fine classes (`targets` are the fine labels)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}
    label_key = "fine_labels"
