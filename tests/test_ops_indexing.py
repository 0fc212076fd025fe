import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp

I = np.array  # integer index arrays reach both frameworks as int64 tensors


# --- x[key] --------------------------------------------------------------------------------

GET = [
    ("int", lambda x: x[1], (3, 4)),
    ("neg_int", lambda x: x[-1, -2], (3, 4)),
    ("int_to_0d", lambda x: x[2], (3,)),
    ("slice", lambda x: x[1:], (3, 4)),
    ("slice_step", lambda x: x[::2, 1::2], (5, 4)),
    ("slice_past_end", lambda x: x[1:10], (3, 4)),
    ("empty_slice", lambda x: x[2:1], (3, 4)),
    ("none", lambda x: x[None, :, None], (3, 4)),
    ("ellipsis", lambda x: x[..., 0], (2, 3, 4)),
    ("ellipsis_mid", lambda x: x[0, ..., 1:], (2, 3, 4)),
    ("0d_ellipsis", lambda x: x[...], ()),
    ("0d_none", lambda x: x[None], ()),
    ("list", lambda x: x[[0, 2]], (3, 4)),
    ("repeated", lambda x: x[[0, 0, 2, 0]], (3, 4)),
    ("neg_list", lambda x: x[[-1, 0]], (3, 4)),
    ("nested_list", lambda x: x[[[0, 1], [1, 1]]], (3, 4)),
    ("empty_list", lambda x: x[[]], (3, 4)),
    ("two_arrays", lambda x: x[[0, 1, 1], [3, 3, 0]], (3, 4)),
    ("array_slice", lambda x: x[1:, [0, 0]], (3, 4)),
    ("separated_arrays", lambda x: x[[0, 1], :, [1, 1]], (2, 3, 4)),
    ("array_int", lambda x: x[[1, 0, 1], 2], (3, 4)),
    ("array_none", lambda x: x[None, [1, 1]], (3, 4)),
    ("mask", lambda x: x[x.detach() > 0], (3, 4)),
    ("row_mask", lambda x: x[x.detach()[:, 0] > 0], (4, 3)),
    ("mask_and_slice", lambda x: x[1:, x.detach()[0] > 0], (3, 4)),
    ("bool_list", lambda x: x[[True, False, True]], (3, 2)),
    ("chained", lambda x: x[1:][:, [0, 0]][0], (3, 4)),
    ("int_then_arrays", lambda x: x[0, :, [1, 1, 0]], (2, 3, 4)),          # torch order, not NumPy's
    ("int_between_arrays", lambda x: x[[1, 0], 1, [2, 2]], (2, 3, 4)),
    ("none_int_array", lambda x: x[None, 1, [0, 2]], (2, 3)),
    ("int_mask", lambda x: x[1, :, [True, False, True, True]], (2, 3, 4)),
]


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.parametrize("name,fn,shape", GET, ids=[g[0] for g in GET])
def test_getitem(name, fn, shape):
    # a mask computed from x differs across a batch: a data-dependent shape, which vmap
    # refuses (as torch.func.vmap does)
    check(fn, fn, rand(*shape), vmap="mask" not in name)


def test_getitem_float32_and_tensor_indices():
    check(lambda x, i: x[i, 1:], lambda x, i: x[i, 1:], rand(4, 3, dtype=np.float32), I([3, 3, 0]))
    check(lambda x, i: x[i], lambda x, i: x[i], rand(4, 3), I(2))
    check(lambda x, i: x[:, i, [0, 0]], lambda x, i: x[:, i, [0, 0]], rand(2, 4, 3), I(1))
    check(lambda x, i: x[:, i], lambda x, i: x[:, i], rand(4, 3), I([[0, 2], [2, 2]]))


def test_basic_index_is_view_advanced_is_copy():
    x = dp.zeros(3, 4)
    x[1:, ::2].add_(1)
    x[0][1].fill_(5)
    x[[0, 2]].add_(100)          # a copy: no effect on x
    ref = torch.zeros(3, 4)
    ref[1:, ::2].add_(1)
    ref[0][1].fill_(5)
    np.testing.assert_array_equal(x.numpy(), ref.numpy())
    assert x[1]._base is x and x[[1]]._base is None
    assert x[dp.tensor(1)]._base is x      # a 0-d integer tensor selects, as in PyTorch


