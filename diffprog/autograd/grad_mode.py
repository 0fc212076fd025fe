"""Autograd switches: grad recording, forward-AD level, anomaly detection, the running
vmap levels, and `diffprog.compile`'s recorder while it traces a call.

They are context managers (and decorators), as in PyTorch.  Each thread has its own
switches (a thread evaluating under `no_grad` does not stop another from recording):
`state` is one `threading.local` object, and a new thread starts from the defaults below.
A switch is one line: `name = default`, or `name = _Mode(off)` for a mode that ops must
check for (vmap, compile, ...), which `state.active` then covers.
"""
import functools
import threading


class _Mode:
    """A mode switch of `state`, off by default.  Reads are plain thread-local reads (the
    descriptor has no __get__, and each thread's dict holds every mode from its first use
    on); setting one comes through here and keeps `state.active` up to date."""

    def __init__(self, off):
        self.off = off

    def __set_name__(self, owner, name):
        self.name = name

    def __set__(self, switches, value):
        modes = switches.__dict__
        modes[self.name] = value
        switches.active = any(modes[m.name] != m.off for m in _MODES)


class _State(threading.local):
    grad_enabled = True
    # The modes: `active` says whether any is on, so that an op reads one switch, not each
    # (a thread-local read costs ~60 ns, several % of an op's overhead).
    fw_level = _Mode(0)          # > 0 while a forward-AD dual level is open
    anomaly = _Mode(False)
    vmap = _Mode(())             # the running vmap levels, innermost last (ops/batching.py)
    tracer = _Mode(None)         # diffprog.compile's recorder while it traces a call
    active = False

    def __init__(self):          # in each thread, on its first use
        self.__dict__.update({m.name: m.off for m in _MODES})


_MODES = [m for m in vars(_State).values() if isinstance(m, _Mode)]
state = _State()


class _GradSwitch:
    """Base for no_grad / enable_grad / set_grad_enabled: a context manager and decorator."""

    mode = True

    def __enter__(self):
        self._prev = state.grad_enabled
        state.grad_enabled = self.mode

    def __exit__(self, *exc):
        state.grad_enabled = self._prev

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev, state.grad_enabled = state.grad_enabled, mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.grad_enabled = prev
        return wrapper


class no_grad(_GradSwitch):
    """Operations inside do not record a graph (evaluation, optimiser updates)."""
    mode = False


class enable_grad(_GradSwitch):
    """Turn recording back on inside a `no_grad` block."""
    mode = True


class inference_mode(_GradSwitch):
    """Like `no_grad` (diffprog has no separate inference tensors)."""

    def __init__(self, mode=True):
        self.mode = not mode


class set_grad_enabled(_GradSwitch):
    """Turn recording on or off; works as a function call too, like PyTorch's."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = state.grad_enabled
        state.grad_enabled = self.mode

    def __enter__(self):
        pass


def is_grad_enabled():
    return state.grad_enabled


def is_inference_mode_enabled():
    return not state.grad_enabled
