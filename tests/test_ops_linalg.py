"""Linear algebra ops against PyTorch: forward, VJP, double VJP, JVP and finite differences.

Decompositions are defined only up to signs (SVD, eigh): those tests compare quantities
that do not depend on the choice (U * U, reconstructions), as PyTorch's own tests do.
"""
import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp
import diffprog.linalg as LA

inf = float("inf")
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated:UserWarning")   # torch.cross/qr/cholesky


def square(*shape, seed=0, dtype=np.float64):
    """A well-conditioned (diagonally dominant) batch of square matrices."""
    n = shape[-1]
    return (rand(*shape, seed=seed) + n * np.eye(n)).astype(dtype)


def sym(a):
    """Symmetric input built inside the function, so every entry of `a` matters."""
    return a + a.mT


def spd(a):
    return a @ a.mT + a.shape[-1] * (dp.eye(a.shape[-1], dtype=a.dtype, device=a.device) if isinstance(a, dp.Tensor)
                                     else torch.eye(a.shape[-1], dtype=a.dtype))


# --- products --------------------------------------------------------------------------

MATMUL = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
          ((2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
          ((2, 5, 2, 3), (5, 3, 4)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("sa,sb", MATMUL)
def test_matmul(sa, sb):
    check(lambda a, b: a @ b, lambda a, b: a @ b, rand(*sa), rand(*sb, seed=7))


def test_matmul_float32_and_forms():
    a, b = rand(4, 3, dtype=np.float32), rand(2, 3, 5, dtype=np.float32, seed=3)
    check(lambda a, b: a.matmul(b), lambda a, b: a.matmul(b), a, b)
    check(dp.matmul, torch.matmul, rand(3, 4), rand(4, seed=2))
    x, y = dp.tensor(rand(2, 3)), dp.tensor(rand(3, 2, seed=1))
    np.testing.assert_allclose(dp.Tensor.__rmatmul__(y, x).numpy(), rand(2, 3) @ rand(3, 2, seed=1))
    assert (dp.ones(2, 3, dtype=dp.int64) @ dp.ones(3, dtype=dp.int64)).tolist() == [3, 3]


def test_matmul_one_operand_needs_grad():
    x, w = dp.tensor(rand(4, 2, 3)), dp.tensor(rand(3, 5), requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(rand(4, 2, 3).sum((0, 1))[:, None], (3, 5)))


@pytest.mark.parametrize("name,shapes", [
    ("mm", [(2, 3), (3, 4)]), ("bmm", [(2, 2, 3), (2, 3, 4)]), ("mv", [(2, 3), (3,)]),
    ("dot", [(3,), (3,)]), ("vdot", [(3,), (3,)]), ("outer", [(3,), (4,)]), ("ger", [(3,), (4,)]),
    ("inner", [(2, 3), (4, 3)]), ("inner", [(3,), (3,)]), ("inner", [(), (2, 3)]),
    ("kron", [(2, 3), (3, 2)]), ("kron", [(2,), (2, 3)]), ("kron", [(2, 1, 2), (3, 2)]),
])
def test_products(name, shapes):
    args = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    check(getattr(dp, name), getattr(torch, name), *args)
    if name not in ("inner", "kron") or len(shapes[0]):
        check(lambda a, *r: getattr(a, name)(*r), lambda a, *r: getattr(a, name)(*r), *args)


@pytest.mark.parametrize("name,shapes,beta,alpha", [
    ("addmm", [(2, 4), (2, 3), (3, 4)], 1, 1), ("addmm", [(4,), (2, 3), (3, 4)], 0.5, 2.0),
    ("addmm", [(2, 4), (2, 3), (3, 4)], 0, 1), ("addmv", [(2,), (2, 3), (3,)], 2, -1),
    ("addr", [(3, 4), (3,), (4,)], 1, 3), ("baddbmm", [(2, 2, 4), (2, 2, 3), (2, 3, 4)], -1, 0.5),
    ("addbmm", [(2, 4), (3, 2, 3), (3, 3, 4)], 1, 2),
])
def test_add_products(name, shapes, beta, alpha):
    args = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: getattr(dp, name)(*a, beta=beta, alpha=alpha),
          lambda *a: getattr(torch, name)(*a, beta=beta, alpha=alpha), *args,
          grad=beta != 0)          # beta == 0: input is unused (no gradient; torch gives zeros)


def test_addmm_beta_zero_ignores_nan():
    out = dp.addmm(dp.full((2, 2), float("nan")), dp.ones(2, 3), dp.ones(3, 2), beta=0)
    assert out.tolist() == [[3.0, 3.0], [3.0, 3.0]]


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]), ("ij->ji", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]), ("i,i->", [(3,)] * 2), ("...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("b...,b->...", [(2, 3, 4), (2,)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("iij->j", [(2, 2, 3)]), ("ij,ij->ij", [(1, 3), (2, 3)]), ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("ba", [(2, 3)]), ("i,ij,j", [(2,), (2, 3), (3,)]), (" i j , j k -> i k ", [(2, 3), (3, 2)]),
])
def test_einsum(eq, shapes):
    args = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    check(lambda *a: dp.einsum(eq, *a), lambda *a: torch.einsum(eq, *a), *args)


