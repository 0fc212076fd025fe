"""Pillow, when installed (`Image` is None otherwise); read it as `_image.Image` at call time."""
try:
    from PIL import Image
except ImportError:     # Pillow is optional: images stay NumPy arrays
    Image = None


def is_pil_image(obj):
    return Image is not None and isinstance(obj, Image.Image)


UnidentifiedImageError = Image.UnidentifiedImageError if Image is not None else OSError
