"""Comparisons, counting, searching, meshgrid and dist, against PyTorch."""
import warnings

import numpy as np
import pytest

from oracle import check, const, rand, torch

import diffprog as dp

NAN, INF = float("nan"), float("inf")


def both(fn, *data, **kwargs):
    """Run fn(lib, *tensors) in both libraries; compare every output (values, dtype, shape)."""
    d = fn(dp, *(dp.tensor(x) for x in data), **kwargs)
    t = fn(torch, *(torch.tensor(x) for x in data), **kwargs)
    d, t = (d, t) if isinstance(t, tuple) else ((d,), (t,))
    assert len(d) == len(t)
    for a, b in zip(d, t):
        if isinstance(b, torch.Tensor):
            assert a.dtype.name == str(b.dtype)[6:], f"dtype {a.dtype} vs {b.dtype}"
            assert tuple(a.shape) == tuple(b.shape), f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
        else:
            assert a == b and type(a) is type(b)


# --- comparing whole tensors ----------------------------------------------------------------

CLOSE = [
    ([1.0, 2.0, NAN], [1.0 + 1e-9, 2.1, NAN], {}),
    ([1.0, 2.0, NAN], [1.0, 2.0, NAN], {"equal_nan": True}),
    ([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.05], {"rtol": 0.05}),
    ([1.0, INF, -INF], [1.0, INF, INF], {}),
    ([0.0, 1e-9], [1e-7, 0.0], {"atol": 0.0}),
    ([1, 2, 3], [1, 2, 4], {}),
    ([True, False], [True, True], {}),
    (2.0, [2.0, 2.0 + 1e-3], {"atol": 1e-2}),
    ([], [], {}),
]


@pytest.mark.parametrize("a,b,kw", CLOSE)
def test_isclose_allclose(a, b, kw):
    both(lambda L, x, y, **k: L.isclose(x, y, **k), a, b, **kw)
    both(lambda L, x, y, **k: x.isclose(y, **k), a, b, **kw)
    both(lambda L, x, y, **k: L.allclose(x, y, **k), a, b, **kw)
    both(lambda L, x, y, **k: x.allclose(y, **k), a, b, **kw)


def test_isclose_dtype_mismatch():
    with pytest.raises(RuntimeError, match="same dtype"):
        dp.isclose(dp.tensor([1, 2]), dp.tensor([1.0, 2.0]))


@pytest.mark.parametrize("a,b", [([1, 2], [1, 2]), ([1, 2], [1, 3]), ([1, 2], [1.0, 2.0]),
                                 ([[1, 2]], [1, 2]), ([], []), (3.0, 3.0), ([NAN], [NAN])])
def test_equal(a, b):
    both(lambda L, x, y: L.equal(x, y), a, b)
    both(lambda L, x, y: x.equal(y), a, b)


# --- counting --------------------------------------------------------------------------------

UNIQUE_DATA = [[3, 1, 2, 1, 3, 3], [[2.5, -1.0], [2.5, 0.0]], [True, False, True], [], 5,
               [[1, 2], [1, 2], [0, 5]], [[4, 1, 4], [0, 2, 0]]]


@pytest.mark.parametrize("data", UNIQUE_DATA)
@pytest.mark.parametrize("inv,counts", [(False, False), (True, False), (False, True), (True, True)])
def test_unique(data, inv, counts):
    both(lambda L, x: L.unique(x, return_inverse=inv, return_counts=counts), data)
    both(lambda L, x: x.unique(return_inverse=inv, return_counts=counts), data)
    both(lambda L, x: L.unique_consecutive(x, return_inverse=inv, return_counts=counts), data)


@pytest.mark.parametrize("data,dim", [([[1, 2], [1, 2], [0, 5]], 0), ([[4, 1, 4], [0, 2, 0]], 1),
                                      ([[4, 1, 4], [0, 2, 0]], -1), ([[3, 3], [1, 1], [3, 3]], 0)])
def test_unique_dim(data, dim):
    both(lambda L, x: L.unique(x, return_inverse=True, return_counts=True, dim=dim), data)
    both(lambda L, x: L.unique_consecutive(x, return_inverse=True, return_counts=True, dim=dim), data)