def test_einsum_float32_and_list():
    a, b = rand(2, 3, dtype=np.float32), rand(3, 4, dtype=np.float32, seed=1)
    check(lambda a, b: dp.einsum("ij,jk->ik", [a, b]), lambda a, b: torch.einsum("ij,jk->ik", [a, b]), a, b)


@pytest.mark.parametrize("sa,sb,dims", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0),
    ((2, 3, 4), (4, 2), ([0, 2], [1, 0])), ((3, 4), (4, 3), ([1], [0])),
])
def test_tensordot(sa, sb, dims):
    check(lambda a, b: dp.tensordot(a, b, dims), lambda a, b: torch.tensordot(a, b, dims),
          rand(*sa), rand(*sb, seed=3))


def test_trace():
    check(dp.trace, torch.trace, rand(3, 3))
    check(lambda a: a.trace(), lambda a: a.trace(), rand(2, 4, dtype=np.float32))
    assert dp.trace(dp.ones(2, 3, dtype=dp.int32)).dtype is dp.int64


@pytest.mark.parametrize("sa,sb,dim", [((3,), (3,), None), ((4, 3), (4, 3), 1), ((3, 2), (3, 1), 0),
                                       ((2, 3), (1, 3), -1), ((3, 3), (3, 3), None)])
def test_cross(sa, sb, dim):
    kw = {} if dim is None else {"dim": dim}
    check(lambda a, b: dp.cross(a, b, **kw), lambda a, b: torch.cross(a, b, **kw),
          rand(*sa), rand(*sb, seed=2))
    if dim is not None:
        check(lambda a, b: LA.cross(a, b, dim=dim), lambda a, b: torch.linalg.cross(a, b, dim=dim),
              rand(*sa), rand(*sb, seed=2))


@pytest.mark.parametrize("n", [1, 2, 3, 5, -1, -2])
def test_matrix_power(n):
    check(lambda a: LA.matrix_power(a, n), lambda a: torch.linalg.matrix_power(a, n), square(2, 3, 3))
    check(lambda a: a.matrix_power(n), lambda a: a.matrix_power(n), square(3, 3))


def test_matrix_power_zero_and_multi_dot():
    assert dp.tensor(square(2, 3, 3)).matrix_power(0).tolist() == [np.eye(3).tolist()] * 2
    check(lambda a, b, c: LA.multi_dot([a, b, c]), lambda a, b, c: torch.linalg.multi_dot([a, b, c]),
          rand(3), rand(3, 4, seed=1), rand(4, 2, seed=2))


