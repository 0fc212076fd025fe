"""Reductions, scans, sorting-like ops and softmax against PyTorch (diffprog/ops/reduction.py,
diffprog/ops/softmax.py).  Each case is one lambda taking the library (dp or torch)."""
import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp

F32 = np.float32


def with_zeros(*shape, at=((0, 1),)):
    """rand(...) with exact zeros at the given positions (prod/cumprod gradients)."""
    a = rand(*shape)
    for i in at:
        a[i] = 0.0
    return a


def with_nans(*shape, at=((0, 1),)):
    a = rand(*shape)
    for i in at:
        a[i] = np.nan
    return a


def C(id, f, *args, **kw):
    return pytest.param(f, args, kw, id=id)


CASES = [
    # sum / mean / nansum / nanmean
    C("sum_all", lambda m, x: m.sum(x), rand(3, 4)),
    C("sum_dim", lambda m, x: x.sum(1), rand(3, 4)),
    C("sum_tuple_keep", lambda m, x: m.sum(x, (0, -1), keepdim=True), rand(2, 3, 4)),
    C("sum_0d", lambda m, x: x.sum(0), rand()),
    C("sum_empty", lambda m, x: x.sum(0), rand(0, 3)),
    C("sum_f32", lambda m, x: x.sum(-1), rand(3, 4, dtype=F32)),
    C("mean_all", lambda m, x: x.mean(), rand(3, 4)),
    C("mean_tuple", lambda m, x: m.mean(x, (0, 2)), rand(2, 3, 4)),
    C("mean_keep_neg", lambda m, x: x.mean(-2, keepdim=True), rand(2, 3, 4)),
    C("mean_0d", lambda m, x: x.mean(), rand()),
    C("mean_f32", lambda m, x: x.mean(0), rand(5, 3, dtype=F32)),
    C("nansum", lambda m, x: m.nansum(x, 1), with_nans(3, 4), fd=False),
    C("nanmean", lambda m, x: m.nanmean(x, 0, keepdim=True), with_nans(3, 4, at=((0, 1), (2, 1))), fd=False),
    # prod (with zeros: one, two in a slice, everywhere)
    C("prod_all", lambda m, x: x.prod(), rand(2, 3)),
    C("prod_dim", lambda m, x: m.prod(x, 1), rand(3, 4)),
    C("prod_keep_neg", lambda m, x: x.prod(-1, keepdim=True), rand(2, 3, 4)),
    C("prod_0d", lambda m, x: x.prod(), rand()),
    C("prod_empty", lambda m, x: x.prod(0), rand(0, 3)),
    C("prod_zero", lambda m, x: x.prod(1), with_zeros(3, 4)),
    C("prod_two_zeros", lambda m, x: x.prod(1), with_zeros(3, 4, at=((0, 1), (0, 3), (1, 0)))),
    C("prod_all_zero", lambda m, x: x.prod(), with_zeros(2, 3)),
    C("prod_0d_zero", lambda m, x: x.prod(), np.array(0.0)),
    C("prod_f32", lambda m, x: x.prod(0), rand(3, 4, dtype=F32)),
    # max / min / amax / amin (no ties here; see test_tie_gradients)
    C("max_all", lambda m, x: x.max(), rand(3, 4)),
    C("min_all", lambda m, x: m.min(x), rand(3, 4)),
    C("max_dim", lambda m, x: m.max(x, 1), rand(3, 4)),
    C("max_dim_keep_neg", lambda m, x: x.max(-1, keepdim=True), rand(2, 3, 4)),
    C("min_dim", lambda m, x: x.min(dim=0), rand(3, 4)),
    C("max_dim_0d", lambda m, x: x.max(0), rand()),
    C("max_dim_empty_rows", lambda m, x: x.max(1), rand(0, 3)),
    C("max_dim_f32", lambda m, x: x.max(1), rand(3, 4, dtype=F32)),
    C("amax_tuple", lambda m, x: m.amax(x, (0, 2)), rand(2, 3, 4)),
    C("amax_keep", lambda m, x: x.amax(-1, keepdim=True), rand(3, 4)),
    C("amin_all", lambda m, x: x.amin(), rand(3, 4)),
    C("amin_0d", lambda m, x: m.amin(x, 0), rand()),
    C("aminmax", lambda m, x: m.aminmax(x, dim=1), rand(3, 4)),
    # var / std
    C("var_all", lambda m, x: x.var(), rand(3, 4)),
    C("var_dim_biased", lambda m, x: m.var(x, 1, False), rand(3, 4)),
    C("var_tuple_keep", lambda m, x: m.var(x, (0, 2), keepdim=True), rand(2, 3, 4)),
    C("var_correction", lambda m, x: x.var(dim=-1, correction=2), rand(3, 5)),
    C("std_all", lambda m, x: x.std(), rand(3, 4)),
    C("std_dim", lambda m, x: m.std(x, 0, keepdim=True), rand(3, 4)),
    C("std_unbiased_false", lambda m, x: x.std(unbiased=False), rand(5)),
    C("std_f32", lambda m, x: x.std(1), rand(3, 4, dtype=F32)),
    C("var_mean", lambda m, x: m.var_mean(x, 1), rand(3, 4)),
    C("std_mean", lambda m, x: m.std_mean(x, (0, 1), correction=0), rand(3, 4)),
    # norm (defined in linalg.py; its torch.norm / Tensor.norm forms)
    C("norm_fro", lambda m, x: x.norm(), rand(3, 4)),
    C("norm_2_dim", lambda m, x: m.norm(x, 2, 1), rand(3, 4)),
    C("norm_1", lambda m, x: m.norm(x, p=1, dim=-1, keepdim=True), rand(3, 4)),
    C("norm_inf", lambda m, x: m.norm(x, p=float("inf"), dim=0), rand(3, 4)),
    C("norm_neg_inf", lambda m, x: x.norm(float("-inf")), rand(3, 4)),
    C("norm_3", lambda m, x: x.norm(3, dim=1), rand(3, 4)),
    C("norm_0", lambda m, x: x.norm(0, dim=1), with_zeros(3, 4)),
    C("norm_fro_tuple", lambda m, x: m.norm(x, "fro", (0, 1)), rand(2, 3, 4)),
    C("norm_zero_vector", lambda m, x: x.norm(dim=1), with_zeros(2, 2, at=((0, 0), (0, 1))),
      gradgrad=False),  # torch: NaN second derivative at 0
    C("norm_f32", lambda m, x: x.norm(dim=0), rand(3, 4, dtype=F32)),
    # logsumexp
    C("logsumexp", lambda m, x: m.logsumexp(x, 1), rand(3, 4)),
    C("logsumexp_tuple_keep", lambda m, x: x.logsumexp((0, 2), keepdim=True), rand(2, 3, 4)),
    C("logsumexp_large", lambda m, x: x.logsumexp(-1), rand(3, 4, low=800, high=900)),
    C("logsumexp_0d", lambda m, x: x.logsumexp(0), rand()),
    C("logsumexp_f32", lambda m, x: x.logsumexp(0), rand(3, 4, dtype=F32)),
    # scans
    C("cumsum", lambda m, x: m.cumsum(x, 1), rand(3, 4)),
    C("cumsum_neg", lambda m, x: x.cumsum(-3), rand(2, 3, 4)),
    C("cumsum_0d", lambda m, x: x.cumsum(0), rand()),
    C("cumprod", lambda m, x: m.cumprod(x, 1), rand(3, 4)),
    C("cumprod_neg", lambda m, x: x.cumprod(-2), rand(2, 3, 4)),
    C("cumprod_zero", lambda m, x: x.cumprod(1), with_zeros(3, 4, at=((0, 1), (1, 3), (2, 0), (2, 2)))),
    C("cumprod_zero_dim0", lambda m, x: x.cumprod(0), with_zeros(3, 2, 2, at=((1, 0, 1),))),
    C("cumprod_f32", lambda m, x: x.cumprod(0), rand(3, 4, dtype=F32)),
    C("cummax", lambda m, x: m.cummax(x, 1), rand(3, 5)),
    C("cummin_neg", lambda m, x: x.cummin(-2), rand(2, 4, 3)),
    C("cummax_0d", lambda m, x: x.cummax(0), rand()),
    # sorting-like
    C("sort", lambda m, x: x.sort(), rand(3, 5)),
    C("sort_dim0_desc", lambda m, x: m.sort(x, 0, descending=True), rand(4, 3)),
    C("sort_0d", lambda m, x: x.sort(), rand()),
    C("sort_empty", lambda m, x: x.sort(0), rand(0, 3)),
    C("sort_f32", lambda m, x: x.sort(1, True), rand(3, 4, dtype=F32)),
    C("topk", lambda m, x: x.topk(2), rand(3, 5)),
    C("topk_smallest_dim0", lambda m, x: m.topk(x, 3, 0, largest=False), rand(4, 3)),
    C("topk_all", lambda m, x: x.topk(5, dim=-1), rand(2, 5)),
    C("topk_zero", lambda m, x: x.topk(0), rand(2, 5)),
    C("median_all", lambda m, x: x.median(), rand(3, 4)),
    C("median_odd", lambda m, x: m.median(x), rand(5)),
    C("median_dim", lambda m, x: m.median(x, 1), rand(3, 4)),
    C("median_dim_keep", lambda m, x: x.median(0, keepdim=True), rand(5, 3)),
    C("median_nan", lambda m, x: x.median(1), with_nans(3, 4), fd=False),
    C("nanmedian_dim", lambda m, x: m.nanmedian(x, 1), with_nans(3, 4, at=((0, 1), (0, 2))), fd=False),
    C("nanmedian_all", lambda m, x: x.nanmedian(), with_nans(3, 4), fd=False),
    C("mode_distinct", lambda m, x: x.mode(1), rand(3, 4)),
    C("mode_repeats", lambda m, x: m.mode(x, 1),
      np.array([[1.0, 2.0, 2.0, 3.0, 2.0], [4.0, 4.0, 1.0, 1.0, 0.5]]), fd=False),
    C("mode_dim0_keep", lambda m, x: x.mode(0, keepdim=True), np.array([[1.0, 2.0], [3.0, 2.0], [1.0, 5.0]]),
      fd=False),
    # softmax
    C("softmax", lambda m, x: m.softmax(x, 1), rand(3, 4)),
    C("softmax_neg_dim", lambda m, x: x.softmax(-3), rand(2, 3, 4)),
    C("softmax_large", lambda m, x: x.softmax(-1), rand(3, 4, low=800, high=900)),
    C("softmax_0d", lambda m, x: x.softmax(0), rand()),
    C("softmax_empty", lambda m, x: x.softmax(1), rand(0, 3)),
    C("softmax_f32", lambda m, x: x.softmax(0), rand(3, 4, dtype=F32)),
    C("log_softmax", lambda m, x: m.log_softmax(x, 1), rand(3, 4)),
    C("log_softmax_neg_dim", lambda m, x: x.log_softmax(-2), rand(2, 3, 4)),
    C("log_softmax_large", lambda m, x: x.log_softmax(0), rand(3, 4, low=-900, high=900)),
    C("log_softmax_0d", lambda m, x: x.log_softmax(0), rand()),
    C("log_softmax_f32", lambda m, x: x.log_softmax(1), rand(3, 4, dtype=F32)),
    C("softmax_chain", lambda m, x: (x.log_softmax(1) * x.softmax(0)).sum(), rand(3, 4)),
]


