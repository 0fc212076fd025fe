"""Butcher tableaux of the explicit Runge-Kutta methods `odeint` offers, and one RK step.

A tableau holds the nodes `c`, the stage matrix `a` (row i: the weights of stages 0..i-1),
the solution weights `b`, and for embedded pairs the error weights `e` (the difference
between the two solutions' weights), the order used by the step-size controller, and
whether the last stage is the derivative at the new point (FSAL: first same as last).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Tableau:
    c: tuple
    a: tuple
    b: tuple
    e: tuple = None         # error weights (b minus the embedded solution's); None: fixed step
    order: int = 1          # order of the solution that is propagated
    fsal: bool = False      # the last stage is f(t + h, y1): reused as the next step's first


EULER = Tableau(c=(0.0,), a=((),), b=(1.0,), order=1)

MIDPOINT = Tableau(c=(0.0, 0.5), a=((), (0.5,)), b=(0.0, 1.0), order=2)

RK4 = Tableau(c=(0.0, 0.5, 0.5, 1.0),
              a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
              b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), order=4)

# Bogacki & Shampine (1989): order 3 with an embedded order-2 estimate.
_BOSH3_B = (2 / 9, 1 / 3, 4 / 9, 0.0)
_BOSH3_B2 = (7 / 24, 1 / 4, 1 / 3, 1 / 8)
BOSH3 = Tableau(c=(0.0, 0.5, 0.75, 1.0),
                a=((), (0.5,), (0.0, 0.75), _BOSH3_B[:3]),
                b=_BOSH3_B, e=tuple(x - y for x, y in zip(_BOSH3_B, _BOSH3_B2)), order=3, fsal=True)

# Dormand & Prince (1980), "RK5(4)7M": order 5 with an embedded order-4 estimate.
_DOPRI5_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DOPRI5_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
DOPRI5 = Tableau(
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=((),
       (1 / 5,),
       (3 / 40, 9 / 40),
       (44 / 45, -56 / 15, 32 / 9),
       (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
       (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
       _DOPRI5_B[:6]),
    b=_DOPRI5_B, e=tuple(x - y for x, y in zip(_DOPRI5_B, _DOPRI5_B4)), order=5, fsal=True)

FIXED = {"euler": EULER, "midpoint": MIDPOINT, "rk4": RK4}
ADAPTIVE = {"dopri5": DOPRI5, "bosh3": BOSH3}


def _combine(y, h, weights, ks):
    """y + h * sum_j w_j k_j, skipping zero weights (y None: just the weighted sum times h)."""
    total = None
    for w, k in zip(weights, ks):
        if w != 0.0:
            total = k * w if total is None else total + k * w
    if total is None:
        return y
    return total * h if y is None else y + total * h


def rk_step(func, t, y, h, tableau, f0=None):
    """One explicit RK step from (t, y) with step h (a float, may be negative).

    Returns (y1, stages).  `f0`, when given, is func(t, y) already computed (FSAL); `t` is a
    0-d tensor of y's dtype."""
    ks = [func(t, y) if f0 is None else f0]
    yi = y
    for ci, ai in zip(tableau.c[1:], tableau.a[1:]):
        yi = _combine(y, h, ai, ks)
        ks.append(func(t + ci * h, yi))
    y1 = yi if tableau.fsal else _combine(y, h, tableau.b, ks)     # FSAL: the last stage is at y1
    return y1, ks


def error_estimate(ks, h, tableau):
    """The embedded pair's local error estimate h * sum_j e_j k_j (call under no_grad)."""
    return _combine(None, h, tableau.e, [k.detach() for k in ks])
