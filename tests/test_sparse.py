"""Sparse COO tensors: sparse @ dense through the oracle (forward, VJP, double VJP, JVP, finite
differences) against the same product written densely in PyTorch, and against torch.sparse
itself where PyTorch's sparse autograd reaches (forward and first derivative)."""
import numpy as np
import pytest

import diffprog as dp
from oracle import check, rand, torch

# (indices, size): coalesced, uncoalesced (repeats, rows out of order), empty rows, no entries
PATTERNS = {
    "coalesced": ([[0, 0, 1, 3, 3], [1, 3, 2, 0, 3]], (4, 4)),
    "uncoalesced": ([[2, 0, 2, 1, 0, 2], [1, 3, 1, 0, 3, 2]], (3, 4)),
    "empty_rows": ([[1, 1, 4], [0, 2, 1]], (6, 3)),
    "no_entries": ([[], []], (3, 2)),
}


def dense_torch(idx, values, size):
    """The sparse matrix built densely (differentiable to any order and in forward mode)."""
    i = torch.as_tensor(np.asarray(idx, dtype=np.int64).reshape(2, -1))
    return torch.zeros(size, dtype=values.dtype).index_put((i[0], i[1]), values, accumulate=True)


def sp(idx, values, size):
    return dp.sparse_coo_tensor(np.asarray(idx, dtype=np.int64).reshape(2, -1), values, size)


@pytest.mark.parametrize("name", PATTERNS)
@pytest.mark.parametrize("k", [1, 3])
def test_sparse_mm_matches_the_dense_product(name, k):
    idx, size = PATTERNS[name]
    nnz = len(idx[0])
    check(lambda v, d: dp.sparse.mm(sp(idx, v, size), d),
          lambda v, d: dense_torch(idx, v, size) @ d,
          rand(nnz, seed=1), rand(size[1], k, seed=2))


def test_sparse_mm_float32_and_vector_operand():
    idx, size = PATTERNS["uncoalesced"]
    check(lambda v, d: dp.sparse.mm(sp(idx, v, size), d), lambda v, d: dense_torch(idx, v, size) @ d,
          rand(6, dtype=np.float32, seed=3), rand(4, 5, dtype=np.float32, seed=4))
    check(lambda v, d: sp(idx, v, size) @ d, lambda v, d: dense_torch(idx, v, size) @ d,
          rand(6, seed=3), rand(4, seed=4))


def test_dense_at_sparse_and_torch_mm_dispatch():
    idx, size = PATTERNS["coalesced"]
    check(lambda d, v: d @ sp(idx, v, size), lambda d, v: d @ dense_torch(idx, v, size),
          rand(2, 4, seed=5), rand(5, seed=6))
    check(lambda v, d: dp.mm(sp(idx, v, size), d), lambda v, d: dense_torch(idx, v, size) @ d,
          rand(5, seed=7), rand(4, 2, seed=8))
    check(lambda v, d: dp.matmul(sp(idx, v, size), d), lambda v, d: dense_torch(idx, v, size) @ d,
          rand(5, seed=7), rand(4, 2, seed=8))


@pytest.mark.parametrize("name", ["coalesced", "uncoalesced"])
def test_matches_torch_sparse_mm_and_its_sparse_leaf_gradient(name):
    idx, size = PATTERNS[name]
    i = np.asarray(idx, dtype=np.int64)
    check(lambda v, d: dp.sparse.mm(sp(idx, v, size), d),
          lambda v, d: torch.sparse.mm(torch.sparse_coo_tensor(torch.tensor(i), v, size, check_invariants=True), d),
          rand(i.shape[1], seed=9), rand(size[1], 3, seed=10), gradgrad=False, jvp=False)
    v, d = rand(i.shape[1], seed=11), rand(size[1], 3, seed=12)
    a = dp.sparse_coo_tensor(i, v, size, requires_grad=True)
    dp.sparse.mm(a, dp.tensor(d)).sum().backward()
    ta = torch.sparse_coo_tensor(torch.tensor(i), torch.tensor(v), size, requires_grad=True, check_invariants=True)
    torch.sparse.mm(ta, torch.tensor(d)).sum().backward()
    assert a.grad.is_sparse and a.is_leaf and a.requires_grad
    assert a.grad.is_coalesced() and a.grad._nnz() == ta.grad.coalesce()._nnz()
    np.testing.assert_allclose(a.grad.to_dense().numpy(), ta.grad.to_dense().numpy(), rtol=1e-12)