# --- x[key] = v ----------------------------------------------------------------------------

def _set(idx):
    """y = x * 1; y[idx] = v: a write into a non-leaf, differentiable in x and v."""
    def f(x, v):
        y = x * 1
        y[idx] = v
        return y
    return f


SET = [
    ("int", 1, (3, 4), (4,)),
    ("int_broadcast", 1, (3, 4), (1,)),
    ("slice", (slice(1, None), slice(None, None, 2)), (3, 4), (2, 2)),
    ("slice_broadcast_row", slice(0, 2), (3, 4), (4,)),
    ("leading_ones", 0, (3, 4), (1, 1, 4)),
    ("ellipsis", (Ellipsis, 1), (2, 3, 4), (2, 3)),
    ("scalar_elem", (1, 2), (3, 4), ()),
    ("list", [0, 2], (3, 4), (2, 4)),
    ("list_broadcast", [2, 0], (3, 4), (4,)),
    ("two_arrays", ([0, 2], [1, 3]), (3, 4), (2,)),
    ("array_slice", (slice(None), [1, 3]), (3, 4), (3, 2)),
    ("bool_mask", [True, False, True], (3, 4), (2, 4)),
    ("int_and_array", (0, slice(None), [2, 0]), (2, 3, 4), (3, 2)),
]


@pytest.mark.parametrize("name,idx,shape,vshape", SET, ids=[s[0] for s in SET])
def test_setitem_nonleaf(name, idx, shape, vshape):
    check(_set(idx), _set(idx), rand(*shape), rand(*vshape, seed=9))


def test_setitem_scalar_and_mask_tensor():
    scalar = lambda x: _assign(x, lambda y: y > 0, 0.5)  # noqa: E731
    check(scalar, scalar, rand(3, 4), vmap=False)          # (masks from x: see test_getitem)
    rows = lambda x, v: _assign(x, lambda y: y[:, 0] > 0, v)  # noqa: E731
    check(rows, rows, rand(4, 3), rand(3, seed=2), vmap=False)


def _assign(x, key_of, v):
    y = x * 1
    y[key_of(y.detach())] = v
    return y


def test_setitem_repeated_indices_grads():
    # the last write wins in forward; every occurrence of v gets its gradient (as torch)
    x, v = dp.tensor(rand(4), requires_grad=True), dp.tensor(rand(3, seed=1), requires_grad=True)
    tx, tv = (torch.tensor(a.detach().numpy(), requires_grad=True) for a in (x, v))
    for a, b, lib in ((x, v, dp), (tx, tv, torch)):
        y = a * 1
        y[lib.tensor([1, 3, 3])] = b
        (y * lib.arange(4.0, dtype=lib.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy())


def test_setitem_into_buffer_makes_it_require_grad():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    buf = dp.zeros(3, 2)
    buf[1] = x * 3
    assert buf.requires_grad and not buf.is_leaf
    (buf * dp.tensor([[1.0], [2.0], [4.0]])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])
    np.testing.assert_allclose(buf.detach().numpy(), [[0, 0], [3, 6], [0, 0]])


def test_setitem_on_leaf_requiring_grad_raises():
    x = dp.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[[0, 1]] = 1.0
    with dp.no_grad():
        x[0] = 2.0
        x[[1, 2]] = dp.tensor([3.0, 4.0])
    assert x.tolist() == [2.0, 3.0, 4.0] and x.is_leaf


def test_setitem_casts_value_and_checks_shapes():
    x = dp.zeros(3, dtype=dp.int64)
    x[0] = 2.7
    x[1:] = dp.tensor([1.9, -1.5])
    assert x.tolist() == [2, 1, -1] and x.dtype == dp.int64
    x[1:] = [5, 6]
    assert x.tolist() == [2, 5, 6]
    with pytest.raises(RuntimeError, match="broadcast"):
        dp.zeros(3, 4)[0] = dp.zeros(3)
    with pytest.raises(RuntimeError, match="broadcast"):
        dp.zeros(3, 4)[0] = dp.zeros(3, requires_grad=True)
    x = dp.zeros(2, 3)
    v = x[0]
    x[0, 1:] = 7.0            # a direct write (nothing to record) still bumps the version
    assert v._version == x._version == 1 and v.tolist() == [0.0, 7.0, 7.0]


