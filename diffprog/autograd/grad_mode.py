"""Autograd switches: grad recording, forward-AD level, anomaly detection, the running
vmap levels, and `diffprog.compile`'s recorder while it traces a call.

They are context managers (and decorators), as in PyTorch.  Each thread has its own
switches (a thread evaluating under `no_grad` does not stop another from recording):
`state` is one `threading.local` object; a new thread starts from the class defaults
below, so a switch is added with one line.
"""
import functools
import threading


class _State(threading.local):
    grad_enabled = True
    # The modes, off by default: `active` says whether any is on, so that an op reads one
    # switch, not each (a thread-local read costs ~60 ns, several % of an op).
    fw_level = 0             # > 0 while a forward-AD dual level is open
    anomaly = False
    vmap = ()                # the running vmap levels, innermost last (ops/batching.py)
    tracer = None            # diffprog.compile's recorder while it traces a call
    active = False

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in _MODES_OFF:
            super().__setattr__("active", any(getattr(self, n) != off for n, off in _MODES_OFF.items()))


_MODES_OFF = {name: value for name, value in vars(_State).items()
              if not name.startswith("_") and name not in ("grad_enabled", "active")}
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