def test_to_dense_and_coalesce_match_torch_and_are_differentiable():
    idx, size = PATTERNS["uncoalesced"]
    check(lambda v: sp(idx, v, size).to_dense(), lambda v: dense_torch(idx, v, size), rand(6, seed=13))
    check(lambda v: sp(idx, v, size).coalesce().values(),
          lambda v: torch.sparse_coo_tensor(torch.tensor(idx), v, size, check_invariants=True).coalesce().values(),
          rand(6, seed=14), jvp=False)
    ours = sp(idx, dp.tensor(rand(6, seed=14)), size).coalesce()
    ref = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(rand(6, seed=14)), size,
                                  check_invariants=True).coalesce()
    assert ours.is_coalesced() and ours._nnz() == ref._nnz() == 4
    np.testing.assert_array_equal(ours.indices().numpy(), ref.indices().numpy())


def test_to_sparse_keeps_gradients_at_the_nonzeros():
    x = rand(3, 4, seed=15)
    x[0, 1] = x[2, 2] = x[1, 0] = 0.0
    check(lambda x, d: dp.sparse.mm(x.to_sparse(), d), lambda x, d: torch.sparse.mm(x.to_sparse(), d),
          x, rand(4, 2, seed=16), gradgrad=False, jvp=False, fd=False,   # fd would move the zeros
          vmap=False)          # (to_sparse's pattern depends on each element's values: no vmap)
    s, ts = dp.tensor(x).to_sparse(), torch.tensor(x).to_sparse()
    np.testing.assert_array_equal(s.indices().numpy(), ts.indices().numpy())
    np.testing.assert_array_equal(s.values().numpy(), ts.values().numpy())
    assert s._nnz() == 9 and s.layout == "sparse_coo" and not dp.tensor(x).is_sparse


def test_scaling_addition_transpose_and_repr():
    idx, size = PATTERNS["coalesced"]
    a = sp(idx, dp.arange(1.0, 6.0), size)
    dense = a.to_dense().numpy()
    np.testing.assert_array_equal((2 * a).to_dense().numpy(), 2 * dense)
    np.testing.assert_array_equal((-a / 4).to_dense().numpy(), -dense / 4)
    np.testing.assert_array_equal((a + a.t()).to_dense().numpy(), dense + dense.T)
    np.testing.assert_array_equal(a.t().to_dense().numpy(), dense.T)
    assert (a + a.t()).is_coalesced() and not a.t().is_coalesced()
    assert a.shape == (4, 4) and a.dim() == 2 and a.dtype is dp.float32 and a.double().dtype is dp.float64
    assert "size=(4, 4), nnz=5, layout=diffprog.sparse_coo" in repr(a)
    assert dp.sparse_coo_tensor([[0, 2]], [1.0, 2.0]).shape == (3,)     # size inferred


def test_errors_name_the_op_shapes_and_dtypes():
    a = sp(PATTERNS["uncoalesced"][0], dp.ones(6), (3, 4))
    with pytest.raises(RuntimeError, match=r"sparse.mm: shapes \(3, 4\) and \(3, 2\)"):
        a @ dp.ones(3, 2)
    with pytest.raises(RuntimeError, match="float32 \\(sparse\\) and float64"):
        a @ dp.ones(4, 2, dtype=dp.float64)
    with pytest.raises(RuntimeError, match="uncoalesced"):
        a.indices()
    with pytest.raises(RuntimeError, match="sparse @ sparse"):
        a @ a.t()
    with pytest.raises(RuntimeError, match="out of range for size \\(2, 2\\)"):
        dp.sparse_coo_tensor([[0, 2], [0, 1]], [1.0, 2.0], (2, 2))
    with pytest.raises(RuntimeError, match="values of shape \\(2,\\)"):
        dp.sparse_coo_tensor([[0, 1], [0, 1]], [1.0, 2.0, 3.0], (2, 2))
    with pytest.raises(TypeError, match="only multiplication by a scalar"):
        a * dp.ones(3, 4)
    with pytest.raises(AttributeError):
        a.exp()
