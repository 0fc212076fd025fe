"""MNIST from root/MNIST/raw/*.gz, items (uint8 H x W array, int label) as torchvision's."""
import gzip
import os
import struct

import numpy as np


def _idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class MNIST:
    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        prefix = "train" if train else "t10k"
        raw = os.path.join(root, "MNIST", "raw")
        self.data = _idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte.gz"))
        self.targets = _idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x, y = self.data[i], int(self.targets[i])
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y
