"""`odeint(func, y0, t)`: solve dy/dt = func(t, y) and return y at the times t.

The interface is torchdiffeq's: `func(t, y)` gets a 0-d tensor t and the state y (a tensor,
or a tuple of tensors when y0 is one), the result stacks y(t[0]) = y0, y(t[1]), ... along a
new first dimension.  Every step is made of differentiable tensor operations, so
`backward()` through the result backpropagates through the solver's steps (memory grows
with the number of steps; `odeint_adjoint` trades that memory for a second solve).

Adaptive methods choose each step from the embedded error estimate
(err / (atol + rtol max(|y|, |y1|)), root-mean-square over the state, must be <= 1),
with the first step chosen as in Hairer, Norsett & Wanner (1993, II.4).  These decisions are
made on detached values: they are not differentiated.
"""
import math

from .. import creation
from ..autograd.grad_mode import no_grad
from ..ops import cat, maximum, split, stack
from ..tensor import Tensor
from .tableaux import ADAPTIVE, FIXED, error_estimate, rk_step

METHODS = tuple(ADAPTIVE) + tuple(FIXED)
_ADAPTIVE_OPTIONS = {"first_step", "safety", "ifactor", "dfactor", "max_num_steps"}
_FIXED_OPTIONS = {"step_size"}


def odeint(func, y0, t, *, rtol=1e-7, atol=1e-9, method=None, options=None):
    """Integrate dy/dt = func(t, y) from y(t[0]) = y0 and return y at every time in t.

    Args:
        func: callable (t, y) -> dy/dt, the same shape(s) as y.
        y0: initial state, a tensor or a tuple of tensors.
        t: 1-D tensor (or sequence) of times, strictly increasing or strictly decreasing.
        rtol, atol: relative and absolute error tolerances of the adaptive methods.
        method: 'dopri5' (default; Dormand-Prince 5(4)), 'bosh3' (Bogacki-Shampine 3(2)),
            or a fixed-step method: 'rk4', 'midpoint', 'euler'.
        options: for fixed-step methods `step_size` (default: one step per interval of t);
            for adaptive ones `first_step`, `safety` (0.9), `ifactor` (10), `dfactor` (0.2)
            and `max_num_steps`.

    Returns:
        a tensor of shape (len(t), *y0.shape), or a tuple of such tensors.  Gradients flow to
        y0 and to whatever func depends on, not to t (torchdiffeq also differentiates in t).
    """
    problem = Problem(func, y0, t, rtol, atol, method, options, "odeint")
    return problem.unflatten(problem.solve(problem.func, problem.y0))


class Problem:
    """An initial-value problem checked and put in the form the integrators take: one state
    tensor (tuples are flattened and concatenated, as torchdiffeq does) and float times."""

    def __init__(self, func, y0, t, rtol, atol, method, options, who):
        method = "dopri5" if method is None else method
        if method not in METHODS:
            raise ValueError(f"{who}: unknown method {method!r}; expected one of {', '.join(METHODS)}")
        options = dict(options or {})
        allowed = _ADAPTIVE_OPTIONS if method in ADAPTIVE else _FIXED_OPTIONS
        unknown = set(options) - allowed
        if unknown:
            raise ValueError(f"{who}: options {sorted(unknown)} do not apply to method {method!r} "
                             f"(it takes {sorted(allowed)})")
        self.method, self.options, self.rtol, self.atol = method, options, rtol, atol
        self.is_tuple = isinstance(y0, (tuple, list))
        states = tuple(y0) if self.is_tuple else (y0,)
        for y in states:
            if not isinstance(y, Tensor) or not y.is_floating_point():
                raise TypeError(f"{who}: y0 must be a floating-point tensor or a tuple of them, "
                                f"got {type(y).__name__}" + (f" of dtype {y.dtype}" if isinstance(y, Tensor) else ""))
        self.dtype = states[0].dtype
        self.times = _times(t, who)
        if self.is_tuple:
            self.shapes = [y.shape for y in states]
            self.sizes = [y.numel() for y in states]
            self.y0 = cat([y.reshape(-1) for y in states])

            def flat_func(s, y):
                out = func(s, self._split(y))
                return cat([f.reshape(-1) for f in out])
            self.func = flat_func
        else:
            self.y0, self.func = y0, func

    def _split(self, y):
        return tuple(p.reshape(s) for p, s in zip(split(y, self.sizes, -1), self.shapes))

    def unflatten(self, ys):
        """(len(t), n) solutions back to the user's structure."""
        if not self.is_tuple:
            return ys
        n = ys.shape[0]
        return tuple(p.reshape(n, *s) for p, s in zip(split(ys, self.sizes, -1), self.shapes))

    def solve(self, func, y0, times=None, rtol=None, atol=None, method=None, options=None):
        """Stacked solutions at `times` (default: the problem's) of dy/dt = func(t, y)."""
        times = self.times if times is None else times
        method = method or self.method
        options = self.options if options is None else options
        rtol = self.rtol if rtol is None else rtol
        atol = self.atol if atol is None else atol
        if method in FIXED:
            ys = _fixed_grid(func, y0, times, FIXED[method], options.get("step_size"), self.dtype)
        else:
            ys = _adaptive(func, y0, times, ADAPTIVE[method], rtol, atol, options, self.dtype)
        return stack(ys)