@pytest.mark.parametrize("f, args, kw", CASES)
def test_op(f, args, kw):
    check(lambda *a: f(dp, *a), lambda *a: f(torch, *a), *args, **kw)


_I = np.array([[3, 0, 2, 0], [1, 1, 5, 2]])
_B = np.array([[True, False], [True, True]])

INT_CASES = [
    C("argmax_all", lambda m, x: x.argmax(), rand(3, 4)),
    C("argmax_all_keep", lambda m, x: m.argmax(x, keepdim=True), rand(3, 4)),
    C("argmax_dim", lambda m, x: m.argmax(x, 1), rand(3, 4)),
    C("argmin_dim_keep", lambda m, x: x.argmin(-1, keepdim=True), rand(2, 3, 4)),
    C("argmin_0d", lambda m, x: x.argmin(0), rand()),
    C("argmax_int_ties", lambda m, x: x.argmax(1), _I),
    C("argsort", lambda m, x: x.argsort(), rand(3, 5)),
    C("argsort_desc_stable", lambda m, x: m.argsort(x, dim=1, descending=True, stable=True), _I),
    C("sort_stable_int", lambda m, x: m.sort(x, dim=1, stable=True), _I),
    C("sort_nan", lambda m, x: x.sort(dim=1, descending=True, stable=True), with_nans(2, 4), fd=False),
    C("sum_int", lambda m, x: x.sum(1), _I),
    C("sum_bool", lambda m, x: x.sum(), _B),
    C("prod_int", lambda m, x: x.prod(1), _I),
    C("cumsum_bool", lambda m, x: x.cumsum(0), _B),
    C("cumprod_int", lambda m, x: x.cumprod(1), _I),
    C("max_int", lambda m, x: x.max(1), _I),
    C("amax_int", lambda m, x: x.amax(0), _I),
    C("cummax_int_ties", lambda m, x: x.cummax(1), _I),
    C("cummin_nan", lambda m, x: x.cummin(1), with_nans(2, 5, at=((0, 1), (0, 3))), fd=False),
    C("all", lambda m, x: x.all(), _B),
    C("all_dim", lambda m, x: m.all(x, 1), _B),
    C("any_dim_keep", lambda m, x: x.any(0, keepdim=True), _I),
    C("all_uint8", lambda m, x: x.all(), _I.astype(np.uint8)),
    C("count_nonzero", lambda m, x: m.count_nonzero(x), _I),
    C("count_nonzero_dim", lambda m, x: x.count_nonzero(1), _I),
    C("count_nonzero_tuple", lambda m, x: m.count_nonzero(x, (0, 1)), _I),
    C("mode_int", lambda m, x: x.mode(1), _I),
    C("median_int", lambda m, x: x.median(1), _I),
    C("logsumexp_int", lambda m, x: x.logsumexp(1), _I, tol=dict(rtol=1e-6, atol=1e-6)),
]


