"""Implicit differentiation: derivatives of a solution from the equation it solves, not
from the steps that found it.

If x*(theta) solves F(x, theta) = 0, the implicit function theorem gives
dF/dx dx + dF/dtheta dtheta = 0, so a cotangent g of x* pulls back to theta as

    grad_theta = -(dF/dtheta)^T u,   where u solves (dF/dx)^T u = g.

Both products are VJPs of F; u comes from an iterative linear solver (linear_solve.py).
The solver that found x* runs on detached values: its iterations are never recorded, so
memory does not grow with them, and any solver (Newton, L-BFGS, a hand-written loop,
SciPy) can be used.

`custom_root(F)` attaches this rule to a solver (jaxopt's decorator); `custom_fixed_point(f)`
does it for x = f(x, theta); `fixed_point` solves x = f(x, theta) by forward iteration or
Anderson acceleration and differentiates it this way.  The adjoint solve is itself a root
(A^T u - g = 0) and is attached with the same rule when the backward pass is
differentiated (create_graph), so higher derivatives are implicit too.
"""
import collections
import functools
import math
import warnings

from .. import creation, dtypes
from ..autograd import engine
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad, state
from ..ops.linalg import solve as dense_solve
from ..tensor import Tensor
from .linear_solve import solve_cg, solve_gmres, solve_normal_cg, solve_richardson
from .pytree import tree_flatten, tree_unflatten
from .transforms import _split_aux, _track

__all__ = ["custom_root", "custom_fixed_point", "fixed_point", "FixedPointInfo"]

SOLVES = {"cg": solve_cg, "normal_cg": solve_normal_cg, "gmres": solve_gmres,
          "richardson": solve_richardson}


def _linear_solver(solve, who):
    if callable(solve):
        return solve
    if solve not in SOLVES:
        raise ValueError(f"{who}: unknown solve={solve!r}; expected one of {sorted(SOLVES)} or a "
                         f"function solve(matvec, b, init=None)")
    return SOLVES[solve]


def custom_root(optimality_fun, *, solve="gmres", has_aux=False):
    """Decorator: differentiate `solver(init, *args, **kwargs)`, whose result x* is a root of
    `optimality_fun(x, *args, **kwargs)`, by the implicit function theorem.

        @custom_root(lambda w, lam: X.T @ (X @ w - y) + lam * w, solve="cg")
        def ridge(init, lam):
            return some_solver(...)           # gradients w.r.t. lam are implicit

    Args:
        optimality_fun: F(x, *args, **kwargs), zero at the solution, with outputs shaped
            like x (e.g. the gradient of an objective for an argmin: `func.grad(f)`).
        solve: how to solve the linear system (dF/dx)^T u = g: "gmres" (any nonsingular
            system, the default), "cg" (symmetric positive definite: a Hessian at a strict
            minimum), "normal_cg" (CG on the normal equations), "richardson" (u <- u + g -
            A^T u; the adjoint fixed-point iteration for `custom_fixed_point`), or a
            function `solve(matvec, b, init=None)` such as
            `functools.partial(func.solve_gmres, tol=1e-8)`.
        has_aux: the solver returns (x*, aux); aux is passed through, not differentiated.

    Gradients flow to the tensors in the positional `args` (pytrees of tensors), not to
    `init` nor to keyword arguments.  Tensors that optimality_fun uses without receiving
    them (closures, a module's own parameters) would get no gradient, so that is an error:
    pass them as arguments (for a module, a dict of parameters with `func.functional_call`).
    """
    linear_solve = _linear_solver(solve, "custom_root")

    def decorate(solver):
        @functools.wraps(solver)
        def wrapper(init, *args, **kwargs):
            return _solve(solver, optimality_fun, linear_solve, has_aux, init, args, kwargs)
        return wrapper
    return decorate


def custom_fixed_point(fixed_point_fun, *, solve="gmres", has_aux=False):
    """Decorator: `custom_root` for a solver of x = fixed_point_fun(x, *args, **kwargs).

    The residual differentiated is x - f(x), so solve="richardson" is the classic adjoint
    iteration u <- g + (df/dx)^T u, which converges when f is a contraction."""
    def residual(x, *args, **kwargs):
        fx = fixed_point_fun(x, *args, **kwargs)
        xs, spec = tree_flatten(x)
        fxs, fx_spec = tree_flatten(fx)
        if fx_spec != spec:
            raise RuntimeError("custom_fixed_point: fixed_point_fun(x, ...) must return a pytree "
                               "structured like x")
        return tree_unflatten([a - b for a, b in zip(xs, fxs)], spec)
    return custom_root(residual, solve=solve, has_aux=has_aux)