def _times(t, who):
    if isinstance(t, Tensor):
        if t.ndim != 1:
            raise ValueError(f"{who}: t must be 1-D, got shape {tuple(t.shape)}")
        if t.requires_grad:
            raise RuntimeError(f"{who}: t requires grad, but gradients with respect to the time points "
                               f"are not supported; pass t.detach()")
        t = t.tolist()
    times = [float(s) for s in t]
    if not times:
        raise ValueError(f"{who}: t must hold at least one time")
    steps = [b - a for a, b in zip(times, times[1:])]
    if not (all(d > 0 for d in steps) or all(d < 0 for d in steps)):
        raise ValueError(f"{who}: t must be strictly increasing or strictly decreasing, got {times}")
    return times


def _time(s, dtype):
    return creation.tensor(s, dtype=dtype)


def _fixed_grid(func, y, times, tableau, step_size, dtype):
    """Equal steps of at most step_size inside each interval of `times`, so that every
    output time is a step boundary (torchdiffeq interpolates instead)."""
    ys = [y]
    for a, b in zip(times, times[1:]):
        n = 1 if step_size is None else max(1, math.ceil(abs(b - a) / step_size - 1e-9))
        h = (b - a) / n
        for k in range(n):
            y, _ = rk_step(func, _time(a + k * h, dtype), y, h, tableau)
        ys.append(y)
    return ys


def _rms(x):
    return float((x * x).mean().sqrt())


def _initial_step(func, t0, y0, f0, direction, order, rtol, atol, dtype):
    """Hairer, Norsett & Wanner's starting step: small enough that Euler's error is ~1% of
    the state, then refined with one extra evaluation of func."""
    with no_grad():
        y0, f0 = y0.detach(), f0.detach()
        scale = y0.abs() * rtol + atol
        d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        f1 = func(_time(t0 + direction * h0, dtype), y0 + f0 * (direction * h0))
        d2 = _rms((f1 - f0) / scale) / h0
        if max(d1, d2) <= 1e-15:
            h1 = max(1e-6, h0 * 1e-3)
        else:
            h1 = (0.01 / max(d1, d2)) ** (1.0 / (order + 1))
    return min(100 * h0, h1)


def _adaptive(func, y, times, tableau, rtol, atol, options, dtype):
    """Embedded-RK integration; each step is shortened to land exactly on the next output
    time (torchdiffeq interpolates between steps instead)."""
    safety = options.get("safety", 0.9)
    ifactor, dfactor = options.get("ifactor", 10.0), options.get("dfactor", 0.2)
    max_steps = options.get("max_num_steps", 2 ** 31 - 1)
    ys = [y]
    if len(times) == 1:
        return ys
    direction = 1.0 if times[-1] > times[0] else -1.0
    t = times[0]
    f = func(_time(t, dtype), y)
    h = options.get("first_step")
    h = abs(h) if h is not None else _initial_step(func, t, y, f, direction, tableau.order, rtol, atol, dtype)
    n_steps = 0
    for target in times[1:]:
        while direction * (target - t) > 0:
            if n_steps >= max_steps:
                raise RuntimeError(f"odeint: max_num_steps ({max_steps}) exceeded at t = {t}")
            if h <= 1e-14 * max(1.0, abs(t)):
                raise RuntimeError(f"odeint: step size underflow (h = {h:.3g}) at t = {t}; "
                                   f"the problem may be stiff or the tolerances too tight")
            last = h >= direction * (target - t)
            step = (target - t) if last else direction * h
            y1, ks = rk_step(func, _time(t, dtype), y, step, tableau, f)
            n_steps += 1
            with no_grad():
                err = error_estimate(ks, step, tableau)
                y_, y1_ = y.detach(), y1.detach()
                ratio = _rms(err / (maximum(y_.abs(), y1_.abs()) * rtol + atol))
            if ratio <= 1.0:
                t = target if last else t + step
                y = y1
                f = ks[-1]                     # FSAL (both adaptive tableaux): f(t + h, y1)
            factor = ifactor if ratio == 0 else min(ifactor, max(dfactor, safety * ratio ** (-1.0 / tableau.order)))
            h = abs(step) * factor
        ys.append(y)
    return ys
