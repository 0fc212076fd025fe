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


# ---- geometry and colour on PIL images and tensors (..., C, H, W) -------------------------
# Tensor images go through NumPy (these transforms prepare data; they are not graph nodes).

import enum  # noqa: E402
import math  # noqa: E402
import numbers  # noqa: E402

__all__ += ["InterpolationMode", "pil_to_tensor", "to_pil_image", "get_dimensions",
            "get_image_size", "hflip", "vflip", "crop", "center_crop", "pad", "resize",
            "resized_crop", "affine", "rotate", "adjust_brightness", "adjust_contrast",
            "adjust_saturation", "adjust_hue", "rgb_to_grayscale", "erase", "gaussian_blur"]


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _mode(interpolation):
    """An InterpolationMode from itself or its name ('bilinear')."""
    return InterpolationMode(getattr(interpolation, "value", interpolation))


def _pil_resample(interpolation):
    return getattr(_image.Image.Resampling, _mode(interpolation).name)


def _check_image(img):
    if not (_image.is_pil_image(img) or isinstance(img, Tensor)):
        raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
    if isinstance(img, Tensor) and img.ndim < 2:
        raise TypeError(f"Tensor is not a torch image: expected (..., C, H, W), got shape "
                        f"{tuple(img.shape)}")
    return _image.is_pil_image(img)


def _like(arr, img):
    """A NumPy result in the form of `img`: a tensor of its dtype, or a PIL image of its mode."""
    if isinstance(img, Tensor):
        return from_numpy(np.ascontiguousarray(arr))
    out = _image.Image.fromarray(np.ascontiguousarray(arr))
    return out.convert(img.mode) if out.mode != img.mode else out


def _float_to_dtype(arr, img):
    """Round a float result back to an integer tensor's range, as torchvision does."""
    dtype = img.numpy().dtype if isinstance(img, Tensor) else np.uint8
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(arr), info.min, info.max).astype(dtype)
    return arr.astype(dtype, copy=False)


def pil_to_tensor(pic):
    """A PIL image as a C x H x W tensor of its own dtype (no scaling)."""
    if not _image.is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """A tensor C x H x W or array H x W (x C) as a PIL image; floats in [0, 1] -> uint8."""
    if _image.Image is None:
        raise ImportError("to_pil_image needs Pillow: pip install pillow")
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic.detach().numpy()
        arr = arr[None] if arr.ndim == 2 else arr
        arr = arr.transpose(1, 2, 0)
        if np.issubdtype(arr.dtype, np.floating) and mode != "F":
            arr = (arr * 255).astype(np.uint8)          # torchvision truncates: mul(255).byte()
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
        if mode is None:
            mode = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.int32): "I",
                    np.dtype(np.float32): "F"}.get(arr.dtype)
            if mode is None:
                raise TypeError(f"Input type {arr.dtype} is not supported")
    elif mode is None:
        mode = {2: "LA", 3: "RGB", 4: "RGBA"}.get(arr.shape[2])
        if mode is None or arr.dtype != np.uint8:
            raise TypeError(f"cannot infer a PIL mode for {arr.shape[2]} channels of {arr.dtype}")
    img = _image.Image.fromarray(np.ascontiguousarray(arr))
    return img if img.mode == mode else img.convert(mode)


def get_dimensions(img):
    """[channels, height, width]."""
    if _check_image(img):
        return [len(img.getbands()), img.height, img.width]
    return [1 if img.ndim == 2 else img.shape[-3], img.shape[-2], img.shape[-1]]


def get_image_size(img):
    """[width, height]."""
    _, h, w = get_dimensions(img)
    return [w, h]


def hflip(img):
    if _check_image(img):
        return img.transpose(_image.Image.Transpose.FLIP_LEFT_RIGHT)
    return img.flip(-1)


def vflip(img):
    if _check_image(img):
        return img.transpose(_image.Image.Transpose.FLIP_TOP_BOTTOM)
    return img.flip(-2)


