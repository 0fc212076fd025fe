"""Iterative linear solvers that need only a matrix-vector product: CG, CG on the normal
equations, restarted GMRES, Richardson (fixed-point) iteration.

Each solves A x = b where `matvec(x)` computes A x and x, b are tensors or pytrees of
tensors (tuples, lists, dicts), without ever forming A.  Implicit differentiation uses them
with A^T u given as a VJP (see implicit.py).  They run without recording a graph: a
derivative through a linear solve comes from `custom_root`, which differentiates the
solution implicitly instead of unrolling the iterations.

All stop when ||b - A x|| <= tol ||b|| (tol None: 1e-10 for float64, 1e-5 otherwise) or
after maxiter products with A (None: min(10 n, 1000) for n unknowns for the Krylov
methods, 1000 for Richardson), and warn when they stop unconverged.
"""
import math
import warnings

from .. import creation
from ..autograd import engine
from ..autograd.grad_mode import enable_grad, no_grad
from .pytree import tree_flatten, tree_unflatten

__all__ = ["solve_cg", "solve_normal_cg", "solve_gmres", "solve_richardson"]


# --- vectors: lists of tensors ---------------------------------------------------------

def _dot(a, b):
    return sum(float((x * y).sum()) for x, y in zip(a, b))


def _norm(a):
    return math.sqrt(_dot(a, a))


def _axpy(alpha, x, y):
    """y + alpha * x."""
    return [yi + alpha * xi for xi, yi in zip(x, y)]


def _zeros(like):
    return [creation.zeros_like(t) for t in like]


def _checked(matvec, b, who):
    """matvec on lists of leaves, checked to keep the shapes of b."""
    leaves, spec = tree_flatten(b)
    shapes = [tuple(t.shape) for t in leaves]

    def mv(x):
        out = tree_flatten(matvec(tree_unflatten(x, spec)))[0]
        if [tuple(t.shape) for t in out] != shapes:
            raise RuntimeError(f"{who}: matvec returned shapes {[tuple(t.shape) for t in out]} for "
                               f"an input of shapes {shapes}; A must be square")
        return out
    return mv, leaves, spec


def _settings(b, tol, maxiter, krylov):
    dtypes = {t.dtype.name for t in b}
    if tol is None:
        tol = 1e-10 if dtypes == {"float64"} else 1e-5
    if maxiter is None:          # Krylov methods are exact after n steps in exact arithmetic
        maxiter = min(10 * sum(t.numel() for t in b), 1000) if krylov else 1000
    return tol, maxiter


def _unconverged(who, iterations, residual, tol, why="reached maxiter"):
    warnings.warn(f"{who}: {why} after {iterations} iterations with relative residual "
                  f"{residual:.2e} (tol {tol:.0e}); the solution is approximate",
                  RuntimeWarning, stacklevel=4)


def _solver(core, krylov=True):
    """The public form of a core solver on lists: pytrees in and out, no graph."""
    who = core.__name__.lstrip("_")

    def solve(matvec, b, init=None, *, tol=None, maxiter=None, **options):
        mv, leaves, spec = _checked(matvec, b, who)
        tol, maxiter = _settings(leaves, tol, maxiter, krylov)
        with no_grad():
            x = [t.detach() for t in tree_flatten(init)[0]] if init is not None else _zeros(leaves)
            b = [t.detach() for t in leaves]
            if _norm(b) == 0:
                return tree_unflatten(_zeros(b), spec)
            return tree_unflatten(core(mv, b, x, tol, maxiter, **options), spec)
    solve.__name__, solve.__qualname__, solve.__doc__ = who, who, core.__doc__
    return solve


# --- the solvers -------------------------------------------------------------------------

def _solve_cg(mv, b, x, tol, maxiter):
    """Solve A x = b by conjugate gradients, for A symmetric positive definite (a Hessian at
    a strict minimum).  `solve_cg(matvec, b, init=None, *, tol=None, maxiter=None)`."""
    r = _axpy(-1.0, mv(x), b)
    p, rs, stop = r, _dot(r, r), (tol * _norm(b)) ** 2
    for k in range(maxiter):
        if rs <= stop:
            return x
        ap = mv(p)
        curvature = _dot(p, ap)
        if curvature <= 0:
            _unconverged("solve_cg", k, math.sqrt(rs / stop) * tol, tol,
                         "stopped: the matrix is not positive definite")
            return x
        alpha = rs / curvature
        x, r = _axpy(alpha, p, x), _axpy(-alpha, ap, r)
        rs, rs_old = _dot(r, r), rs
        p = _axpy(rs / rs_old, p, r)
    if rs > stop:
        _unconverged("solve_cg", maxiter, math.sqrt(rs / stop) * tol, tol)
    return x


