"""`device`: where a tensor lives, as PyTorch names it ('cpu', 'cuda', 'cuda:1'), and the
check that a device is one this build computes on."""


class device:
    """Where a tensor lives: 'cpu' (NumPy) or 'cuda' (CuPy, when installed)."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if ":" in type:
            type, index = type.split(":")
            index = int(index)
        if type not in ("cpu", "cuda", "mps"):
            raise RuntimeError(f"device: expected one of cpu, cuda, mps, got {type!r}")
        self.type, self.index = type, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type

    def __hash__(self):
        return hash(self.type)

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def check_device(d, where="to"):
    """Accept only devices this build can compute on; explain the others."""
    if d is None:
        return
    d = device(d) if not isinstance(d, device) else d
    if d.type != "cpu":
        raise RuntimeError(
            f"{where}: device '{d}' is not available: diffprog runs on the CPU (NumPy) here; "
            "the CUDA backend needs an NVIDIA GPU and CuPy (pip install cupy-cuda12x). "
            "Use diffprog.cuda.is_available() to choose the device.")
