"""Ordinary differential equations: `odeint` and `odeint_adjoint`, with torchdiffeq's API.

    from diffprog.ode import odeint, odeint_adjoint
    ys = odeint(func, y0, t, method="dopri5", rtol=1e-7, atol=1e-9)

`tableaux.py` holds the Runge-Kutta methods (Euler, midpoint, RK4; the adaptive
Bogacki-Shampine 3(2) and Dormand-Prince 5(4) pairs), `odeint.py` the fixed-grid and
adaptive integration loops, `adjoint.py` the adjoint method's backward pass.
"""
from .adjoint import odeint_adjoint
from .odeint import METHODS, odeint

__all__ = ["odeint", "odeint_adjoint", "METHODS"]
