"""save_image: a row-major grid of images (B, C, H, W) in [0, 1], written as PNG with Pillow."""
import math

import numpy as np


def save_image(tensor, fp, nrow=8, padding=2, **kwargs):
    from PIL import Image
    a = tensor.detach().cpu().numpy()
    b, c, h, w = a.shape
    cols, rows = min(nrow, b), math.ceil(b / nrow)
    grid = np.zeros((c, rows * (h + padding) + padding, cols * (w + padding) + padding), np.float32)
    for k in range(b):
        r, q = divmod(k, cols)
        grid[:, padding + r * (h + padding):padding + r * (h + padding) + h,
             padding + q * (w + padding):padding + q * (w + padding) + w] = a[k]
    img = (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(img[0] if c == 1 else img.transpose(1, 2, 0)).save(fp)