@pytest.mark.parametrize("data,weights,minlength", [
    ([0, 1, 1, 3], None, 0), ([2, 2], None, 5), ([], None, 0), ([], None, 3),
    ([0, 1, 1], [0.5, 1.0, 2.0], 0), ([0, 1, 1], np.array([0.5, 1.0, 2.0]), 4),
    ([0, 1, 1], [1, 2, 3], 0), ([4], np.array([1.5], dtype=np.float16), 0),
])
def test_bincount(data, weights, minlength):
    x = np.array(data, dtype=np.int64)
    if weights is None:
        both(lambda L, a: L.bincount(a, minlength=minlength), x)
        both(lambda L, a: a.bincount(minlength=minlength), x)
    else:
        both(lambda L, a, w: L.bincount(a, weights=w, minlength=minlength), x, weights)


def test_bincount_errors():
    with pytest.raises(RuntimeError, match="non-negative"):
        dp.bincount(dp.tensor([1, -1]))
    with pytest.raises(RuntimeError, match="1-D"):
        dp.bincount(dp.tensor([[1]]))


@pytest.mark.parametrize("data,kw", [
    (rand(50, seed=1), {}), (rand(50, seed=2), {"bins": 7}),
    (rand(4, 5, seed=3), {"bins": 4, "min": -0.5, "max": 0.5}),
    ([1.0, 2.0, 1.0], {"bins": 4, "min": 0, "max": 3}), ([2.0, 2.0], {"bins": 3}), ([], {"bins": 3}),
    (rand(30, dtype=np.float32, seed=4), {"bins": 10}),
    ([0.0, 1.0, 2.0, 3.0], {"bins": 3, "min": 1, "max": 2}),
])
def test_histc(data, kw):
    both(lambda L, x: L.histc(x, **kw), data)
    both(lambda L, x: x.histc(**kw), data)


def test_histc_errors():
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        dp.histc(dp.tensor([1.0]), bins=3, min=2, max=1)


# --- searching --------------------------------------------------------------------------------

SEQ = [1.0, 3.0, 5.0, 7.0, 9.0]


@pytest.mark.parametrize("seq,values", [
    (SEQ, [3.0, 6.0, 9.0, 0.0, 10.0]), (SEQ, [[3.0, 6.0], [9.0, 1.0]]),
    ([[1, 3, 5], [2, 4, 6]], [[3, 6], [1, 4]]),
    ([1, 2, 2, 2, 3], [2]), ([], [1.0]), (SEQ, []),
])
@pytest.mark.parametrize("kw", [{}, {"right": True}, {"side": "right"}, {"side": "left"},
                                {"out_int32": True}])
def test_searchsorted(seq, values, kw):
    both(lambda L, s, v: L.searchsorted(s, v, **kw), seq, values)


def test_searchsorted_scalar_and_sorter():
    s = dp.tensor([1.0, 3.0, 5.0])
    assert dp.searchsorted(s, 4.0).ndim == 0 and dp.searchsorted(s, 4.0).item() == 2
    both(lambda L, s, srt, v: L.searchsorted(s, v, sorter=srt), [5.0, 1.0, 3.0], [1, 2, 0], [2.0, 5.0])
    with pytest.raises(RuntimeError):
        dp.searchsorted(s, [1.0], side="left", right=True)


@pytest.mark.parametrize("values", [[0.5, 1.0, 4.0, 9.0, 12.0], [[1.0, 3.0], [5.0, 7.5]], 5.0])
@pytest.mark.parametrize("right", [False, True])
def test_bucketize(values, right):
    both(lambda L, v, b: L.bucketize(v, b, right=right), values, SEQ)
    both(lambda L, v, b: L.bucketize(v, b, right=right, out_int32=True), values, SEQ)


# --- meshgrid (differentiable views) ------------------------------------------------------------

@pytest.mark.parametrize("shapes", [[(3,), (4,)], [(2,), (3,), (4,)], [(), (3,)], [(5,)], [(2,), (0,)]])
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(shapes, indexing):
    args = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    fn = lambda L: lambda *ts: L.meshgrid(*ts, indexing=indexing)  # noqa: E731
    check(fn(dp), fn(torch), *args)
    check(lambda *ts: dp.meshgrid(list(ts), indexing=indexing),
          lambda *ts: torch.meshgrid(list(ts), indexing=indexing), *args)