# --- inverse, determinants, solvers -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_inv(shape):
    check(LA.inv, torch.linalg.inv, square(*shape))
    check(dp.inverse, torch.inverse, square(*shape))
    check(lambda a: a.inverse(), lambda a: a.inverse(), square(*shape, dtype=np.float32))


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (1, 1)])
def test_determinants(shape):
    a = square(*shape)
    a[..., 0, :] *= -1                                  # a negative determinant
    check(LA.det, torch.linalg.det, a)
    check(lambda a: a.det(), lambda a: a.det(), a.astype(np.float32))
    check(LA.slogdet, torch.linalg.slogdet, a, jvp=False)    # torch's sign tangent is a ZeroTensor
    check(lambda a: dp.slogdet(a).logabsdet, lambda a: torch.slogdet(a).logabsdet, a)
    check(dp.logdet, torch.logdet, square(*shape))      # positive determinant
    check(dp.logdet, torch.logdet, a, grad=False)       # nan where the determinant is negative


@pytest.mark.parametrize("sa,sb", [((3, 3), (3, 2)), ((3, 3), (3,)), ((2, 3, 3), (2, 3)),
                                   ((2, 3, 3), (3, 2)), ((3, 3), (2, 3, 1)), ((2, 3, 3), (2, 3, 4))])
def test_solve(sa, sb):
    check(LA.solve, torch.linalg.solve, square(*sa), rand(*sb, seed=5))


def test_solve_right_and_triangular():
    check(lambda a, b: LA.solve(a, b, left=False), lambda a, b: torch.linalg.solve(a, b, left=False),
          square(3, 3), rand(2, 3, seed=4))
    for upper in (True, False):
        for unit in (True, False):
            check(lambda a, b: LA.solve_triangular(a, b, upper=upper, unitriangular=unit),
                  lambda a, b: torch.linalg.solve_triangular(a, b, upper=upper, unitriangular=unit),
                  square(2, 3, 3), rand(3, 2, seed=4))
    check(lambda a, b: LA.solve_triangular(a, b, upper=True, left=False),
          lambda a, b: torch.linalg.solve_triangular(a, b, upper=True, left=False),
          square(3, 3), rand(2, 3, seed=4))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_cholesky(shape):
    check(lambda a: LA.cholesky(spd(a)), lambda a: torch.linalg.cholesky(spd(a)), rand(*shape))
    check(lambda a: dp.cholesky(spd(a), upper=True), lambda a: torch.linalg.cholesky(spd(a), upper=True),
          rand(*shape))
    check(lambda a: LA.cholesky(spd(a)), lambda a: torch.linalg.cholesky(spd(a)), rand(*shape, dtype=np.float32))
    # torch.cholesky and cholesky_solve have no forward-mode derivative in PyTorch
    check(lambda a: spd(a).cholesky(), lambda a: spd(a).cholesky(), rand(*shape), jvp=False)
    check(lambda a, b: dp.cholesky_solve(b, LA.cholesky(spd(a))),
          lambda a, b: torch.cholesky_solve(b, torch.linalg.cholesky(spd(a))), rand(*shape),
          rand(shape[-1], 2, seed=3), jvp=False)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 2)])
def test_qr(shape):
    check(LA.qr, torch.linalg.qr, rand(*shape))
    check(dp.qr, torch.qr, rand(*shape, dtype=np.float32))
    check(lambda a: a.qr(), lambda a: a.qr(), rand(*shape))


def test_qr_modes():
    check(lambda a: LA.qr(a, mode="complete"), lambda a: torch.linalg.qr(a, mode="complete"), rand(4, 2), grad=False)
    check(lambda a: LA.qr(a, mode="r").R, lambda a: torch.linalg.qr(a, mode="r").R, rand(4, 2), grad=False)
    a = dp.tensor(rand(2, 4), requires_grad=True)
    with pytest.raises(RuntimeError, match="m >= n"):
        LA.qr(a).Q.sum().backward()


