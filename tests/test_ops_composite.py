"""ops/composite.py against PyTorch: forward, VJP, double VJP, JVP (oracle.check)."""
import numpy as np
import pytest

import diffprog as dp
from oracle import check, rand, torch

A = rand(3, 4, seed=1)
B = rand(3, 4, seed=2)
C = rand(3, 4, seed=3, low=0.5, high=2.0)


@pytest.mark.parametrize("name, fn, args", [
    ("addcmul", lambda m, x, y, z: m.addcmul(x, y, z, value=0.5), (A, B, C)),
    ("addcdiv", lambda m, x, y, z: m.addcdiv(x, y, z, value=-2), (A, B, C)),
    ("logaddexp", lambda m, x, y: m.logaddexp(x, y * 30), (A, B)),
    ("logaddexp2", lambda m, x, y: m.logaddexp2(x, y), (A, B)),
    ("copysign", lambda m, x, y: m.copysign(x, y), (A, B)),
    ("deg2rad", lambda m, x: m.deg2rad(x), (A,)),
    ("rad2deg", lambda m, x: m.rad2deg(x), (A,)),
    ("ldexp", lambda m, x, y: m.ldexp(x, y), (A, B)),
    ("float_power", lambda m, x: m.float_power(x, 3), (A.astype(np.float32),)),
    ("diff", lambda m, x: m.diff(x, n=2, dim=1), (A,)),
    ("diff_prepend", lambda m, x, y: m.diff(x, dim=0, prepend=y[:1], append=y), (A, B)),
    ("diagflat", lambda m, x: m.diagflat(x, 1), (A,)),
    ("rot90", lambda m, x: m.rot90(x, 1, (0, 1)), (A,)),
    ("rot90_3", lambda m, x: m.rot90(x, -1, (1, 0)), (A,)),
    ("rot90_2", lambda m, x: m.rot90(x, 2, (0, 1)), (A,)),
    ("kthvalue", lambda m, x: m.kthvalue(x, 2, 1), (A,)),
    ("kthvalue_keep", lambda m, x: m.kthvalue(x, 3, 0, keepdim=True), (A,)),
    ("msort", lambda m, x: m.msort(x), (A,)),
    ("quantile", lambda m, x: m.quantile(x, 0.3, dim=1), (A,)),
    ("quantile_all", lambda m, x: m.quantile(x, 0.5), (A,)),
    ("quantile_keep", lambda m, x: m.quantile(x, m.tensor([0.1, 0.9], dtype=m.float64), dim=0,
                                             keepdim=True), (A,)),
    ("quantile_lower", lambda m, x: m.quantile(x, 0.4, dim=1, interpolation="lower"), (A,)),
    ("quantile_higher", lambda m, x: m.quantile(x, 0.4, dim=1, interpolation="higher"), (A,)),
    ("quantile_mid", lambda m, x: m.quantile(x, 0.4, dim=1, interpolation="midpoint"), (A,)),
    ("quantile_near", lambda m, x: m.quantile(x, 0.4, dim=1, interpolation="nearest"), (A,)),
    ("nanquantile", lambda m, x: m.nanquantile(x, 0.25, dim=1), (A,)),
    ("cov", lambda m, x: m.cov(x), (A,)),
    ("cov_w", lambda m, x: m.cov(x, correction=0, fweights=m.tensor([1, 2, 1, 3], device=x.device),
                                  aweights=m.tensor([0.5, 1.0, 2.0, 1.0], dtype=m.float64, device=x.device)), (A,)),
    ("corrcoef", lambda m, x: m.corrcoef(x), (A,)),
    ("renorm", lambda m, x: m.renorm(x, 2, 0, 1.0), (A,)),
    ("renorm_p1", lambda m, x: m.renorm(x, 1, 1, 0.8), (A,)),
    ("hsplit", lambda m, x: m.hsplit(x, 2), (A,)),
    ("vsplit", lambda m, x: m.vsplit(x, [1]), (A,)),
    ("select_scatter", lambda m, x, y: m.select_scatter(x, y[0], 0, 1), (A, B)),
    ("slice_scatter", lambda m, x, y: m.slice_scatter(x, y[:, :2], 1, 1, 4, 2), (A, B)),
    ("narrow_copy", lambda m, x: x.narrow_copy(1, 1, 2), (A,)),
    ("ravel", lambda m, x: x.t().ravel(), (A,)),
])
def test_composite_matches_torch(name, fn, args):
    check(lambda *a: fn(dp, *a), lambda *a: fn(torch, *a), *args)


@pytest.mark.parametrize("name, fn, args", [
    ("gcd", lambda m, x, y: m.gcd(x, y), (np.array([12, 18, -4]), np.array([8, 27, 6]))),
    ("lcm", lambda m, x, y: m.lcm(x, y), (np.array([4, 6, 0]), np.array([6, 8, 5]))),
    ("signbit", lambda m, x: m.signbit(x), (np.array([-0.0, 0.0, -1.0, 2.0]),)),
    ("isposinf", lambda m, x: m.isposinf(x), (np.array([np.inf, -np.inf, 1.0]),)),
    ("isneginf", lambda m, x: m.isneginf(x), (np.array([np.inf, -np.inf, 1.0]),)),
    ("isreal", lambda m, x: m.isreal(x), (np.array([1.0, 2.0]),)),
    ("heaviside", lambda m, x: m.heaviside(x, m.tensor([0.5], dtype=m.float64, device=x.device)),
     (np.array([-1.0, 0.0, 3.0]),)),
    ("sgn", lambda m, x: m.sgn(x), (np.array([-1.5, 0.0, 3.0]),)),
    ("frexp", lambda m, x: m.frexp(x), (np.array([8.0, -0.3, 0.0]),)),
    ("nextafter", lambda m, x, y: m.nextafter(x, y), (np.array([1.0, 2.0]), np.array([2.0, 0.0]))),
    ("histogram", lambda m, x: m.histogram(x, 4, range=(-1.0, 1.0)), (rand(20),)),
])
def test_no_derivative_functions_match_torch(name, fn, args):
    check(lambda *a: fn(dp, *a), lambda *a: fn(torch, *a), *args, grad=False)