@pytest.mark.parametrize("f, args, kw", INT_CASES)
def test_op_int_results(f, args, kw):
    check(lambda *a: f(dp, *a), lambda *a: f(torch, *a), *args, **kw)


@pytest.mark.parametrize("x, n", [(np.array([0, 2, 1]), -1), (np.array([[1, 0], [3, 3]]), 5),
                                  (np.array(2), 4), (np.zeros((0,), dtype=np.int64), 3)])
def test_one_hot(x, n):
    check(lambda a: dp.one_hot(a, n), lambda a: torch.nn.functional.one_hot(a, n), x)


TIES = np.array([[1.0, 3.0, 3.0, 2.0], [2.0, 2.0, 0.0, 2.0], [5.0, 5.0, 5.0, 5.0]])


@pytest.mark.parametrize("f", [
    lambda m, x: x.amax(1),            # gradient split evenly among ties
    lambda m, x: x.amin(0),
    lambda m, x: x.max(),
    lambda m, x: x.median(),
    lambda m, x: x.norm(float("inf"), dim=1),
    lambda m, x: x.max(1),             # gradient to the selected index only
    lambda m, x: x.min(1, keepdim=True),
    lambda m, x: x.cummax(1),
    lambda m, x: x.cummin(0),
], ids=["amax", "amin", "max_all", "median_all", "norm_inf", "max_dim", "min_dim", "cummax", "cummin"])
def test_tie_gradients(f):
    check(lambda a: f(dp, a), lambda a: f(torch, a), TIES.copy(), fd=False)


