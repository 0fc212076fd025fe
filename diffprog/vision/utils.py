"""Image grids and saving images (torchvision's `utils.make_grid` and `utils.save_image`)."""
import math

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor
from . import _image

__all__ = ["make_grid", "save_image"]


def _normalized(arr, value_range, scale_each):
    """Min-max scale to [0, 1] over `value_range` (or the data's own range)."""
    def scale(a):
        low, high = value_range if value_range is not None else (a.min(), a.max())
        return np.clip(a, low, high).__isub__(low).__itruediv__(max(high - low, 1e-5))
    if scale_each:
        return np.stack([scale(a) for a in arr]) if len(arr) else arr
    return scale(arr)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """A batch of images B x C x H x W (or a list of C x H x W) tiled into one C x H' x W'
    image, `nrow` images per row, `padding` pixels of `pad_value` around each."""
    if isinstance(tensor, (list, tuple)):
        arr = np.stack([t.detach().numpy() if isinstance(t, Tensor) else np.asarray(t)
                        for t in tensor])
    elif isinstance(tensor, Tensor):
        arr = tensor.detach().numpy()
    else:
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:                   # one image C x H x W
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected images B x C x H x W, got shape {arr.shape}")
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    if normalize:
        arr = _normalized(arr.astype(np.result_type(arr.dtype, np.float32)), value_range,
                          scale_each)
    if arr.shape[0] == 1:
        return from_numpy(np.ascontiguousarray(arr[0]))
    n, c, h, w = arr.shape
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    hp, wp = h + padding, w + padding
    grid = np.full((c, hp * ymaps + padding, wp * xmaps + padding), pad_value, dtype=arr.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        top, left = y * hp + padding, x * wp + padding
        grid[:, top:top + h, left:left + w] = arr[k]
    return from_numpy(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Save a tensor image (or a grid of a batch, `make_grid`'s kwargs) as a PNG/JPEG/...;
    values in [0, 1] become bytes round(255 x + 0.5) clipped as in torchvision."""
    if _image.Image is None:
        raise ImportError("save_image needs Pillow: pip install pillow")
    grid = make_grid(tensor, **kwargs).numpy()
    arr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    img = _image.Image.fromarray(np.ascontiguousarray(arr[:, :, 0] if arr.shape[2] == 1 else arr))
    img.save(fp, format=format)