def test_nanquantile_ignores_nans():
    x = np.array([[1.0, np.nan, 3.0, 2.0], [np.nan, np.nan, np.nan, np.nan]])
    d = dp.nanquantile(dp.tensor(x), 0.5, dim=1)
    t = torch.nanquantile(torch.tensor(x), 0.5, dim=1)
    np.testing.assert_allclose(d.numpy(), t.numpy(), equal_nan=True)
    assert np.isnan(dp.quantile(dp.tensor(x), 0.5, dim=1).numpy()).all()


@pytest.mark.parametrize("method, args", [
    ("addcmul_", (B, C)), ("addcdiv_", (B, C)), ("copysign_", (B,)), ("deg2rad_", ()),
    ("renorm_", (2, 0, 1.0)), ("cumsum_", (1,)), ("cumprod_", (0,)), ("tril_", (1,)), ("triu_", ()),
])
def test_inplace_forms_continue_the_graph(method, args):
    def run(m):
        x = m.tensor(A, requires_grad=True)
        extra = [m.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        y = x * 1.5
        getattr(y, method)(*extra)
        (y * m.tensor(C)).sum().backward()
        return y.detach().numpy(), x.grad.numpy()
    for a, b in zip(run(dp), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method, args", [
    ("squeeze_", (0,)), ("unsqueeze_", (1,)), ("t_", ()), ("transpose_", (0, 2)),
    ("swapdims_", (1, 2)),
])
def test_view_changing_inplace_methods(method, args):
    def run(m):
        x = m.tensor(rand(1, 3, 4), requires_grad=True)
        y = x * 2
        if method == "t_":
            y = y[0]
        out = getattr(y, method)(*args)
        assert out is y
        (y * m.ones(y.shape)).cumsum(0).sum().backward()
        return tuple(y.shape), y.detach().numpy(), x.grad.numpy()
    d, t = run(dp), run(torch)
    assert d[0] == t[0]
    np.testing.assert_allclose(d[1], t[1])
    np.testing.assert_allclose(d[2], t[2])
    plain = dp.zeros(2, 1)
    plain.squeeze_()
    assert plain.shape == (2,)


def test_describing_attributes():
    t = torch.arange(12.0).reshape(3, 4)
    d = dp.arange(12.0).reshape(3, 4)
    for name in ["is_cpu", "is_sparse", "is_quantized", "is_meta", "is_mps", "is_xpu", "itemsize",
                 "nbytes", "name", "is_nested"]:
        assert getattr(d, name) == getattr(t, name), name
    for name in ["is_shared", "is_pinned", "is_inference", "is_conj", "is_neg", "is_signed"]:
        assert getattr(d, name)() == getattr(t, name)(), name
    assert d[1:, 2:].storage_offset() == t[1:, 2:].storage_offset() == 6
    assert d[1].data_ptr() - d.data_ptr() == 16
    assert d.t().dim_order() == t.t().dim_order() == (1, 0)
    assert d.is_same_size(dp.zeros(3, 4)) and not d.is_same_size(dp.zeros(4, 3))
    assert (d * 2).output_nr == 0 and dp.tensor([1]).is_signed() and not dp.tensor([True]).is_signed()


def test_legacy_new_and_resize():
    x = dp.ones(2, 3, dtype=dp.float64)
    assert x.new(4, 5).shape == (4, 5) and x.new(4, 5).dtype == dp.float64
    assert x.new().shape == (0,)
    assert x.new([1, 2]).tolist() == [1.0, 2.0] and x.new(dp.Size([2])).shape == (2,)
    y = dp.arange(6.0)
    y.resize_(2, 2)
    assert y.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    y.resize_(3, 3)
    assert y.shape == (3, 3) and y.reshape(-1)[:4].tolist() == [0.0, 1.0, 2.0, 3.0]
    z = dp.zeros(5)
    z.resize_as_(dp.zeros(1, 5))
    assert z.shape == (1, 5)
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        assert dp.arange(4.0).resize(2, 2).shape == (2, 2)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        dp.zeros(3, requires_grad=True).resize_(2)


def test_apply_map_fill_diagonal():
    x = dp.arange(4.0)
    x.apply_(lambda v: v * v)
    assert x.tolist() == [0.0, 1.0, 4.0, 9.0]
    x.map_(dp.ones(4), lambda a, b: a + b)
    assert x.tolist() == [1.0, 2.0, 5.0, 10.0]
    for shape, wrap in [((3, 3), False), ((3, 5), False), ((7, 3), True), ((7, 3), False)]:
        a, b = dp.zeros(*shape), torch.zeros(*shape)
        a.fill_diagonal_(2.0, wrap=wrap)
        b.fill_diagonal_(2.0, wrap=wrap)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(RuntimeError, match="requires grad"):
        dp.zeros(2, requires_grad=True).apply_(abs)


def test_errors_name_the_function():
    with pytest.raises(RuntimeError, match="kthvalue"):
        dp.kthvalue(dp.zeros(3), 4)
    with pytest.raises(RuntimeError, match="gcd"):
        dp.gcd(dp.zeros(3), dp.zeros(3))
    with pytest.raises(RuntimeError, match="quantile"):
        dp.quantile(dp.zeros(3), 1.5)
    with pytest.raises(RuntimeError, match="vsplit"):
        dp.vsplit(dp.zeros(3), 3)