def _eigh_invariant(lib):
    la = LA if lib is dp else torch.linalg

    def f(a):
        L, V = la.eigh(sym(a))
        return L, V * V, (V * L.exp().unsqueeze(-2)) @ V.mT      # signs of V cancel
    return f


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh(shape):
    check(_eigh_invariant(dp), _eigh_invariant(torch), rand(*shape))
    check(lambda a: LA.eigvalsh(sym(a)), lambda a: torch.linalg.eigvalsh(sym(a)), rand(*shape))
    check(lambda a: LA.eigh(a, UPLO="U").eigenvalues, lambda a: torch.linalg.eigh(a, UPLO="U").eigenvalues,
          rand(*shape), fd=False)     # reads one triangle only: symmetric grads differ from FD
    check(_eigh_invariant(dp), _eigh_invariant(torch), rand(*shape, dtype=np.float32))


def _svd_invariant(lib, full=False):
    la = LA if lib is dp else torch.linalg

    def f(a):
        U, S, Vh = la.svd(a, full_matrices=full)
        return U * U, S, Vh * Vh, (U * S.unsqueeze(-2)) @ Vh     # signs of U, V cancel
    return f


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2), (2, 2, 3)])
def test_svd(shape):
    check(_svd_invariant(dp), _svd_invariant(torch), rand(*shape))
    check(LA.svdvals, torch.linalg.svdvals, rand(*shape))
    check(lambda a: dp.svd(a)[1], lambda a: torch.svd(a)[1], rand(*shape))
    check(lambda a: [t * t for t in a.svd()], lambda a: [t * t for t in a.svd()], rand(*shape))


def test_svd_full_matrices_and_float32():
    check(_svd_invariant(dp, True), _svd_invariant(torch, True), rand(3, 3))
    check(_svd_invariant(dp), _svd_invariant(torch), rand(4, 3, dtype=np.float32))

    def first_columns(lib):          # full U: only its first min(m, n) columns get a gradient
        la = LA if lib is dp else torch.linalg
        return lambda a: [t * t for t in (la.svd(a)[0][:, :2], la.svd(a)[2])]
    check(first_columns(dp), first_columns(torch), rand(4, 2), jvp=False)
    assert LA.svd(dp.tensor(rand(4, 2))).U.shape == (4, 4)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5), (2, 4, 2)])
def test_pinv(shape):
    check(LA.pinv, torch.linalg.pinv, rand(*shape))
    check(dp.pinverse, torch.pinverse, rand(*shape, dtype=np.float32))


def test_pinv_rank_deficient_forward():
    a = rand(4, 1) @ rand(1, 3, seed=2)
    check(LA.pinv, torch.linalg.pinv, a, grad=False)
    check(lambda a: LA.pinv(a, atol=0.5), lambda a: torch.linalg.pinv(a, atol=0.5), rand(3, 3), grad=False)


@pytest.mark.parametrize("sa,sb", [((5, 3), (5, 2)), ((3, 3), (3, 1)), ((2, 4, 2), (2, 4, 3))])
def test_lstsq(sa, sb):
    a, b = rand(*sa), rand(*sb, seed=1)
    check(lambda a, b: LA.lstsq(a, b).solution, lambda a, b: torch.linalg.lstsq(a, b).solution, a, b)
    for driver in (None, "gelsd"):     # all four outputs; the empty ones take no gradient here
        check(lambda a, b: LA.lstsq(a, b, driver=driver), lambda a, b: torch.linalg.lstsq(a, b, driver=driver),
              a, b, grad=False)


def test_matrix_rank():
    a = np.stack([rand(4, 3), rand(4, 1) @ rand(1, 3, seed=2)])
    check(LA.matrix_rank, torch.linalg.matrix_rank, a)
    check(lambda a: LA.matrix_rank(a, atol=1.0), lambda a: torch.linalg.matrix_rank(a, atol=1.0), a)


# --- norms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("ord", [2, 1, inf, -inf, 0, 3, 1.5, 0.5, -1])
@pytest.mark.parametrize("shape,dim,keepdim", [((4,), None, False), ((2, 3), 1, False),
                                               ((2, 3, 2), (0, 2), True), ((), None, False)])