# --- the implicit solution -----------------------------------------------------------------

def _solve(solver, optimality_fun, linear_solve, has_aux, init, args, kwargs):
    leaves, spec = tree_flatten(args)
    slots = [i for i, a in enumerate(leaves) if isinstance(a, Tensor)]
    constants = [a.detach() if isinstance(a, Tensor) else a for a in leaves]
    init_leaves, init_spec = tree_flatten(init)
    init = tree_unflatten([a.detach() if isinstance(a, Tensor) else a for a in init_leaves], init_spec)
    out = solver(init, *tree_unflatten(constants, spec), **kwargs)
    sol, aux = _split_aux(out, has_aux, "custom_root")
    xs, x_spec = tree_flatten(sol)
    for x in xs:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError(f"custom_root: the solver must return floating point tensors (or a "
                            f"pytree of them), got {type(x).__name__ if not isinstance(x, Tensor) else x.dtype}")
    xs = [x.detach() for x in xs]
    shapes = [tuple(x.shape) for x in xs]

    def residual(xs, params):
        full = list(constants)
        for i, p in zip(slots, params):
            full[i] = p
        res = tree_flatten(optimality_fun(tree_unflatten(xs, x_spec),
                                          *tree_unflatten(full, spec), **kwargs))[0]
        if [tuple(getattr(r, "shape", ())) for r in res] != shapes:
            raise RuntimeError(f"custom_root: optimality_fun returned shapes "
                               f"{[tuple(getattr(r, 'shape', ())) for r in res]}, the solution has "
                               f"shapes {shapes}; they must match (one equation per unknown)")
        return res

    params = [leaves[i] for i in slots]
    if state.grad_enabled:
        _check_closure(residual, xs, [constants[i] for i in slots])
    xs = _attach(_ImplicitProblem(residual, linear_solve), xs, params)
    sol = tree_unflatten(xs, x_spec)
    return (sol, aux) if has_aux else sol


def _check_closure(residual, xs, params):
    """Evaluated on detached values, the residual's graph must not reach tensors that
    require grad other than (views of) its inputs: those were closed over, and would
    silently get no gradient."""
    with enable_grad():
        res = [r for r in residual(xs, params) if isinstance(r, Tensor) and r.requires_grad]
    ours = {id(t) for t in (*xs, *params)}
    stack, seen = [r.grad_fn if r.grad_fn is not None else r for r in res], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Tensor):             # a leaf: ours, or a view of ours
            if id(node) not in ours and id(node._base) not in ours:
                raise RuntimeError(
                    "custom_root: the optimality function uses tensors that require grad but "
                    "are not among its arguments (closed-over tensors, such as a module's own "
                    "parameters); implicit differentiation would give them no gradient. Pass "
                    "them as arguments (a module's parameters as a dict, used through "
                    "func.functional_call)")
            continue
        stack += [e[0] for e in node.edges or () if e is not None]


def _attach(problem, xs, params):
    """xs as outputs of an implicit-solution node over params (when a derivative is needed:
    a param requires grad, or carries a forward-mode tangent)."""
    if not ((state.grad_enabled and any(p.requires_grad for p in params))
            or (state.fw_level and any(p._tangent is not None for p in params))):
        return xs
    return list(_ImplicitSolution.apply(problem, len(xs), *xs, *params))