# --- in-place through views ------------------------------------------------------------------

def _both(fn, *arrays):
    """Run fn(lib, *tensors requiring grad) in diffprog and torch; compare values and grads."""
    outs = []
    for lib in (dp, torch):
        ins = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *ins)
        out.backward(lib.ones_like(out) if out.ndim else None)
        outs.append((out.detach().numpy(), [t.grad.numpy() if t.grad is not None else None for t in ins]))
    (a, ga), (b, gb) = outs
    np.testing.assert_allclose(a, b, rtol=1e-12)
    for u, w in zip(ga, gb):
        assert (u is None) == (w is None)
        if u is not None:
            np.testing.assert_allclose(u, w, rtol=1e-12)


def test_inplace_on_view_of_nonleaf():
    def f(lib, x):
        y = x * 1
        y[0:2].mul_(2)
        return y.sum()
    _both(f, np.arange(1.0, 6.0))
    x = dp.tensor(np.arange(1.0, 6.0), requires_grad=True)
    f(dp, x).backward()
    assert x.grad.tolist() == [2, 2, 1, 1, 1]


def test_inplace_on_transposed_view_updates_base():
    def f(lib, x):
        y = x.exp()
        z = y * 1
        z.t().add_(lib.arange(3.0))          # broadcast along the transposed rows
        z.t()[1].mul_(y.t()[0])
        return (z * z).sum()
    _both(f, rand(3, 3))


def test_inplace_chain_of_views_and_value_grads():
    def f(lib, x, v):
        y = x.tanh() * 1
        row = y[1]
        row[::2].mul_(v)                      # view of a view, value that needs grad
        y.diagonal().add_(v.sum())
        return (y * y).sum()
    _both(f, rand(3, 4), rand(2, seed=3))


def test_setitem_through_view_of_view():
    def f(lib, x, v):
        y = x * 2
        y[1:][:, [0, 2]] = v                  # advanced put into a view
        return (y * y).sum()
    _both(f, rand(3, 4), rand(2, 2, seed=4))