def test_vector_norm(ord, shape, dim, keepdim):
    check(lambda a: LA.vector_norm(a, ord, dim, keepdim), lambda a: torch.linalg.vector_norm(a, ord, dim, keepdim),
          rand(*shape))


def test_vector_norm_float32_and_zero():
    check(lambda a: LA.vector_norm(a, dim=1), lambda a: torch.linalg.vector_norm(a, dim=1), rand(3, 4, dtype=np.float32))
    a = rand(3, 4)
    a[1] = 0                                            # a zero row: gradient 0, as torch
    a[2, 1] = a[2, 3] = -0.5                            # a tie for the inf norm: split evenly
    a[2, 0] = a[2, 2] = 0.1
    for ord in (2, 1, inf, 3, 0.5):
        # second derivatives at the zero row: torch gives nan, diffprog 0
        check(lambda a: LA.vector_norm(a, ord, 1), lambda a: torch.linalg.vector_norm(a, ord, 1), a,
              fd=False, gradgrad=False)


def test_vector_norm_of_empty_tensors_as_torch():
    """inf and negative orders have no identity: an error over an empty dim, as torch."""
    for ord in (inf, -inf, -1):
        for dim in (None, 0):
            with pytest.raises(RuntimeError):
                torch.linalg.vector_norm(torch.empty(0, 3), ord, dim)
            with pytest.raises(RuntimeError, match="linalg.vector_norm: cannot compute"):
                LA.vector_norm(dp.empty(0, 3), ord, dim)
        assert LA.vector_norm(dp.empty(0, 3), ord, 1).shape == torch.linalg.vector_norm(
            torch.empty(0, 3), ord, 1).shape == (0,)
    for ord in (2, 1, 0, 3):
        assert LA.vector_norm(dp.empty(0, 3), ord).item() == torch.linalg.vector_norm(torch.empty(0, 3), ord).item() == 0


def test_vector_norm_second_order_at_zero_is_zero():
    x = dp.zeros(3, dtype=dp.float64, requires_grad=True)
    for ord in (2, 3):
        g, = dp.autograd.grad(LA.vector_norm(x, ord), x, create_graph=True)
        gg, = dp.autograd.grad((g * dp.tensor([1.0, 2.0, 3.0])).sum(), x)
        assert g.tolist() == [0, 0, 0] and gg.tolist() == [0, 0, 0]


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, inf, -inf])
@pytest.mark.parametrize("shape,dim,keepdim", [((3, 4), (-2, -1), False), ((2, 3, 2), (0, 2), True),
                                               ((2, 3, 4), (2, 1), False)])
def test_matrix_norm(ord, shape, dim, keepdim):
    check(lambda a: LA.matrix_norm(a, ord, dim, keepdim), lambda a: torch.linalg.matrix_norm(a, ord, dim, keepdim),
          rand(*shape))


@pytest.mark.parametrize("kwargs,shape", [({}, (2, 3)), ({}, (2, 3, 4)), ({"ord": 1}, (4,)), ({"ord": "nuc"}, (3, 2)),
                                          ({"dim": 1}, (2, 3)), ({"ord": inf, "dim": (0, 1)}, (2, 3)),
                                          ({"ord": 3, "dim": -1, "keepdim": True}, (2, 3))])
def test_linalg_norm(kwargs, shape):
    check(lambda a: LA.norm(a, **kwargs), lambda a: torch.linalg.norm(a, **kwargs), rand(*shape))


@pytest.mark.parametrize("args", [(), ("fro",), (1,), (2, 1), ("fro", (0, 1)), ("nuc",), (inf, 0, True)])
def test_torch_norm(args):
    check(lambda a: a.norm(*args), lambda a: a.norm(*args), rand(2, 3))
    check(lambda a: dp.norm(a, *args), lambda a: torch.norm(a, *args), rand(2, 3, dtype=np.float32))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, inf, 0.5])