def test_tie_split_is_even():
    x = dp.tensor(TIES, requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, .5, .5, 0], [1 / 3, 1 / 3, 0, 1 / 3], [.25] * 4])
    x.grad = None
    x.max(1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])


def test_return_types():
    x = dp.tensor(rand(3, 4))
    r = x.max(1)
    assert type(r).__name__ == "max" and r._fields == ("values", "indices")
    values, indices = r
    assert values is r.values and indices.dtype is dp.int64
    assert dp.aminmax(x)._fields == ("min", "max")
    for name in ("sort", "topk", "median", "mode", "cummax", "cummin", "nanmedian"):
        args = (2,) if name == "topk" else ((1,) if name in ("median", "nanmedian", "cummax", "cummin") else ())
        assert type(getattr(x, name)(*args)).__name__ == name


def test_max_binary_delegates_to_maximum():
    if not hasattr(dp, "maximum"):
        pytest.skip("elementwise maximum/minimum not available yet")
    a, b = rand(3, 4), rand(3, 4, seed=3)
    check(lambda x, y: dp.max(x, y), lambda x, y: torch.max(x, y), a, b)
    check(lambda x, y: x.min(y), lambda x, y: x.min(y), a, b)


def test_softmax_is_stable_and_sums_to_one():
    x = dp.tensor([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]])
    y = dp.softmax(x, 1).numpy()
    assert np.all(np.isfinite(y)) and np.allclose(y.sum(1), 1)
    assert np.all(np.isfinite(dp.log_softmax(x, 1).numpy()[:, 1:]))


def test_softmax_dtype_and_legacy_dim():
    x = np.array([[1, 2], [3, 5]])
    check(lambda a: dp.softmax(a, 0, dtype=dp.float64), lambda a: torch.softmax(a, 0, dtype=torch.float64), x)
    check(lambda a: dp.log_softmax(a, 1, dtype=dp.float32), lambda a: torch.log_softmax(a, 1, dtype=torch.float32), x)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = dp.softmax(dp.tensor(rand(2, 3)))
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.softmax(torch.tensor(rand(2, 3)), 1).numpy())