def test_inplace_on_view_of_leaf_raises():
    x = dp.ones(4, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
        x[1:].mul_(2)
    with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
        x.view(2, 2).zero_()
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.fill_(1.0)


def test_version_counter_is_shared_by_views():
    x = dp.tensor(rand(4), requires_grad=True)
    y = x.exp()                       # saves its output y
    v = y[1:3]
    before = y._version
    v.mul_(2)
    assert y._version == v._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    # and the same through a base modified under a view saved by an op
    x2 = dp.tensor(rand(4), requires_grad=True)
    w = x2 * 1
    s = w[:2].sin()                   # saves the view w[:2]
    w.zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()


def test_view_made_before_inplace_on_base():
    def f(lib, x):
        h = x * 1
        row = h[0:2]
        h.mul_(2)
        return row.sum()
    _both(f, np.ones(3))


def test_copy_fill_zero():
    def f(lib, x, s):
        y = x * 1
        y[0].copy_(s)                 # broadcast src
        y[1].fill_(s.sum())           # 0-d tensor value
        y[2:].zero_()
        return (y * y).sum()
    _both(f, rand(4, 3), rand(3, seed=5))
    x = dp.zeros(2, 2)
    x.copy_(dp.tensor([1.7, 2.2]).int())
    assert x.tolist() == [[1, 2], [1, 2]]
    y = dp.zeros(3, dtype=dp.int32)
    y.copy_(dp.tensor([1.5, 2.5, -3.5]))
    assert y.tolist() == [1, 2, -3]


# --- index_select, gather, take, masked_select ----------------------------------------------

READ = [
    ("index_select", lambda x, i: x.index_select(1, i), (3, 4), I([0, 3, 3])),
    ("index_select_0d", lambda x, i: x.index_select(0, i), (3, 4), I(2)),
    ("gather", lambda x, i: x.gather(1, i), (3, 4), I([[0, 0], [3, 1], [2, 2]])),
    ("gather_small", lambda x, i: x.gather(0, i), (3, 4), I([[2, 0, 2], [1, 1, 1]])),
    ("gather_3d", lambda x, i: x.gather(-1, i), (2, 3, 4), np.zeros((2, 3, 2), dtype=np.int64)),
    ("take", lambda x, i: x.take(i), (3, 4), I([[0, 11], [5, 5]])),
    ("take_neg", lambda x, i: x.take(i), (3, 4), I([-1, 0])),
    ("take_along_dim", lambda x, i: x.take_along_dim(i, 1), (3, 4), I([[0], [3], [1]])),
    ("take_along_dim_none", lambda x, i: x.take_along_dim(i), (3, 4), I([11, 0, 0])),
    ("take_along_dim_bcast", lambda x, i: x.take_along_dim(i, 2), (3, 1, 4), I([[[0], [2]]])),
]


@pytest.mark.parametrize("name,fn,shape,idx", READ, ids=[r[0] for r in READ])
def test_read(name, fn, shape, idx):
    check(fn, fn, rand(*shape), idx)


def test_read_float32_and_functions():
    check(lambda x, i: dp.gather(x, 0, i), lambda x, i: torch.gather(x, 0, i),
          rand(3, 2, dtype=np.float32), I([[1, 1], [0, 2]]))
    check(lambda x, i: dp.index_select(x, 0, i), lambda x, i: torch.index_select(x, 0, i),
          rand(3, 2, dtype=np.float32), I([1, 1]))


def test_masked_select():
    m = rand(3, 4, seed=1) > 0
    check(lambda x, m: x.masked_select(m), lambda x, m: x.masked_select(m), rand(3, 4), m)
    check(lambda x, m: dp.masked_select(x, m), lambda x, m: torch.masked_select(x, m),
          rand(4), rand(3, 4, seed=1) > 0)         # input broadcast to the mask


def test_nonzero_argwhere():
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    for args in ((), ):
        d, t = dp.tensor(a), torch.tensor(a)
        np.testing.assert_array_equal(d.nonzero(*args).numpy(), t.nonzero(*args).numpy())
        assert d.nonzero().dtype == dp.int64
        for u, w in zip(dp.nonzero(d, as_tuple=True), torch.nonzero(t, as_tuple=True)):
            np.testing.assert_array_equal(u.numpy(), w.numpy())
        np.testing.assert_array_equal(dp.argwhere(d).numpy(), torch.argwhere(t).numpy())
    assert dp.nonzero(dp.tensor(3.0), as_tuple=True)[0].tolist() == [0]
    assert tuple(dp.nonzero(dp.tensor(3.0)).shape) == (1, 0)
    from diffprog.ops.indexing import _where_indices
    assert [i.tolist() for i in _where_indices(dp.tensor(a))] == [[0, 1, 1], [1, 0, 2]]


# --- writes: scatter, index_*, masked_*, put ---------------------------------------------------

def _lib(t):
    return dp if isinstance(t, dp.Tensor) else torch


WRITE = [
    ("scatter", lambda x, s, i: x.scatter(1, i, s), (3, 4), (3, 2), I([[0, 2], [1, 3], [3, 0]])),
    ("scatter_add", lambda x, s, i: x.scatter_add(1, i, s), (3, 4), (3, 3),
     I([[0, 0, 0], [1, 3, 1], [2, 2, 0]])),
    ("index_add", lambda x, s, i: x.index_add(0, i, s), (3, 4), (4, 4), I([0, 2, 0, 0])),
    ("index_add_alpha", lambda x, s, i: x.index_add(1, i, s, alpha=-2.5), (3, 4), (3, 2), I([3, 3])),
    ("index_copy", lambda x, s, i: x.index_copy(1, i, s), (3, 4), (3, 2), I([3, 0])),
    ("index_put", lambda x, s, i: x.index_put((i,), s), (3, 4), (2, 4), I([2, 0])),
    ("index_put_acc", lambda x, s, i: x.index_put((i, i), s, accumulate=True), (3, 4), (3,), I([1, 1, 0])),
    ("put", lambda x, s, i: x.put(i, s), (3, 4), (2, 2), I([[11, 0], [-2, 4]])),
    ("put_acc", lambda x, s, i: x.put(i, s, accumulate=True), (3, 4), (3,), I([5, 5, 1])),
    ("scatter_fn", lambda x, s, i: _lib(x).scatter(x, 0, i, s), (2, 2), (1, 2), I([[1, 0]])),
    ("index_add_fn", lambda x, s, i: _lib(x).index_add(x, 0, i, s), (2, 2), (1, 2), I([1])),
]


@pytest.mark.parametrize("name,fn,shape,sshape,idx", WRITE, ids=[w[0] for w in WRITE])
def test_write(name, fn, shape, sshape, idx):
    check(fn, fn, rand(*shape), rand(*sshape, seed=11), idx)


def test_scatter_larger_src_and_reduce_add():
    # torch has no gradient for these two forms: compare forward, and gradients with scatter_add's
    check(lambda x, s, i: x.scatter(0, i, s), lambda x, s, i: x.scatter(0, i, s),
          rand(3, 4), rand(3, 5, seed=1), I([[2, 0, 1, 0]]), grad=False)
    check(lambda x, s, i: x.scatter(1, i, s, reduce="add"), lambda x, s, i: x.scatter_add(1, i, s),
          rand(2, 3), rand(2, 2, seed=1), I([[0, 0], [2, 1]]))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    idx = I([[0, 0, 2], [1, 1, 1]])
    fn = lambda x, s, i: x.scatter_reduce(1, i, s, reduce, include_self=include_self)  # noqa: E731
    check(fn, fn, rand(2, 4, low=0.5, high=2), rand(2, 3, seed=3, low=0.5, high=2), idx,
          jvp=reduce != "prod")          # torch has no forward-mode rule for prod


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_ties_split_gradient(reduce):
    x = np.array([[1.0, 5.0, 3.0]])
    s = np.array([[1.0, 1.0, 5.0, 3.0]])
    idx = I([[0, 0, 1, 0]])
    fn = lambda x, s, i: x.scatter_reduce(1, i, s, reduce)  # noqa: E731
    check(fn, fn, x, s, idx, fd=False)


def test_scatter_reduce_int_mean():
    fn = lambda x, s, i: x.scatter_reduce(0, i, s, "mean")  # noqa: E731
    check(fn, fn, I([1, 1, 1]), I([1, 2, 4]), I([0, 0, 1]))


SCALARS = [
    ("scatter_value", lambda x, i: x.scatter(1, i, 2.5), (3, 4), I([[0], [3], [0]])),
    ("scatter_value_kw", lambda x, i: x.scatter(0, i, value=-1.0), (3, 4), I([[1, 2]])),
    ("index_fill", lambda x, i: x.index_fill(1, i, -2.0), (3, 4), I([0, 2])),
    ("masked_fill", lambda x, m: x.masked_fill(m, 0.25), (3, 4), rand(3, 4, seed=2) > 0),
    ("masked_fill_bcast_mask", lambda x, m: x.masked_fill(m, 1.0), (3, 4), rand(4, seed=2) > 0),
    ("masked_fill_bcast_input", lambda x, m: x.masked_fill(m, 1.0), (4,), rand(3, 4, seed=2) > 0),
]


@pytest.mark.parametrize("name,fn,shape,idx", SCALARS, ids=[s[0] for s in SCALARS])
def test_write_scalar(name, fn, shape, idx):
    check(fn, fn, rand(*shape), idx)


def test_masked_fill_tensor_value_and_masked_scatter():
    m = rand(3, 4, seed=2) > 0
    check(lambda x, v, m: x.masked_fill(m, v), lambda x, v, m: x.masked_fill(m, v), rand(3, 4), rand(), m)
    check(lambda x, s, m: x.masked_scatter(m, s), lambda x, s, m: x.masked_scatter(m, s),
          rand(3, 4), rand(4, 4, seed=1), m)
    check(lambda x, m: dp.masked_fill(x, m, 3.0), lambda x, m: torch.masked_fill(x, m, 3.0),
          rand(3, 4, dtype=np.float32), m)


INPLACE = [
    ("index_add_", lambda y, s, i: y.index_add_(0, i, s), (3, 2), I([1, 1])),
    ("index_copy_", lambda y, s, i: y.index_copy_(0, i, s), (3, 2), I([2, 0])),
    ("index_fill_", lambda y, s, i: y.index_fill_(1, i[:1], 3.0), (3, 2), I([1, 0])),
    ("scatter_", lambda y, s, i: y.scatter_(0, i.reshape(1, 2), s[:1]), (3, 2), I([2, 0])),
    ("scatter_value_", lambda y, s, i: y.scatter_(0, i.reshape(1, 2), 7.0), (3, 2), I([2, 0])),
    ("scatter_add_", lambda y, s, i: y.scatter_add_(0, i.reshape(2, 1).expand(2, 2), s), (3, 2), I([2, 2])),
    ("scatter_reduce_", lambda y, s, i: y.scatter_reduce_(0, i.reshape(2, 1).expand(2, 2), s, "amax"),
     (3, 2), I([1, 1])),
    ("masked_fill_", lambda y, s, i: y.masked_fill_(y.detach() > 0, 0.5), (3, 2), I([0])),
    ("masked_scatter_", lambda y, s, i: y.masked_scatter_(y.detach() > 0, s), (3, 2), I([0])),
    ("put_", lambda y, s, i: y.put_(i, s[0]), (3, 2), I([5, 0])),
    ("index_put_", lambda y, s, i: y.index_put_((i,), s, accumulate=True), (3, 2), I([0, 0])),
    ("view_index_add_", lambda y, s, i: y[1:].index_add_(0, i, s), (3, 2), I([1, 0])),
]


@pytest.mark.parametrize("name,op,shape,idx", INPLACE, ids=[p[0] for p in INPLACE])
def test_inplace_writes(name, op, shape, idx):
    def f(x, s, i):
        y = x * 1
        op(y, s, i)
        return y
    check(f, f, rand(*shape), rand(2, 2, seed=6), idx)


def test_inplace_writes_return_self():
    x = dp.zeros(3)
    assert x.index_fill_(0, dp.tensor([1]), 2.0) is x and x.masked_fill_(x > 1, 5.0) is x
    assert x.tolist() == [0.0, 5.0, 0.0]


# --- errors ------------------------------------------------------------------------------------

def test_index_errors():
    x = dp.zeros(3, 4)
    with pytest.raises(IndexError, match=r"index 5 is out of bounds for axis 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match=r"index 4 is out of bounds for axis 1 with size 4"):
        x[[0, 1], [1, 4]]
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_select(1, dp.tensor([0, 7]))
    with pytest.raises(IndexError, match="index 12 out of range"):
        x.take(dp.tensor([12]))
    with pytest.raises(IndexError, match="out of bounds"):
        x[3] = 1.0
    with pytest.raises(IndexError, match="must be long, int, byte or bool"):
        x[dp.tensor([0.0])]
    with pytest.raises(IndexError, match="valid indices"):
        x[1.5]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(0, dp.tensor([0]))
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        x.masked_fill(x > 0, dp.zeros(2))
    with pytest.raises(RuntimeError, match="boolean mask"):
        x.masked_fill(dp.zeros(3, 4), 1.0)
    with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape \[2, 3, 4\]"):
        x.masked_fill_(dp.zeros(2, 3, 4, dtype=dp.bool), 1.0)
    with pytest.raises(RuntimeError, match="reduce argument"):
        x.scatter_reduce(0, dp.zeros(1, 4, dtype=dp.int64), x, "max")


# --- property-based: random shapes and index expressions ----------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


@st.composite
def index_cases(draw, unique=False):
    """(shape, key): ints, positive-step slices, None, and either int arrays
    (one length for all, so they broadcast; repeats unless `unique`) or a single bool mask."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    n_arrays = 0
    key = []
    length = draw(st.integers(1, 3 if not unique else min(shape)))
    mask_dim = draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    for d, n in enumerate(shape[:draw(st.integers(1, len(shape)))]):
        if draw(st.integers(0, 4)) == 0:
            key.append(None)
        if d == mask_dim:
            key.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))))
            mask_dim = "used"
            continue
        kind = draw(st.sampled_from(["int", "slice", "array"] if mask_dim != "used" else ["int", "slice"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            key.append(slice(draw(st.one_of(st.none(), st.integers(-n - 1, n + 1))),
                             draw(st.one_of(st.none(), st.integers(-n - 1, n + 1))),
                             draw(st.one_of(st.none(), st.integers(1, 3)))))
        else:
            if unique:
                idx = draw(st.permutations(range(n)))[:length]
            else:
                idx = draw(st.lists(st.integers(-n, n - 1), min_size=length, max_size=length))
            key.append(np.array(idx, dtype=np.int64))
            n_arrays += 1
    if mask_dim == "used" and n_arrays:          # a mask mixed with int arrays: keep the mask only
        key = [slice(None) if isinstance(k, np.ndarray) and k.dtype != bool else k for k in key]
    return shape, tuple(key)


def _grads(lib, x, key, cot, value=None):
    t = lib.tensor(x, requires_grad=True)
    k = tuple(lib.tensor(i) if isinstance(i, np.ndarray) else i for i in key)
    if value is None:
        out = t[k]
    else:
        v = lib.tensor(value, requires_grad=True)
        out = t * 1
        out[k] = v
    (out * lib.tensor(cot)).sum().backward()
    empty = np.zeros(0)       # diffprog leaves .grad None where nothing flowed into an empty write
    return (out.detach().numpy(), t.grad.numpy(),
            None if value is None else v.grad.numpy() if v.grad is not None else empty.reshape(v.shape))


def _numpy_agrees(key):
    """NumPy's result matches PyTorch's unless ints mix with index arrays (NumPy then counts
    the ints as index arrays; PyTorch selects at them first)."""
    return not (any(isinstance(k, int) for k in key) and any(isinstance(k, np.ndarray) for k in key))


@settings(max_examples=50, deadline=None)
@given(index_cases(), st.integers(0, 2**31))
def test_property_getitem(case, seed):
    shape, key = case
    x = rand(*shape, seed=seed % 1000)
    expected = torch.tensor(x)[tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key)]
    cot = np.random.default_rng(seed).standard_normal(tuple(expected.shape))
    out, g, _ = _grads(dp, x, key, cot)
    np.testing.assert_array_equal(out, expected.numpy())
    if _numpy_agrees(key):
        np.testing.assert_array_equal(out, x[key])
    _, tg, _ = _grads(torch, x, key, cot)
    np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)
    assert g.shape == x.shape


@settings(max_examples=50, deadline=None)
@given(index_cases(unique=True), st.integers(0, 2**31))
def test_property_setitem(case, seed):
    shape, key = case
    x = rand(*shape, seed=seed % 1000)
    tkey = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key)
    value = np.random.default_rng(seed).standard_normal(tuple(torch.tensor(x)[tkey].shape))
    cot = np.random.default_rng(seed + 1).standard_normal(shape)
    out, g, gv = _grads(dp, x, key, cot, value)
    expected, tg, tgv = _grads(torch, x, key, cot, value)
    np.testing.assert_array_equal(out, expected)
    if _numpy_agrees(key):
        ref = x.copy()
        ref[key] = value
        np.testing.assert_array_equal(out, ref)
    np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gv, tgv, rtol=1e-12, atol=1e-12)


# --- out-of-range indices (issue 15): the op and PyTorch's bounds, not NumPy's "index" -------

OUT_OF_RANGE = [
    ("gather", lambda L: L.gather(L.ones(3), 0, L.tensor([5])), "index 5 is out of bounds for dimension 0 with size 3"),
    ("gather", lambda L: L.gather(L.ones(2, 3), 1, L.tensor([[-1]])), "index -1 is out of bounds for dimension 1 with size 3"),
    ("scatter", lambda L: L.ones(3).scatter(0, L.tensor([3]), 1.0), "index 3 is out of bounds for dimension 0 with size 3"),
    ("scatter_add", lambda L: L.ones(3).scatter_add(0, L.tensor([7]), L.ones(1)), "index 7 is out of bounds"),
    ("index_select", lambda L: L.index_select(L.ones(3), 0, L.tensor([-1])), "index -1 is out of bounds"),
    ("index_add", lambda L: L.ones(3).index_add(0, L.tensor([3]), L.ones(1)), "index 3 is out of bounds"),
    ("take_along_dim", lambda L: L.take_along_dim(L.ones(3), L.tensor([-4]), 0), "index -4 is out of bounds"),
]


@pytest.mark.parametrize("op, make, message", OUT_OF_RANGE)
def test_out_of_range_indices_name_the_op(op, make, message):
    with pytest.raises((RuntimeError, IndexError), match=rf"^{op}\(\): {message}"):
        make(dp)
    if op != "take_along_dim":                  # (PyTorch's wraps -4 as -1 there)
        with pytest.raises((RuntimeError, IndexError)):
            make(torch)


def test_take_along_dim_counts_negative_indices_from_the_end():
    assert dp.take_along_dim(dp.arange(3.0), dp.tensor([-1]), 0).tolist() == [2.0]