def _solve_normal_cg(mv, b, x, tol, maxiter):
    """Solve A x = b for any nonsingular A by conjugate gradients on A^T A x = A^T b; A^T is
    matvec's transpose, taken by reverse-mode autodiff (so matvec must be differentiable).
    Converges more slowly than CG (the condition number is squared).
    `solve_normal_cg(matvec, b, init=None, *, tol=None, maxiter=None)`."""
    with enable_grad():
        probe = [t.detach().requires_grad_() for t in b]
        image = mv(probe)               # A probe: transposed by one VJP per product below
    if not any(o.requires_grad for o in image):
        raise RuntimeError("solve_normal_cg: matvec is not differentiable (its output does not "
                           "depend on its input through autograd), so A^T cannot be taken")

    def mv_t(w):
        live = [(o, c) for o, c in zip(image, w) if o.requires_grad]
        if not live:
            return _zeros(b)
        grads = engine.grad([o for o, _ in live], probe, [c for _, c in live],
                            retain_graph=True, allow_unused=True)
        return [creation.zeros_like(p) if g is None else g for g, p in zip(grads, probe)]

    # CG on the normal equations, with the stopping test on the original residual
    r_orig = _axpy(-1.0, mv(x), b)
    r = mv_t(r_orig)
    p, rs, stop = r, _dot(r, r), tol * _norm(b)
    for k in range(maxiter):
        if _norm(r_orig) <= stop:
            return x
        ap = mv(p)
        curvature = _dot(ap, ap)
        if curvature == 0:
            break
        alpha = rs / curvature
        x, r_orig = _axpy(alpha, p, x), _axpy(-alpha, ap, r_orig)
        r = mv_t(r_orig)
        rs, rs_old = _dot(r, r), rs
        p = _axpy(rs / rs_old, p, r)
    residual = _norm(r_orig)
    if residual > stop:
        _unconverged("solve_normal_cg", maxiter, residual / _norm(b), tol)
    return x


def _solve_gmres(mv, b, x, tol, maxiter, restart=20):
    """Solve A x = b for any nonsingular A by restarted GMRES(restart): minimise the residual
    over a Krylov basis built by Arnoldi (modified Gram-Schmidt), restarting every `restart`
    products.  `solve_gmres(matvec, b, init=None, *, tol=None, maxiter=None, restart=20)`."""
    bnorm, done = _norm(b), 0
    stop = tol * bnorm
    while True:
        r = _axpy(-1.0, mv(x), b)
        beta = _norm(r)
        if beta <= stop:
            return x
        if done >= maxiter:
            _unconverged("solve_gmres", done, beta / bnorm, tol)
            return x
        basis = [[t / beta for t in r]]
        h = []                         # columns of the Hessenberg matrix, rotated to triangular
        rotations = []                 # Givens rotations (c, s)
        e = [beta]                     # the rotated right-hand side beta e_1
        for _ in range(min(restart, maxiter - done)):
            w = mv(basis[-1])
            done += 1
            col = []
            for v in basis:
                c = _dot(w, v)
                col.append(c)
                w = _axpy(-c, v, w)
            norm_w = _norm(w)
            col.append(norm_w)
            for i, (c, s) in enumerate(rotations):
                col[i], col[i + 1] = c * col[i] + s * col[i + 1], -s * col[i] + c * col[i + 1]
            rho = math.hypot(col[-2], col[-1])
            c, s = (col[-2] / rho, col[-1] / rho) if rho > 0 else (1.0, 0.0)
            rotations.append((c, s))
            col[-2], col[-1] = rho, 0.0
            e.append(-s * e[-1])
            e[-2] = c * e[-2]
            h.append(col)
            if abs(e[-1]) <= stop or norm_w <= 1e-14 * bnorm:
                break
            basis.append([t / norm_w for t in w])
        y = [0.0] * len(h)             # back substitution: the triangular system H y = e
        for i in reversed(range(len(h))):
            rest = e[i] - sum(h[j][i] * y[j] for j in range(i + 1, len(h)))
            y[i] = rest / h[i][i] if h[i][i] else 0.0          # 0: A is singular here
        for yi, v in zip(y, basis):
            x = _axpy(yi, v, x)


def _solve_richardson(mv, b, x, tol, maxiter):
    """Solve A x = b by Richardson iteration x <- x + (b - A x), i.e. the fixed-point
    iteration x = b + (I - A) x; it converges when I - A is a contraction.  For the adjoint
    of a fixed point z = f(z) (A = I - J^T) this is the classic u <- g + J^T u.
    `solve_richardson(matvec, b, init=None, *, tol=None, maxiter=None)`."""
    bnorm = _norm(b)
    first = None
    for k in range(maxiter + 1):
        r = _axpy(-1.0, mv(x), b)
        residual = _norm(r)
        if residual <= tol * bnorm:
            return x
        first = residual if first is None else first
        if k == maxiter or not math.isfinite(residual) or residual > 1e6 * first:
            why = "reached maxiter" if k == maxiter else "diverged (I - A is not a contraction)"
            _unconverged("solve_richardson", k, residual / bnorm, tol, why)
            return x
        x = _axpy(1.0, r, x)


solve_cg = _solver(_solve_cg)
solve_normal_cg = _solver(_solve_normal_cg)
solve_gmres = _solver(_solve_gmres)
solve_richardson = _solver(_solve_richardson, krylov=False)