def _vjp(outputs, inputs, cotangents, create, retain=None):
    """sum(cotangent . output) differentiated w.r.t. inputs (zeros where unused)."""
    live = [(o, c) for o, c in zip(outputs, cotangents) if isinstance(o, Tensor) and o.requires_grad]
    grads = engine.grad([o for o, _ in live], inputs, [c for _, c in live], retain_graph=retain,
                        create_graph=create, allow_unused=True) if live else [None] * len(inputs)
    return [creation.zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


class _ImplicitProblem:
    """A root of residual(xs, params) = 0 (lists of tensors) found outside autograd, and the
    linear solver that differentiates it."""

    def __init__(self, residual, linear_solve):
        self.residual, self.linear_solve = residual, linear_solve

    def transposed_jacobian(self, xs, params):
        """u -> (dF/dx)^T u at (xs, params): F's graph built once, one VJP per product
        (recorded when u or the point requires grad)."""
        with enable_grad():
            tracked = [_track(x, "custom_root") for x in xs]
            res = self.residual(tracked, params)
        constant = not any(t.requires_grad for t in (*xs, *params))

        def matvec(us):
            create = not constant or any(u.requires_grad for u in us)
            return _vjp(res, tracked, us, create, retain=True)
        return matvec

    def vjp(self, xs, params, grads, wanted):
        """Cotangents `grads` of the solution pulled back to the params marked `wanted`."""
        create = state.grad_enabled               # the engine's create_graph
        if not create:
            xs, params, grads = ([t.detach() for t in ts] for ts in (xs, params, grads))
        u = self.adjoint(xs, params, grads)
        with enable_grad():
            tracked = [_track(p, "custom_root") if w else p for p, w in zip(params, wanted)]
            picked = [t for t, w in zip(tracked, wanted) if w]
            pulled = iter(_vjp(self.residual(xs, tracked), picked, u, create))
        return [-next(pulled) if w else None for w in wanted]

    def adjoint(self, xs, params, grads):
        """u solving (dF/dx)^T u = g; itself an implicit solution of A^T u - g = 0 when the
        backward pass is being differentiated."""
        fixed = [[t.detach() for t in ts] for ts in (xs, params, grads)]
        with no_grad():
            u = self.linear_solve(self.transposed_jacobian(*fixed[:2]), fixed[2])
        n_x, n_p = len(xs), len(params)

        def adjoint_residual(us, rest):
            x, p, g = rest[:n_x], rest[n_x:n_x + n_p], rest[n_x + n_p:]
            return [a - b for a, b in zip(self.transposed_jacobian(x, p)(us), g)]
        return _attach(_ImplicitProblem(adjoint_residual, self.linear_solve), list(u),
                       [*xs, *params, *grads])


class _ImplicitSolution(Function):
    """The graph node of a solution: forward passes the solver's result through, backward
    is the implicit function theorem (`_ImplicitProblem.vjp`)."""

    @staticmethod
    def forward(ctx, problem, n, *tensors):
        xs = tuple(t.view_as(t) for t in tensors[:n])     # new tensors: this node's outputs
        ctx.problem, ctx.n = problem, n
        ctx.save_for_backward(*xs, *tensors[n:])
        return xs

    @staticmethod
    def backward(ctx, *grads):
        saved, n = ctx.saved_tensors, ctx.n
        wanted = ctx.needs_input_grad[2 + n:]
        pulled = ctx.problem.vjp(list(saved[:n]), list(saved[n:]), list(grads), wanted)
        return (None, None, *[None] * n, *pulled)

    @staticmethod
    def jvp(ctx, *tangents):
        raise RuntimeError("custom_root: forward-mode derivatives (jvp, jacfwd, hessian) of an "
                           "implicit solution are not implemented; use reverse mode (grad, vjp, "
                           "jacrev, jacrev(jacrev(f)) for a Hessian)")


# --- fixed points ----------------------------------------------------------------------------

FixedPointInfo = collections.namedtuple("FixedPointInfo", ["iterations", "residual", "converged"])
FixedPointInfo.__doc__ = ("How `fixed_point` ended: the number of evaluations of f, the relative "
                          "residual ||f(x) - x|| / ||f(x)||, and whether it is below tol.")


def fixed_point(f, x0, *args, method="anderson", tol=None, maxiter=100, solve="gmres",
                history=5, mixing=1.0, return_info=False):
    """x* = f(x*, *args), found from x0, with gradients w.r.t. args by implicit
    differentiation (`custom_fixed_point`); x may be a tensor or a pytree of tensors.

    Args:
        method: "iteration" (x <- f(x)) or "anderson" (Anderson acceleration: the next x
            mixes the last `history` iterates with weights that minimise the combined
            residual; usually far fewer evaluations of f).
        tol: stop when ||f(x) - x|| <= tol ||f(x)|| (None: 1e-10 for float64, 1e-5
            otherwise).  maxiter: at most this many evaluations of f (a warning if reached).
        solve: the linear solver of the backward pass (see `custom_root`): "gmres",
            "richardson" (the adjoint fixed-point iteration u <- g + J^T u), "normal_cg",
            or a function.
        history, mixing: Anderson's memory and damping (1.0: none).
        return_info: also return a FixedPointInfo (iterations, residual, converged).

    f's tensors that should get gradients must be among args (see `custom_root`).
    """
    if method not in ("iteration", "anderson"):
        raise ValueError(f"fixed_point: unknown method={method!r}; expected 'iteration' or 'anderson'")

    @custom_fixed_point(f, solve=solve, has_aux=True)
    def solver(x, *args):
        leaves, spec = tree_flatten(x)

        def g(xs):
            out = tree_flatten(f(tree_unflatten(xs, spec), *args))[0]
            if [tuple(t.shape) for t in out] != [tuple(t.shape) for t in xs]:
                raise RuntimeError(f"fixed_point: f returned shapes {[tuple(t.shape) for t in out]} "
                                   f"for x of shapes {[tuple(t.shape) for t in xs]}")
            return out
        eps = tol if tol is not None else (1e-10 if all(t.dtype.name == "float64" for t in leaves)
                                           else 1e-5)
        with no_grad():
            xs, info = (_iterate if method == "iteration" else _anderson)(
                g, leaves, eps, maxiter, history, mixing)
        if not info.converged:
            warnings.warn(f"fixed_point: reached maxiter={maxiter} with relative residual "
                          f"{info.residual:.2e} (tol {eps:.0e})", RuntimeWarning, stacklevel=5)
        return tree_unflatten(xs, spec), info

    x, info = solver(x0, *args)
    return (x, info) if return_info else x


def _norm(xs):
    return math.sqrt(sum(float((t * t).sum()) for t in xs))


def _relative(fx, x):
    return _norm([a - b for a, b in zip(fx, x)]) / max(_norm(fx), 1e-30)


def _iterate(g, x, tol, maxiter, history, mixing):
    for k in range(1, maxiter + 1):
        fx = g(x)
        residual = _relative(fx, x)
        x = fx
        if residual <= tol:
            return x, FixedPointInfo(k, residual, True)
    return x, FixedPointInfo(maxiter, residual, False)


def _anderson(g, x, tol, maxiter, history, mixing):
    """Anderson acceleration (type II): with residuals r_i = f(x_i) - x_i, take the
    combination of the last iterates whose residuals cancel best, by least squares on the
    residual differences."""
    xs_hist, fx_hist = [], []
    for k in range(1, maxiter + 1):
        fx = g(x)
        residual = _relative(fx, x)
        if residual <= tol:
            return fx, FixedPointInfo(k, residual, True)
        xs_hist, fx_hist = (xs_hist + [x])[-history - 1:], (fx_hist + [fx])[-history - 1:]
        r = [[a - b for a, b in zip(f_i, x_i)] for f_i, x_i in zip(fx_hist, xs_hist)]
        m = len(r) - 1
        if m == 0:
            x = [xi + mixing * (fi - xi) for xi, fi in zip(x, fx)]
            continue
        dr = [[a - b for a, b in zip(r[i + 1], r[i])] for i in range(m)]
        gram = [[sum(float((a * b).sum()) for a, b in zip(dr[i], dr[j])) for j in range(m)]
                for i in range(m)]
        rhs = [sum(float((a * b).sum()) for a, b in zip(dr[i], r[-1])) for i in range(m)]
        scale = max(gram[i][i] for i in range(m))
        if scale == 0:                            # no change in the residual: a plain step
            x = [xi + mixing * (fi - xi) for xi, fi in zip(x, fx)]
            continue
        for i in range(m):
            gram[i][i] += 1e-10 * scale           # regularise nearly dependent differences
        gamma = dense_solve(creation.tensor(gram, dtype=dtypes.float64),
                            creation.tensor(rhs, dtype=dtypes.float64)).tolist()
        x_bar = list(xs_hist[-1])
        f_bar = list(fx_hist[-1])
        for i, c in enumerate(gamma):
            x_bar = [a - c * (xs_hist[i + 1][j] - xs_hist[i][j]) for j, a in enumerate(x_bar)]
            f_bar = [a - c * (fx_hist[i + 1][j] - fx_hist[i][j]) for j, a in enumerate(f_bar)]
        x = [xb + mixing * (fb - xb) for xb, fb in zip(x_bar, f_bar)]
    return x, FixedPointInfo(maxiter, residual, False)