def test_sum_prod_dtype_kw():
    x = rand(3, 4)
    check(lambda a: a.sum(1, dtype=dp.float64), lambda a: a.sum(1, dtype=torch.float64), x)
    check(lambda a: dp.prod(a, 0, dtype=dp.float64), lambda a: torch.prod(a, 0, dtype=torch.float64), x)
    i = dp.tensor(_I)
    assert dp.mean(i, dtype=dp.float64).item() == pytest.approx(_I.mean())
    assert dp.cumsum(i, 1, dtype=dp.float32).dtype is dp.float32


def test_empty_values():
    e = rand(0, 3)
    check(lambda a: a.mean(0), lambda a: a.mean(0), e)
    check(lambda a: a.logsumexp(0), lambda a: a.logsumexp(0), e, jvp=False)  # torch: NaN tangent
    check(lambda a: a.cummax(0), lambda a: a.cummax(0), e)


def test_logsumexp_infinities():
    x = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [0.0, -np.inf]])
    check(lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), x, grad=False)


@pytest.mark.parametrize("call, name", [
    (lambda x: x.sum(2), "sum"), (lambda x: x.mean(-3), "mean"), (lambda x: x.prod(2), "prod"),
    (lambda x: x.max(2), "max"), (lambda x: x.min(-3), "min"), (lambda x: x.amax((0, 2)), "amax"),
    (lambda x: x.argmax(2), "argmax"), (lambda x: x.argmin(-3), "argmin"), (lambda x: x.var(2), "var"),
    (lambda x: x.std(2), "std"), (lambda x: x.norm(dim=2), "linalg.vector_norm"), (lambda x: x.logsumexp(2), "logsumexp"),
    (lambda x: x.cumsum(2), "cumsum"), (lambda x: x.cumprod(-3), "cumprod"), (lambda x: x.cummax(2), "cummax"),
    (lambda x: x.all(2), "all"), (lambda x: x.any(2), "any"), (lambda x: x.sort(2), "sort"),
    (lambda x: x.argsort(2), "sort"), (lambda x: x.topk(1, 2), "topk"), (lambda x: x.median(2), "median"),
    (lambda x: x.mode(2), "mode"), (lambda x: x.count_nonzero(2), "count_nonzero"),
    (lambda x: x.softmax(2), "softmax"), (lambda x: x.log_softmax(-3), "log_softmax"),
    (lambda x: x.nansum(2), "nansum"),
])
def test_dim_out_of_range(call, name):
    x = dp.tensor(rand(2, 3))
    with pytest.raises(IndexError, match=rf"^{name}: Dimension out of range"):
        call(x)
    with pytest.raises(IndexError):
        call(torch.tensor(rand(2, 3)))


def test_errors():
    x = dp.tensor(rand(2, 3))
    with pytest.raises(IndexError, match="max: Expected reduction dim 1 to have non-zero size"):
        dp.tensor(rand(3, 0)).max(1)
    with pytest.raises(IndexError, match="amax"):
        dp.tensor(rand(0, 3)).amax()
    with pytest.raises(RuntimeError, match="topk: selected index k out of range"):
        x.topk(4)
    with pytest.raises(RuntimeError, match="mean"):
        dp.tensor(_I).mean()
    with pytest.raises(RuntimeError, match="var"):
        dp.tensor(_I).var()
    with pytest.raises(RuntimeError, match="softmax"):
        dp.tensor(_I).softmax(0)
    with pytest.raises(RuntimeError, match="one_hot: Class values must be non-negative"):
        dp.one_hot(dp.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="one_hot: Class values must be smaller"):
        dp.one_hot(dp.tensor([3]), 2)
    with pytest.raises(RuntimeError, match="one_hot"):
        dp.one_hot(dp.tensor([1.0]))


def test_prod_zero_grad_values():
    """Exactly one zero: the zero gets the product of the others; two zeros: all zero."""
    x = dp.tensor([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0]], requires_grad=True)
    x.prod(1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 6, 0], [0, 0, 0]])
    z = dp.tensor([0.0, 0.0, 2.0], requires_grad=True)
    z.cumprod(0).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [1, 0, 0])


@pytest.mark.parametrize("f", [lambda x: x.sum(), lambda x: x.mean(), lambda x: x.prod(), lambda x: x.amax(),
                               lambda x: x.var(), lambda x: x.std(), lambda x: x.median(), lambda x: x.nansum()],
                         ids=["sum", "mean", "prod", "amax", "var", "std", "median", "nansum"])
def test_full_reduction_is_writable(f):
    """A reduction to 0-d gives a real array (not a NumPy scalar): in-place ops work on it."""
    s = f(dp.tensor(rand(2, 3)))
    before = s.item()
    s += 1
    assert s.item() == pytest.approx(before + 1)
