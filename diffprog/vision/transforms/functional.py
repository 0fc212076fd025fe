"""Image transforms as functions (torchvision's `transforms.functional`)."""
import numpy as np

from ... import dtypes as _dt
from ...creation import from_numpy
from ...tensor import Tensor
from .. import _image

__all__ = ["to_tensor", "normalize"]


def to_tensor(pic):
    """A PIL image or a NumPy array H x W (x C) as a C x H x W tensor.

    uint8 values (and PIL's 1-bit images) are scaled to [0, 1] in the default float dtype;
    other arrays keep their dtype and values, as in torchvision."""
    if _image.is_pil_image(pic):
        arr = np.array(pic)
        if pic.mode == "1":
            arr = arr.astype(np.uint8) * np.uint8(255)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    chw = arr.transpose(2, 0, 1)
    if chw.dtype == np.uint8:
        return from_numpy(np.divide(chw, 255, dtype=_dt.get_default_dtype().np, order="C"))
    return from_numpy(np.ascontiguousarray(chw))


def normalize(tensor, mean, std, inplace=False):
    """(tensor - mean) / std per channel of a float tensor image (..., C, H, W)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tensor.size()}")
    mean = np.asarray(mean, dtype=tensor.dtype.np)      # NumPy: a check, not a graph node
    std = np.asarray(std, dtype=tensor.dtype.np)
    if not std.all():
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to "
                         "division by zero.")
    mean = from_numpy(mean.reshape(-1, 1, 1) if mean.ndim == 1 else mean)
    std = from_numpy(std.reshape(-1, 1, 1) if std.ndim == 1 else std)
    if inplace:
        return tensor.sub_(mean).div_(std)
    return tensor.sub(mean).div(std)