def test_meshgrid_float32_and_views():
    check(lambda a, b: dp.meshgrid(a, b, indexing="ij"), lambda a, b: torch.meshgrid(a, b, indexing="ij"),
          rand(3, dtype=np.float32), rand(2, dtype=np.float32))
    x = dp.tensor([1.0, 2.0])
    gx, gy = dp.meshgrid(x, dp.tensor([1.0, 2.0, 3.0]), indexing="ij")
    assert np.shares_memory(gx.numpy(), x.numpy())


def test_meshgrid_warning_only_without_indexing():
    a, b = dp.tensor([1, 2]), dp.tensor([3, 4, 5])
    with pytest.warns(UserWarning, match="indexing"):
        out = dp.meshgrid(a, b)
    assert tuple(out[0].shape) == (2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dp.meshgrid(a, b, indexing="xy")
    with pytest.raises(RuntimeError, match="0D or 1D"):
        dp.meshgrid(dp.zeros(2, 2), indexing="ij")


# --- dist ---------------------------------------------------------------------------------------

NEEDS_POW = pytest.mark.skipif(not hasattr(dp.Tensor, "pow"), reason="needs the elementwise pow op")


@pytest.mark.parametrize("p", [1, 2, INF, -INF,
                               pytest.param(3, marks=NEEDS_POW), pytest.param(1.5, marks=NEEDS_POW),
                               pytest.param(0.5, marks=NEEDS_POW)])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3)), ((5,), ())])
def test_dist(p, shapes):
    a, b = rand(*shapes[0], seed=1), rand(*shapes[1], seed=2)
    check(lambda x, y: dp.dist(x, y, p), lambda x, y: torch.dist(x, y, p), a, b)
    check(lambda x, y: x.dist(y, p), lambda x, y: x.dist(y, p), a, b)


def test_dist_p0_float32_and_empty():
    a, b = rand(3, 4, seed=1), rand(3, 4, seed=2)
    b[0, :2] = a[0, :2]
    check(lambda x, y: dp.dist(x, y, 0), lambda x, y: torch.dist(x, y, 0), a, b, grad=False)
    check(lambda x, y: dp.dist(x, y), lambda x, y: torch.dist(x, y), rand(3, 4, dtype=np.float32),
          rand(4, dtype=np.float32, seed=5))
    check(lambda x, y: dp.dist(x, y), lambda x, y: torch.dist(x, y), rand(0, 3), rand(3))
    check(lambda x, y: dp.dist(x, y), lambda x, y: torch.dist(x, y), rand(3),
          const(np.array([1.0, 2.0, 0.0])))


@pytest.mark.parametrize("p", [1, 2, INF])
def test_dist_zero_distance_gradient_is_zero(p):
    x = dp.tensor([1.0, -2.0], requires_grad=True)
    tx = torch.tensor([1.0, -2.0], requires_grad=True)
    dp.dist(x, dp.tensor([1.0, -2.0]), p).backward()
    torch.dist(tx, torch.tensor([1.0, -2.0]), p).backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_dist_int_error():
    with pytest.raises(RuntimeError, match="floating point"):
        dp.dist(dp.tensor([1, 2]), dp.tensor([1, 3]))


# --- small predicates -----------------------------------------------------------------------------

def test_predicates():
    t = dp.zeros(2, 3)
    assert dp.numel(t) == 6 and dp.is_tensor(t) and not dp.is_tensor(np.zeros(2))
    assert dp.is_floating_point(t) and not dp.is_floating_point(dp.tensor([1]))
    assert dp.is_complex(dp.tensor([1j])) and not dp.is_complex(t)
    assert dp.is_nonzero(dp.tensor([2.0])) and not dp.tensor(0).is_nonzero()
    with pytest.raises(RuntimeError):
        dp.is_nonzero(t)
    assert dp.result_type(dp.tensor([1], dtype=dp.int32), 2.5) is dp.float32
    assert dp.result_type(dp.tensor([1], dtype=dp.int32), dp.tensor(1)) is dp.int32
