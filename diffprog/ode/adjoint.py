"""`odeint_adjoint`: odeint with the adjoint method's backward pass (Chen et al. 2018).

The forward solve keeps no graph.  Backward solves, from each output time back to the
previous one, the augmented system

    d/dt [y, a, a_theta] = [f(t, y), -a^T df/dy, -a^T df/dtheta]

with a(t_N) = dL/dy(t_N), adding dL/dy(t_i) to a at every output time on the way; at t_0,
a is dL/dy0 and a_theta is dL/dtheta.  The vector-Jacobian products come from one reverse
pass through `func` per evaluation, so memory stays constant in the number of steps.
Between output times the state y is re-integrated backwards, and reset to the stored
forward solution at each output time (as torchdiffeq does), which keeps the drift small.
"""
from .. import autograd
from ..autograd.function import Function, once_differentiable
from ..autograd.grad_mode import enable_grad
from ..creation import zeros_like
from ..ops import cat
from .odeint import Problem


def odeint_adjoint(func, y0, t, *, rtol=1e-7, atol=1e-9, method=None, options=None,
                   adjoint_rtol=None, adjoint_atol=None, adjoint_method=None, adjoint_options=None,
                   adjoint_params=None):
    """`odeint` whose gradient is computed by solving the adjoint ODE backwards in time.

    Takes `odeint`'s arguments, plus the backward solve's settings (`adjoint_rtol`,
    `adjoint_atol`, `adjoint_method`, `adjoint_options`; each defaults to the forward
    one) and `adjoint_params`, the tensors func depends on that need gradients (default:
    `func.parameters()`, so func is then an `nn.Module`).  Gradients flow to y0 and to
    those parameters, not to t, and the backward pass is not itself differentiable.
    """
    if adjoint_params is None:
        if not hasattr(func, "parameters"):
            raise ValueError("odeint_adjoint: func is not an nn.Module, so pass the tensors it "
                             "depends on as adjoint_params=(...)")
        adjoint_params = tuple(func.parameters())
    params = tuple(p for p in adjoint_params if p.requires_grad)
    problem = Problem(func, y0, t, rtol, atol, method, options, "odeint_adjoint")
    backward_settings = dict(
        rtol=rtol if adjoint_rtol is None else adjoint_rtol,
        atol=atol if adjoint_atol is None else adjoint_atol,
        method=adjoint_method or problem.method,
        options=problem.options if adjoint_options is None else dict(adjoint_options))
    return problem.unflatten(_Adjoint.apply(problem, backward_settings, problem.y0, *params))


class _Adjoint(Function):
    @staticmethod
    def forward(ctx, problem, settings, y0, *params):
        ys = problem.solve(problem.func, y0)
        ctx.problem, ctx.settings = problem, settings
        ctx.save_for_backward(ys, *params)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        ys, *params = ctx.saved_tensors
        problem, times = ctx.problem, ctx.problem.times
        shape, n = ys.shape[1:], ys[0].numel()
        sizes = [p.numel() for p in params]

        def augmented(s, state):
            y, a = state[:n].reshape(shape), state[n:2 * n].reshape(shape)
            with enable_grad():
                y = y.detach().requires_grad_()
                f = problem.func(s, y)
                vjps = (autograd.grad(f, (y, *params), a, allow_unused=True) if f.requires_grad
                        else (None,) * (1 + len(params)))
            vjps = [zeros_like(x) if v is None else v for x, v in zip((y, *params), vjps)]
            return cat([f.detach().reshape(-1)] + [-v.reshape(-1) for v in vjps])

        a = g[-1].reshape(-1)
        a_params = [zeros_like(p).reshape(-1) for p in params]
        for i in range(len(times) - 1, 0, -1):
            state = cat([ys[i].reshape(-1), a] + a_params)
            state = problem.solve(augmented, state, times=[times[i], times[i - 1]], **ctx.settings)[-1]
            a = state[n:2 * n] + g[i - 1].reshape(-1)
            a_params = list(state[2 * n:].split(sizes)) if sizes else []
        return (None, None, a.reshape(shape), *(ap.reshape(p.shape) for ap, p in zip(a_params, params)))