@pytest.mark.parametrize("s1,s2", [((3, 2), (4, 2)), ((2, 3, 2), (2, 4, 2)), ((2, 3, 2), (4, 2))])
def test_cdist(p, s1, s2):
    # PyTorch's cdist has no second or forward-mode derivative; test_cdist_second_order has ours.
    check(lambda a, b: dp.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p), rand(*s1), rand(*s2, seed=9),
          gradgrad=False, jvp=False)


def test_cdist_zero_distance_and_second_order():
    a = rand(3, 2)
    b = np.concatenate([a[:1], rand(2, 2, seed=4)])
    check(lambda a, b: dp.cdist(a, b), lambda a, b: torch.cdist(a, b), a, b, gradgrad=False, jvp=False, fd=False)
    for p in (2, 1, 3):
        check(lambda a, b: dp.cdist(a, b, p), lambda a, b: (a.unsqueeze(-2) - b.unsqueeze(-3)).norm(p, dim=-1),
              rand(3, 2), rand(4, 2, seed=9))


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("fn,shapes,exc,match", [
    (lambda a, b: a @ b, [(2, 3), (4, 5)], RuntimeError, r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"),
    (lambda a, b: a @ b, [(3,), (4,)], RuntimeError, r"matmul: shapes \(3,\) and \(4,\)"),
    (lambda a, b: a @ b, [(2, 2, 3), (4, 3, 5)], RuntimeError, r"matmul.*broadcast"),
    (lambda a, b: a @ b, [(), (3,)], RuntimeError, r"at least 1D"),
    (lambda a, b: dp.mm(a, b), [(3,), (3, 3)], RuntimeError, r"mm: expected a matrix"),
    (lambda a, b: dp.dot(a, b), [(3,), (4,)], RuntimeError, r"dot: .*same number"),
    (lambda a: LA.inv(a), [(3, 2)], RuntimeError, r"linalg.inv: A must be batches of square matrices.*\(3, 2\)"),
    (lambda a: LA.det(a), [(2, 3, 2)], RuntimeError, r"linalg.det: A must be batches of square.*\(2, 3, 2\)"),
    (lambda a: LA.inv(a * 0), [(3, 3)], RuntimeError, r"linalg.inv: .*singular"),
    (lambda a, b: LA.solve(a * 0, b), [(3, 3), (3,)], RuntimeError, r"linalg.solve: .*singular"),
    (lambda a: LA.cholesky(-a), [(3, 3)], RuntimeError, r"linalg.cholesky: .*positive-definite"),
    (lambda a, b: dp.einsum("ij,jk->ik", a, b), [(2, 3), (4, 5)], RuntimeError, r"einsum.*broadcast"),
    (lambda a: dp.einsum("ijk->i", a), [(2, 3)], RuntimeError, r"einsum.*subscripts 'ijk'"),
    (lambda a: LA.matrix_norm(a, 3), [(2, 2)], RuntimeError, r"Order 3 not supported"),
    (lambda a, b: dp.cdist(a, b), [(3, 2), (3, 4)], RuntimeError, r"cdist: .*same number of columns"),
    (lambda a, b: LA.cross(a, b), [(4,), (4,)], RuntimeError, r"linalg.cross: .*length 3"),
])
def test_errors(fn, shapes, exc, match):
    args = [dp.tensor(square(*s) if len(s) >= 2 and s[-1] == s[-2] else rand(*s)) for s in shapes]
    with pytest.raises(exc, match=match):
        fn(*args)


def test_dtype_errors():
    with pytest.raises(RuntimeError, match="matmul: .*same dtype.*float32 and float64"):
        dp.ones(2, 3) @ dp.ones(3, 2, dtype=dp.float64)
    with pytest.raises(RuntimeError, match="einsum: .*same dtype"):
        dp.einsum("ij,jk", dp.ones(2, 3), dp.ones(3, 2, dtype=dp.float64))
    with pytest.raises(RuntimeError, match="linalg.inv: expected a floating point"):
        LA.inv(dp.ones(2, 2, dtype=dp.int64))
    with pytest.raises(RuntimeError, match="linalg.vector_norm: expected a floating point"):
        LA.vector_norm(dp.ones(3, dtype=dp.int64))
