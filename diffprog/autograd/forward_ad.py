"""Forward mode: dual tensors carry a tangent that each op pushes forward with its JVP.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)

As in PyTorch, one level is open at a time (in each thread: levels, like grad mode, are
per-thread); leaving it drops every tangent given at it.
"""
import collections
import contextlib
import itertools
import threading
import weakref

from .grad_mode import state

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _Duals(threading.local):
    """The tensors given tangents at this thread's open level, by id (a WeakSet would
    compare tensors with ==, which is elementwise)."""

    def __init__(self):
        self.tensors = weakref.WeakValueDictionary()


_duals = _Duals()
_level_ids = itertools.count(1)   # unique across threads, so a stale tangent is never current


def enter_dual_level():
    """Open a level; `state.fw_level` becomes its id (so tangents kept from an earlier
    level, e.g. on a graph node's saved output, are recognisably stale)."""
    if state.fw_level:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    state.fw_level = next(_level_ids)
    return 0


def exit_dual_level(*, level=None):
    state.fw_level = 0
    tensors = _duals.tensors
    for t in list(tensors.values()):
        t._tangent = None
    tensors.clear()


@contextlib.contextmanager
def dual_level():
    """Open a forward-AD level; tangents exist only inside it."""
    level = enter_dual_level()
    try:
        yield level
    finally:
        exit_dual_level(level=level)


def make_dual(tensor, tangent, *, level=None):
    """A view of `tensor` whose tangent is `tangent` (same shape, floating dtype)."""
    if not state.fw_level:
        raise RuntimeError("make_dual: there is no dual level open; use `with dual_level():`")
    if tangent.shape != tensor.shape:
        raise RuntimeError(f"make_dual: expected tangent of shape {tuple(tensor.shape)}, "
                           f"got {tuple(tangent.shape)}")
    if not tensor.is_floating_point():
        raise ValueError(f"make_dual: expected a floating point tensor, got {tensor.dtype}")
    level, state.fw_level = state.fw_level, 0
    try:
        dual = tensor.view_as(tensor)
    finally:
        state.fw_level = level
    dual._tangent = tangent.to(tensor.dtype)
    _duals.tensors[id(dual)] = dual
    return dual


def unpack_dual(tensor, *, level=None):
    """(primal, tangent): the primal is a view without the tangent (tangent may be None)."""
    tangent = tensor._tangent if state.fw_level else None
    level, state.fw_level = state.fw_level, 0
    try:
        primal = tensor.view_as(tensor) if tangent is not None else tensor
    finally:
        state.fw_level = level
    return UnpackedDualTensor(primal, tangent)


def track(t):
    """Remember a tensor that received a tangent, so leaving the level clears it."""
    _duals.tensors[id(t)] = t
