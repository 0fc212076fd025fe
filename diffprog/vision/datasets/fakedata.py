"""FakeData: random images with random labels, the same for a given index and seed."""
import numpy as np

from ...utils.data import Dataset
from .. import _image

__all__ = ["FakeData"]


class FakeData(Dataset):
    """`size` random images of `image_size` (C, H, W) with labels in [0, num_classes).

    Item i is drawn from a NumPy generator seeded with (random_offset + i), so it does not
    depend on the global RNG or the order of access, as in torchvision."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        self.size, self.image_size, self.num_classes = size, tuple(image_size), num_classes
        self.transform, self.target_transform = transform, target_transform
        self.random_offset = random_offset

    def __getitem__(self, index):
        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range")
        rng = np.random.default_rng(index % self.size + self.random_offset)
        target = int(rng.integers(0, self.num_classes))
        c, h, w = self.image_size
        img = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
        img = img[:, :, 0] if c == 1 else img
        if _image.Image is not None:
            img = _image.Image.fromarray(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.size