def crop(img, top, left, height, width):
    """The box of `height` x `width` at (top, left); parts outside the image are 0."""
    if _check_image(img):
        return img.crop((left, top, left + width, top + height))
    h, w = img.shape[-2:]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        pads = [max(-left, 0), max(-top, 0), max(left + width - w, 0), max(top + height - h, 0)]
        img = pad(img, pads)
        top, left = top + pads[1], left + pads[0]
    return img[..., top:top + height, left:left + width]


def _pair(size, name):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    size = tuple(size)
    if len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(f"{name} should be an int or a sequence of 1 or 2 ints, got {size}")
    return size


def center_crop(img, output_size):
    """The central `output_size` (h, w) box, zero-padded first where the image is smaller."""
    ch, cw = _pair(output_size, "output_size")
    _, h, w = get_dimensions(img)
    if ch > h or cw > w:
        img = pad(img, [(cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                        (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0])
        _, h, w = get_dimensions(img)
        if ch == h and cw == w:
            return img
    return crop(img, int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw)


_NP_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
                 "symmetric": "symmetric"}


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad by an int (all sides), (left/right, top/bottom) or (left, top, right, bottom)."""
    if padding_mode not in _NP_PAD_MODES:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    if isinstance(padding, numbers.Number):
        padding = [padding]
    padding = [int(p) for p in padding]
    if len(padding) not in (1, 2, 4):
        raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    left, top, right, bottom = (padding * 4 if len(padding) == 1 else
                                padding * 2 if len(padding) == 2 else padding)
    is_pil = _check_image(img)
    arr = np.array(img) if is_pil else img.numpy()
    if is_pil and img.mode == "P":
        raise NotImplementedError("pad: palette images are not supported; convert first")
    if is_pil:
        width = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
    else:
        width = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    crop_back = [slice(None)] * arr.ndim        # negative padding crops
    for i, (a, b) in enumerate(width):
        crop_back[i] = slice(max(-a, 0), arr.shape[i] - max(-b, 0))
        width[i] = (max(a, 0), max(b, 0))
    arr = arr[tuple(crop_back)]
    if padding_mode == "constant":
        if is_pil and arr.ndim == 3 and not isinstance(fill, numbers.Number):
            out = np.stack([np.pad(arr[..., c], width[:2], constant_values=f)
                            for c, f in enumerate(fill)], axis=-1)
        else:
            out = np.pad(arr, width, constant_values=fill)
    else:
        out = np.pad(arr, width, mode=_NP_PAD_MODES[padding_mode])
    return _like(out, img)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to (h, w), or match the smaller edge to an int `size` keeping the aspect ratio.

    PIL images use Pillow's resampling (antialiased); tensors use `interpolate`, without
    antialiasing."""
    _, h, w = get_dimensions(img)
    if isinstance(size, numbers.Number) or len(size) == 1:
        size = size if isinstance(size, numbers.Number) else size[0]
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = int(size), int(size * long / short)
        if max_size is not None:
            if max_size <= size:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                                 f"requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        oh, ow = (new_long, new_short) if w <= h else (new_short, new_long)
    else:
        if max_size is not None:
            raise ValueError("max_size should only be passed if size specifies the length of "
                             "the smaller edge")
        oh, ow = size
    if (oh, ow) == (h, w):
        return img
    if _check_image(img):
        return img.resize((ow, oh), _pil_resample(interpolation))
    from ...ops.pool import interpolate
    mode = _mode(interpolation).value
    x = img.reshape(-1, *img.shape[-3:]) if img.ndim >= 3 else img[None, None]
    xf = x if x.is_floating_point() else x.to(_dt.get_default_dtype())
    out = interpolate(xf, size=(oh, ow), mode=mode,
                      align_corners=False if mode in ("bilinear", "bicubic") else None)
    out = out.reshape(*img.shape[:-2], oh, ow)
    return out if img.is_floating_point() else from_numpy(_float_to_dtype(out.numpy(), img))


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def _inverse_affine_matrix(center, angle, translate, scale, shear):
    """The 2 x 3 map from output to input pixel coordinates (torchvision's convention:
    rotate by `angle` degrees clockwise-in-image about `center`, shear, scale, translate)."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    # forward RSS = R(rot) Shear(sx, sy) Scale; its inverse, then undo center and translation
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    a, b, c, d = (round(v, 15) for v in (a, b, c, d))   # cos(90 deg) -> 0 exactly, as Pillow
    inv = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    inv[2] = inv[0] * (-cx - tx) + inv[1] * (-cy - ty) + cx
    inv[5] = inv[3] * (-cx - tx) + inv[4] * (-cy - ty) + cy
    return inv


def _affine_array(arr, m, out_hw, nearest, fill):
    """Sample `arr` (..., H, W) at the input coordinates `m` gives for each output pixel."""
    h, w = arr.shape[-2:]
    oh, ow = out_hw
    ys, xs = np.meshgrid(np.arange(oh) + 0.5, np.arange(ow) + 0.5, indexing="ij")
    x = m[0] * xs + m[1] * ys + m[2] - 0.5
    y = m[3] * xs + m[4] * ys + m[5] - 0.5
    fill = np.asarray(0 if fill is None else fill, dtype=np.float64).reshape(-1, 1, 1)
    src = arr.astype(np.float64)
    if nearest:
        xi, yi = np.floor(x + 0.5).astype(np.int64), np.floor(y + 0.5).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out = src[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return np.where(inside, out, fill if arr.ndim >= 3 else fill[0])
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    out = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - np.abs(x - xi)) * (1 - np.abs(y - yi))
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            val = np.where(inside, src[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)],
                           fill if arr.ndim >= 3 else fill[0])
            out = out + weight * val
    return out


def _pil_fill(fill, img):
    """A fill value as Pillow wants it: one number per band."""
    if fill is None:
        return None
    bands = len(img.getbands())
    fill = [fill] * bands if isinstance(fill, numbers.Number) else list(fill)
    return fill[0] if bands == 1 else tuple(fill)


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST,
           fill=None, center=None):
    """Rotate by `angle` degrees clockwise, translate, scale and shear about the
    centre (or `center`), keeping the size; uncovered pixels get `fill`."""
    if isinstance(shear, numbers.Number):
        shear = (shear, 0.0)
    shear = tuple(shear) + (0.0,) * (2 - len(shear))
    _, h, w = get_dimensions(img)
    center = (w * 0.5, h * 0.5) if center is None else (center[0] + 0.5, center[1] + 0.5)
    m = _inverse_affine_matrix(center, angle, translate, scale, shear)
    nearest = _mode(interpolation) is InterpolationMode.NEAREST
    if _check_image(img):
        return img.transform((w, h), _image.Image.Transform.AFFINE, m,
                             _pil_resample(interpolation), fillcolor=_pil_fill(fill, img))
    out = _affine_array(img.numpy(), m, (h, w), nearest, fill)
    return from_numpy(_float_to_dtype(out, img))


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
           fill=None):
    """Rotate counter-clockwise by `angle` degrees about the centre (or `center`)."""
    if expand:
        if not _check_image(img):
            raise NotImplementedError("rotate: expand=True is supported for PIL images only")
        return img.rotate(angle, _pil_resample(interpolation), expand, center,
                          fillcolor=_pil_fill(fill, img))
    return affine(img, -angle, (0, 0), 1.0, (0.0, 0.0), interpolation, fill, center)


def _as_float_chw(img):
    """(float array (..., C, H, W) on the image's 0..255 or 0..1 scale, bound)."""
    if _check_image(img):
        arr = np.array(img, dtype=np.float64)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        return arr, 255.0
    arr = img.numpy()
    bound = 1.0 if np.issubdtype(arr.dtype, np.floating) else float(np.iinfo(arr.dtype).max)
    return arr.astype(np.float64), bound


def _from_float_chw(arr, img):
    if _image.is_pil_image(img):
        arr = _float_to_dtype(arr, img)
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
        return _image.Image.fromarray(np.ascontiguousarray(arr)).convert(img.mode)
    return from_numpy(np.ascontiguousarray(_float_to_dtype(arr, img)))


def _gray(arr):
    if arr.shape[-3] == 1:
        return arr
    r, g, b = arr[..., 0:1, :, :], arr[..., 1:2, :, :], arr[..., 2:3, :, :]
    return 0.2989 * r + 0.587 * g + 0.114 * b


def _blend(a, b, ratio, bound):
    return np.clip(ratio * a + (1.0 - ratio) * b, 0, bound)


def adjust_brightness(img, brightness_factor):
    arr, bound = _as_float_chw(img)
    return _from_float_chw(_blend(arr, 0.0, brightness_factor, bound), img)


def adjust_contrast(img, contrast_factor):
    arr, bound = _as_float_chw(img)
    mean = _gray(arr).mean(axis=(-3, -2, -1), keepdims=True)
    return _from_float_chw(_blend(arr, mean, contrast_factor, bound), img)


def adjust_saturation(img, saturation_factor):
    arr, bound = _as_float_chw(img)
    return _from_float_chw(_blend(arr, _gray(arr), saturation_factor, bound), img)


def adjust_hue(img, hue_factor):
    """Shift the hue by `hue_factor` in [-0.5, 0.5] of a turn (via HSV)."""
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    arr, bound = _as_float_chw(img)
    if arr.shape[-3] == 1:
        return img
    r, g, b = (arr[..., i, :, :] / bound for i in range(3))
    maxc, minc = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    delta = maxc - minc
    safe = np.where(delta == 0, 1.0, delta)
    hue = np.where(maxc == r, (g - b) / safe, np.where(maxc == g, 2.0 + (b - r) / safe,
                                                        4.0 + (r - g) / safe))
    hue = np.where(delta == 0, 0.0, (hue / 6.0) % 1.0)
    sat = np.where(maxc == 0, 0.0, delta / np.where(maxc == 0, 1.0, maxc))
    hue = (hue + hue_factor) % 1.0
    i = np.floor(hue * 6.0)
    f, v = hue * 6.0 - i, maxc
    p, q, t = v * (1 - sat), v * (1 - sat * f), v * (1 - sat * (1 - f))
    i = i.astype(np.int64) % 6
    choose = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = [np.select([i == k for k in range(6)], [c[ch] for c in choose]) for ch in range(3)]
    out = np.stack(rgb, axis=-3) * bound
    return _from_float_chw(np.concatenate([out, arr[..., 3:, :, :]], axis=-3), img)


def rgb_to_grayscale(img, num_output_channels=1):
    """ITU-R 601-2 luma (0.2989 R + 0.587 G + 0.114 B), repeated to 1 or 3 channels."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if _check_image(img):
        gray = img.convert("L")
        return gray if num_output_channels == 1 else gray.convert("RGB")
    arr, _ = _as_float_chw(img)
    gray = _gray(arr)
    return _from_float_chw(np.repeat(gray, num_output_channels, axis=-3), img)


def erase(img, i, j, h, w, v, inplace=False):
    """Set the box (i, j, h, w) of a tensor image to `v` (a tensor or number)."""
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    out = img if inplace else img.clone()
    out[..., i:i + h, j:j + w] = v
    return out


def _gaussian_kernel(size, sigma):
    x = np.arange(size, dtype=np.float64) - (size - 1) * 0.5
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(img, kernel_size, sigma=None):
    """Separable Gaussian blur with reflect padding; kernel sizes must be odd and positive."""
    kx, ky = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if kx % 2 == 0 or ky % 2 == 0 or kx <= 0 or ky <= 0:
        raise ValueError(f"kernel_size should have odd and positive integers. Got {kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in (kx, ky)]
    sx, sy = (sigma, sigma) if isinstance(sigma, numbers.Number) else (tuple(sigma) * 2)[:2]
    if sx <= 0 or sy <= 0:
        raise ValueError(f"sigma should have positive values. Got {sigma}")
    arr, _ = _as_float_chw(img)
    lead = [(0, 0)] * (arr.ndim - 2)
    padded = np.pad(arr, lead + [(ky // 2, ky // 2), (kx // 2, kx // 2)], mode="reflect")
    wx, wy = _gaussian_kernel(kx, sx), _gaussian_kernel(ky, sy)
    h, w = arr.shape[-2:]
    rows = sum(wx[k] * padded[..., :, k:k + w] for k in range(kx))
    out = sum(wy[k] * rows[..., k:k + h, :] for k in range(ky))
    return _from_float_chw(out, img)
