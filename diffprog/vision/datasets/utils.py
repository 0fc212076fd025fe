"""Downloading dataset files: MD5 checks and atomic writes (torchvision's `datasets.utils`)."""
import hashlib
import os
import tempfile
import urllib.error
import urllib.request

__all__ = ["calculate_md5", "check_md5", "check_integrity", "download_url", "download_from_mirrors",
           "resolve_root"]

_CHUNK = 1 << 20


def calculate_md5(fpath, chunk_size=_CHUNK):
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath, md5):
    return md5 == calculate_md5(fpath)


def check_integrity(fpath, md5=None):
    """The file exists and, when `md5` is given, has that checksum."""
    return os.path.isfile(fpath) and (md5 is None or check_md5(fpath, md5))


def download_url(url, root, filename=None, md5=None, timeout=60):
    """Fetch `url` into `root/filename`, verifying `md5` before the file appears.

    The bytes go to a temporary file in `root` that replaces the target only once complete
    and checked, so an interrupted or corrupted download never leaves a file behind.
    A file already there with the right checksum is not fetched again."""
    root = os.path.expanduser(os.fspath(root))
    fpath = os.path.join(root, filename or os.path.basename(url))
    if check_integrity(fpath, md5):
        return fpath
    os.makedirs(root, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".download-")
    try:
        md5sum = hashlib.md5(usedforsecurity=False)
        request = urllib.request.Request(url, headers={"User-Agent": "diffprog"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as r:
            for chunk in iter(lambda: r.read(_CHUNK), b""):
                md5sum.update(chunk)
                out.write(chunk)
        if md5 is not None and md5sum.hexdigest() != md5:
            raise RuntimeError(f"download of {url} is corrupt: MD5 {md5sum.hexdigest()}, "
                               f"expected {md5}")
        os.replace(tmp, fpath)
    except BaseException:
        os.unlink(tmp)
        raise
    return fpath


def download_from_mirrors(mirrors, filename, root, md5):
    """`download_url` from the first mirror that works; RuntimeError listing every failure."""
    errors = []
    for mirror in mirrors:
        url = mirror + filename
        print(f"Downloading {url}", flush=True)
        try:
            return download_url(url, root, filename, md5)
        except (urllib.error.URLError, OSError, RuntimeError) as e:
            errors.append(f"  {url}: {e}")
    raise RuntimeError(f"could not download {filename}:\n" + "\n".join(errors))


def resolve_root(root, dataset):
    """The data root: `root` when given, else the DIFFPROG_DATA environment variable."""
    if root is None:
        root = os.environ.get("DIFFPROG_DATA")
        if not root:
            raise ValueError(f"{dataset}: no root given and DIFFPROG_DATA is not set; pass the "
                             "folder that holds (or should hold) the data as `root`")
    return os.path.expanduser(os.fspath(root))


def image_item(dataset, img, target):
    """(image, target) as torchvision datasets return them: a PIL image when Pillow is
    installed (else a copy of the uint8 array), each passed through its transform."""
    from .. import _image
    img = _image.Image.fromarray(img) if _image.Image is not None else img.copy()
    if dataset.transform is not None:
        img = dataset.transform(img)
    if dataset.target_transform is not None:
        target = dataset.target_transform(target)
    return img, target
