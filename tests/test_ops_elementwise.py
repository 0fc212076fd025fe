"""Elementwise ops against PyTorch: values, VJP, double VJP, JVP and finite differences.

One table per arity; each row is (name, diffprog fn, torch fn, input domain(s)).  Domains
keep inputs inside the function's domain and away from kinks, so finite differences hold.
"""
import warnings

import numpy as np
import pytest

import oracle
from oracle import check, rand, torch

import diffprog as dp

F = torch.nn.functional
pytest.importorskip("scipy")


def same(name):
    return getattr(dp, name), getattr(torch, name)


def fn(name):
    return getattr(dp, name), getattr(F, name)


R = (-1.0, 1.0)          # default domain
# torch's double backward of abs returns a ZeroTensor, which the oracle cannot read
NO_ZEROTENSOR = dict(gradgrad=False)
# torch's trigamma (polygamma(1, x), the derivative of digamma) is accurate to ~1e-9 only
# (SciPy's, which we use, agrees with mpmath to 1e-16); finite differences still check ours
TRIGAMMA = dict(tol=dict(rtol=1e-7, atol=1e-9))
# torch's hardsigmoid backward multiplies by 1/6 rounded to float32
SIXTH = dict(tol=dict(rtol=1e-7, atol=1e-9))
POS = (0.5, 2.0)
UNIT = (-0.9, 0.9)
WIDE = (-4.0, 4.0)

UNARY = [
    ("neg", *same("neg"), R), ("abs", *same("abs"), R, NO_ZEROTENSOR), ("sign", *same("sign"), R),
    ("exp", *same("exp"), R), ("exp2", *same("exp2"), R), ("expm1", *same("expm1"), R),
    ("log", *same("log"), POS), ("log2", *same("log2"), POS), ("log10", *same("log10"), POS),
    ("log1p", *same("log1p"), (-0.5, 1.0)), ("sqrt", *same("sqrt"), POS),
    ("rsqrt", *same("rsqrt"), POS), ("square", *same("square"), R),
    ("reciprocal", *same("reciprocal"), POS), ("sin", *same("sin"), WIDE),
    ("cos", *same("cos"), WIDE), ("tan", *same("tan"), R), ("asin", *same("asin"), UNIT),
    ("acos", *same("acos"), UNIT), ("atan", *same("atan"), WIDE), ("sinh", *same("sinh"), R),
    ("cosh", *same("cosh"), R), ("tanh", *same("tanh"), WIDE), ("asinh", *same("asinh"), WIDE),
    ("acosh", *same("acosh"), (1.2, 3.0)), ("atanh", *same("atanh"), UNIT),
    ("sigmoid", *same("sigmoid"), WIDE), ("logit", *same("logit"), (0.1, 0.9)),
    ("logit_eps", lambda x: dp.logit(x, 0.2), lambda x: torch.logit(x, 0.2), (0.05, 0.95)),
    ("erf", *same("erf"), R), ("erfc", *same("erfc"), R), ("erfinv", *same("erfinv"), UNIT),
    ("lgamma", *same("lgamma"), POS, TRIGAMMA), ("digamma", *same("digamma"), POS, TRIGAMMA),
    ("polygamma1", lambda x: dp.polygamma(1, x), lambda x: torch.polygamma(1, x), POS, TRIGAMMA),
    ("polygamma2", lambda x: x.polygamma(2), lambda x: x.polygamma(2), POS),
    ("floor", *same("floor"), WIDE), ("ceil", *same("ceil"), WIDE),
    ("round", *same("round"), WIDE), ("trunc", *same("trunc"), WIDE),
    ("round_dec", lambda x: dp.round(x, decimals=2), lambda x: torch.round(x, decimals=2), WIDE),
    ("frac", *same("frac"), WIDE), ("nan_to_num", *same("nan_to_num"), R),
    ("clamp", lambda x: dp.clamp(x, -0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5), R),
    ("clamp_min", lambda x: x.clamp(min=-0.3), lambda x: x.clamp(min=-0.3), R),
    ("clamp_max", lambda x: dp.clamp_max(x, 0.3), lambda x: torch.clamp_max(x, 0.3), R),
    ("clip", lambda x: x.clip(-0.5, 0.2), lambda x: x.clip(-0.5, 0.2), R),
    ("pos", lambda x: +x, lambda x: +x, R), ("abs_op", lambda x: abs(x), lambda x: abs(x), R, NO_ZEROTENSOR),
    ("relu", *same("relu"), R), ("relu6", *fn("relu6"), (-2.0, 8.0)),
    ("leaky_relu", lambda x: dp.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), R),
    ("leaky_relu_steep", lambda x: dp.leaky_relu(x, 1.5), lambda x: F.leaky_relu(x, 1.5), R),   # the where path
    ("leaky_relu_neg", lambda x: dp.leaky_relu(x, -0.5), lambda x: F.leaky_relu(x, -0.5), R),
    ("elu", lambda x: dp.elu(x, 1.5), lambda x: F.elu(x, 1.5), WIDE), ("selu", *fn("selu"), WIDE),
    ("celu", lambda x: dp.celu(x, 0.5), lambda x: F.celu(x, 0.5), WIDE),
    ("gelu", *fn("gelu"), WIDE),
    ("gelu_tanh", lambda x: dp.gelu(x, approximate="tanh"),
     lambda x: F.gelu(x, approximate="tanh"), WIDE),
    ("silu", *fn("silu"), WIDE), ("softplus", *fn("softplus"), WIDE),
    ("softplus_beta", lambda x: dp.softplus(x, beta=3.0, threshold=2.0),
     lambda x: F.softplus(x, beta=3.0, threshold=2.0), R),
    ("hardtanh", lambda x: dp.hardtanh(x, -0.5, 0.7), lambda x: F.hardtanh(x, -0.5, 0.7), R),
    ("hardsigmoid", *fn("hardsigmoid"), (-5.0, 5.0), SIXTH), ("hardswish", *fn("hardswish"), (-5.0, 5.0)),
    ("mish", *fn("mish"), WIDE), ("softsign", *fn("softsign"), WIDE),
    ("tanhshrink", *fn("tanhshrink"), WIDE), ("logsigmoid", *fn("logsigmoid"), WIDE),
    ("threshold", lambda x: dp.threshold(x, 0.1, -2.0), lambda x: F.threshold(x, 0.1, -2.0), R),
]

CASES = {"f64": ((3, 4), np.float64), "f32": ((3, 4), np.float32), "0d": ((), np.float64),
         "empty": ((0, 3), np.float64)}


UNARY = [r if len(r) == 5 else (*r, {}) for r in UNARY]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name,dp_fn,torch_fn,dom,opts", UNARY, ids=[r[0] for r in UNARY])
def test_unary(name, dp_fn, torch_fn, dom, opts, case):
    shape, dtype = CASES[case]
    if dtype == np.float32:
        opts = {k: v for k, v in opts.items() if k != "tol"}
    check(dp_fn, torch_fn, rand(*shape, dtype=dtype, low=dom[0], high=dom[1]), **opts)


def test_abs_second_derivative_is_zero():
    x = dp.tensor(rand(5), requires_grad=True)
    (g,) = dp.autograd.grad(x.abs().sum(), x, create_graph=True)
    (gg,) = dp.autograd.grad((g * dp.tensor(rand(5, seed=3))).sum(), x, allow_unused=True,
                             materialize_grads=True)
    assert not gg.numpy().any()


BINARY = [
    ("add", *same("add"), R, R), ("sub", *same("sub"), R, R),
    ("add_alpha", lambda a, b: dp.add(a, b, alpha=2.5), lambda a, b: torch.add(a, b, alpha=2.5), R, R),
    ("sub_alpha", lambda a, b: a.sub(b, alpha=-3), lambda a, b: a.sub(b, alpha=-3), R, R),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, R, R),
    ("div", lambda a, b: a / b, lambda a, b: a / b, R, POS),
    ("true_divide", *same("true_divide"), R, POS),
    ("div_trunc", lambda a, b: dp.div(a, b, rounding_mode="trunc"),
     lambda a, b: torch.div(a, b, rounding_mode="trunc"), WIDE, POS),
    ("div_floor", lambda a, b: dp.div(a, b, rounding_mode="floor"),
     lambda a, b: torch.div(a, b, rounding_mode="floor"), WIDE, POS),
    ("remainder", lambda a, b: a % b, lambda a, b: a % b, WIDE, (-2.0, -0.5)),
    ("fmod", *same("fmod"), WIDE, POS),
    ("pow", lambda a, b: a ** b, lambda a, b: a ** b, POS, R),
    ("atan2", *same("atan2"), R, R), ("arctan2", *same("arctan2"), R, R),
    ("hypot", *same("hypot"), R, R),
    ("maximum", *same("maximum"), R, R), ("minimum", *same("minimum"), R, R),
    ("fmax", *same("fmax"), R, R), ("fmin", *same("fmin"), R, R),
    ("clamp_tensors", lambda a, b: dp.clamp(a, b, b + 0.5), lambda a, b: torch.clamp(a, b, b + 0.5), R, R),
    ("clamp_min_tensor", lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b), R, R),
    ("clamp_max_tensor", lambda a, b: a.clamp(max=b), lambda a, b: a.clamp(max=b), R, R),
    ("where", lambda a, b: dp.where(a > b, a, b * 2), lambda a, b: torch.where(a > b, a, b * 2), R, R),
    ("where_method", lambda a, b: a.where(a > 0, b), lambda a, b: a.where(a > 0, b), R, R),
    ("lerp_scalar", lambda a, b: dp.lerp(a, b, 0.3), lambda a, b: torch.lerp(a, b, 0.3), R, R),
    ("lerp_scalar_hi", lambda a, b: a.lerp(b, 0.8), lambda a, b: a.lerp(b, 0.8), R, R),
    ("lerp_tensor", lambda a, b: dp.lerp(a, b, a * b), lambda a, b: torch.lerp(a, b, a * b), R, R),
]

SHAPES = {"same": ((3, 4), (3, 4)), "bcast": ((3, 1), (1, 4)), "0d": ((), (2, 3)),
          "empty": ((0, 3), (3,))}


@pytest.mark.parametrize("shapes", list(SHAPES))
@pytest.mark.parametrize("name,dp_fn,torch_fn,dx,dy", BINARY, ids=[r[0] for r in BINARY])
def test_binary(name, dp_fn, torch_fn, dx, dy, shapes):
    sx, sy = SHAPES[shapes]
    check(dp_fn, torch_fn, rand(*sx, low=dx[0], high=dx[1]), rand(*sy, low=dy[0], high=dy[1], seed=7))


@pytest.mark.parametrize("name,dp_fn,torch_fn,dx,dy", BINARY, ids=[r[0] for r in BINARY])
def test_binary_float32(name, dp_fn, torch_fn, dx, dy):
    check(dp_fn, torch_fn, rand(2, 3, dtype=np.float32, low=dx[0], high=dx[1]),
          rand(3, dtype=np.float32, low=dy[0], high=dy[1], seed=11))


SCALAR = [
    ("add", lambda a: a + 2.5), ("radd", lambda a: 2 + a), ("sub", lambda a: a - 1),
    ("rsub", lambda a: 1.5 - a), ("mul", lambda a: a * 3), ("rmul", lambda a: -2.0 * a),
    ("div", lambda a: a / 4), ("rdiv", lambda a: 3 / a), ("pow2", lambda a: a ** 2),
    ("pow_half", lambda a: a ** 0.5), ("pow0", lambda a: a ** 0), ("pow_neg", lambda a: a.pow(-1.5)),
    ("rpow", lambda a: 2 ** a), ("rpow_float", lambda a: 0.7 ** a),
    ("pow_fn", lambda a: (dp if isinstance(a, dp.Tensor) else torch).pow(3.0, a)),
    ("mod", lambda a: a % 0.3), ("rmod", lambda a: 2.5 % a), ("floordiv", lambda a: a // 0.3),
    ("fmod", lambda a: a.fmod(-0.3)), ("maximum_0d", lambda a: a.maximum(a.new_tensor(1.0))),
    ("where_scalars", lambda a: (dp if isinstance(a, dp.Tensor) else torch).where(a > 1, a, 0.0)),
    ("atan2_scalar", lambda a: a.atan2(a.new_tensor(0.5))),
]


@pytest.mark.parametrize("name,f", SCALAR, ids=[r[0] for r in SCALAR])
def test_scalar_operands(name, f):
    # torch has no derivative for floor_divide, nor for remainder with a number as dividend
    check(f, f, rand(3, 4, low=0.5, high=2.0), grad=name not in ("floordiv", "rmod"))


# --- kinks: gradients where the function is not differentiable follow PyTorch ---------

# torch's second derivatives at some kinks disagree with its own first derivative there
# (elu: f'(0) from the x <= 0 side but f''(0) = 0); we differentiate our f' as written
NO_GG = dict(gradgrad=False)

KINKS = [
    ("relu", *same("relu"), [0.0, -1.0, 2.0]), ("abs", *same("abs"), [0.0, -1.0, 2.0], NO_ZEROTENSOR),
    ("leaky_relu", *fn("leaky_relu"), [0.0, -1.0]),
    ("elu", lambda x: dp.elu(x, 2.0), lambda x: F.elu(x, 2.0), [0.0, -1.0], NO_GG),
    ("selu", *fn("selu"), [0.0], NO_GG),
    ("celu", lambda x: dp.celu(x, 2.0), lambda x: F.celu(x, 2.0), [0.0], NO_GG),
    ("hardtanh", *fn("hardtanh"), [-1.0, 1.0, 0.0]), ("relu6", *fn("relu6"), [0.0, 6.0, 3.0]),
    ("hardsigmoid", *fn("hardsigmoid"), [-3.0, 3.0, 0.0], SIXTH),
    ("hardswish", *fn("hardswish"), [-3.0, 3.0, 0.0, -4.0, 4.0]),
    ("threshold", lambda x: dp.threshold(x, 1.0, 5.0), lambda x: F.threshold(x, 1.0, 5.0), [1.0, 2.0]),
    ("clamp", lambda x: x.clamp(0.0, 1.0), lambda x: x.clamp(0.0, 1.0), [0.0, 1.0, 2.0]),
    ("clamp_crossed", lambda x: x.clamp(2.0, 1.0), lambda x: x.clamp(2.0, 1.0), [0.0, 1.5, 3.0]),
    ("softsign", *fn("softsign"), [0.0]), ("sign", *same("sign"), [0.0, 1.0]),
    ("floor", *same("floor"), [1.0, -1.0]), ("sqrt0", *same("sqrt"), [0.0, 1.0]),
    ("pow0", lambda x: x ** 0.0, lambda x: x ** 0.0, [0.0, 2.0]),
    ("softplus_thr", lambda x: dp.softplus(x, 1.0, 1.0), lambda x: F.softplus(x, 1.0, 1.0), [1.0],
     NO_GG),
    ("logit_eps", lambda x: x.logit(0.25), lambda x: x.logit(0.25), [0.25, 0.75, 0.1]),
]


KINKS = [r if len(r) == 5 else (*r, {}) for r in KINKS]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # log(0), 1/0 at the kinks
@pytest.mark.parametrize("name,dp_fn,torch_fn,xs,opts", KINKS, ids=[r[0] for r in KINKS])
def test_kinks(name, dp_fn, torch_fn, xs, opts):
    check(dp_fn, torch_fn, np.array(xs), fd=False, **opts)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # log(0), 1/0 at the kinks
@pytest.mark.parametrize("name,f", [
    ("maximum", lambda lib, a, b: lib.maximum(a, b)), ("minimum", lambda lib, a, b: lib.minimum(a, b)),
    ("fmax", lambda lib, a, b: lib.fmax(a, b)), ("fmin", lambda lib, a, b: lib.fmin(a, b)),
    ("clamp", lambda lib, a, b: lib.clamp(a, b, b + 1)), ("clamp_min", lambda lib, a, b: a.clamp(min=b)),
    ("clamp_max", lambda lib, a, b: a.clamp(max=b)),
    ("clamp_crossed", lambda lib, a, b: lib.clamp(a, b, b - 1)),
    ("pow", lambda lib, a, b: lib.pow(a, b)), ("hypot", lambda lib, a, b: lib.hypot(a, b)),
])
def test_binary_kinks(name, f):
    """Ties, zeros and NaNs: x and y meet at the first elements.

    No JVP comparison: torch's JVPs break ties differently from its own VJPs (fmax's VJP
    gives a tie to x, its JVP to y); ours are the transposes of our VJPs."""
    x = np.array([1.0, 0.0, 2.0, np.nan, 0.5, 0.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, np.nan, 2.0])
    check(lambda a, b: f(dp, a, b), lambda a, b: f(torch, a, b), x, y, fd=False, jvp=False)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # log(0), 1/0 at the kinks
def test_pow_kinks_jvp():
    x, y = np.array([0.0, 0.0, 2.0, -1.0]), np.array([0.0, 2.0, 0.0, 2.0])
    check(dp.pow, torch.pow, x, y, fd=False)


# --- no derivative: comparisons, logical and bitwise ops ------------------------------

INTS = np.array([[3, -2, 0], [5, 7, -8]])
BOOLS = np.array([[True, False, True], [False, False, True]])


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal",
                                "not_equal", "maximum", "minimum", "remainder", "fmod",
                                "floor_divide"])
def test_compare_ints(op):
    b = np.array([3, 1, -4])
    check(getattr(dp, op), getattr(torch, op), INTS, b)


@pytest.mark.parametrize("sym", ["==", "!=", "<", "<=", ">", ">="])
def test_comparison_operators(sym):
    f = eval(f"lambda a, b: (a {sym} b, a {sym} 0.25, 0.25 {sym} a)")
    a, b = rand(3, 4), rand(4, seed=3)
    b[0] = a[0, 0]
    check(f, f, a, b)


@pytest.mark.parametrize("op", ["logical_and", "logical_or", "logical_xor", "bitwise_and",
                                "bitwise_or", "bitwise_xor"])
def test_logical_bitwise(op):
    check(getattr(dp, op), getattr(torch, op), BOOLS, BOOLS[::-1].copy())
    if op.startswith("logical"):
        check(getattr(dp, op), getattr(torch, op), rand(2, 3), INTS)
    else:
        check(getattr(dp, op), getattr(torch, op), INTS, INTS[:, ::-1].copy())


@pytest.mark.parametrize("sym", ["&", "|", "^", "<<", ">>"])
def test_bitwise_operators(sym):
    f = eval(f"lambda a, b: (a {sym} b, a {sym} 1, 2 {sym} a)")
    check(f, f, np.abs(INTS), np.array([1, 2, 0]))
    if sym in "&|^":
        check(f, f, BOOLS, BOOLS[:1])


def test_not_ops():
    check(lambda a: (~a, a.logical_not(), dp.bitwise_not(a)),
          lambda a: (~a, a.logical_not(), torch.bitwise_not(a)), INTS)
    check(lambda a: (~a, dp.logical_not(a)), lambda a: (~a, torch.logical_not(a)), BOOLS)
    with pytest.raises(RuntimeError, match="bitwise_not"):
        ~dp.tensor([1.0])
    with pytest.raises(RuntimeError, match="bitwise_and"):
        dp.tensor([1.0]) & dp.tensor([1.0])


def test_float_predicates():
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, -2.0])
    for op in ["isnan", "isinf", "isfinite", "sign"]:
        check(getattr(dp, op), getattr(torch, op), x, grad=False)
    check(dp.nan_to_num, torch.nan_to_num, x, fd=False)
    check(lambda a: a.nan_to_num(1.0, 5.0, -5.0), lambda a: a.nan_to_num(1.0, 5.0, -5.0), x, fd=False)
    check(dp.isnan, torch.isnan, INTS)


# --- dtypes ------------------------------------------------------------------------

def _i(lib, dtype="int64"):
    return lib.tensor([[1, 2, 3], [-4, 5, 6]], dtype=getattr(lib, dtype))


PROMOTION = [
    ("int+float", lambda lib: _i(lib) + 1.5), ("int*float", lambda lib: _i(lib) * 2.5),
    ("int32+int", lambda lib: _i(lib, "int32") + 5), ("int/int", lambda lib: _i(lib) / _i(lib)),
    ("int/2", lambda lib: _i(lib) / 2), ("int//2", lambda lib: _i(lib) // 2),
    ("int%3", lambda lib: _i(lib) % 3), ("int**2", lambda lib: _i(lib) ** 2),
    ("int**2.5", lambda lib: _i(lib).abs() ** 2.5), ("2**int", lambda lib: 2 ** _i(lib).abs()),
    ("2.0**int", lambda lib: 2.0 ** _i(lib)), (
    "bool+bool", lambda lib: (_i(lib) > 2) + (_i(lib) < 5)),
    ("bool*int", lambda lib: (_i(lib) > 2) * 3), ("bool+float", lambda lib: (_i(lib) > 2) + 0.5),
    ("int32+int64", lambda lib: _i(lib, "int32") + _i(lib)),
    ("uint8+int8", lambda lib: _i(lib, "uint8") + _i(lib, "int8")),
    ("int+f64 0d", lambda lib: _i(lib) + lib.tensor(0.5, dtype=lib.float64)),
    ("f32+f64 0d", lambda lib: _i(lib).float() + lib.tensor(0.5, dtype=lib.float64)),
    ("f16+f32", lambda lib: _i(lib).half() * _i(lib).float()),
    ("sqrt int", lambda lib: _i(lib).abs().sqrt()), ("sigmoid int", lambda lib: _i(lib).sigmoid()),
    ("abs int", lambda lib: _i(lib).abs()), ("neg int", lambda lib: -_i(lib)),
    ("floor int", lambda lib: _i(lib).floor()), ("round int", lambda lib: _i(lib).round()),
    ("square int", lambda lib: _i(lib).square()), ("relu int", lambda lib: _i(lib).relu()),
    ("sign int", lambda lib: _i(lib).sign()), ("clamp int float", lambda lib: _i(lib).clamp(0.5)),
    ("clamp int", lambda lib: _i(lib).clamp(0, 3)),
    ("maximum int float", lambda lib: lib.maximum(_i(lib), lib.tensor([1.5]))),
    ("where int float", lambda lib: lib.where(_i(lib) > 0, _i(lib), 2.5)),
    ("where scalars", lambda lib: lib.where(_i(lib) > 0, 1.0, 0)),
    ("where ints", lambda lib: lib.where(_i(lib) > 0, _i(lib, "int32"), 0)),
    ("eq int float", lambda lib: _i(lib) == 2.0), ("div trunc int", lambda lib: lib.div(_i(lib), -4, rounding_mode="trunc")),
    ("div floor int", lambda lib: lib.div(_i(lib), -4, rounding_mode="floor")),
    ("exp f16", lambda lib: _i(lib).half().exp()), ("int&int32", lambda lib: _i(lib) & _i(lib, "int32")),
    ("int atan2", lambda lib: lib.atan2(_i(lib), _i(lib))),
    ("float_power", lambda lib: lib.float_power(_i(lib), 2)),
]


@pytest.mark.parametrize("name,f", PROMOTION, ids=[r[0] for r in PROMOTION])
def test_promotion(name, f):
    a, b = f(dp), f(torch)
    assert a.dtype.name == str(b.dtype).replace("torch.", ""), f"{name}: {a.dtype} vs {b.dtype}"
    np.testing.assert_allclose(a.numpy().astype(np.float64), b.numpy().astype(np.float64), rtol=1e-3)


def test_integer_errors():
    x = dp.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="negative integer powers"):
        x ** -1
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        x // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        dp.remainder(x, dp.tensor([1, 0, 1]))


# --- in place ---------------------------------------------------------------------------

INPLACE_GRAD = [
    ("exp_", ()), ("exp2_", ()), ("expm1_", ()), ("sqrt_", ()), ("rsqrt_", ()), ("tan_", ()),
    ("tanh_", ()), ("sigmoid_", ()), ("neg_", ()), ("reciprocal_", ()), ("erfinv_", ()),
    ("relu_", ()), ("floor_", ()), ("ceil_", ()), ("trunc_", ()), ("frac_", ()), ("sign_", ()),
    ("round_", ()), ("add_", (2.0,)), ("sub_", (1.0,)), ("mul_", (3.0,)), ("div_", (0.5,)),
    ("fmod_", (0.3,)), ("remainder_", (0.3,)), ("true_divide_", (4.0,)),
    ("log_", ()), ("sin_", ()), ("cos_", ()), ("abs_", ()), ("square_", ()), ("erf_", ()),
    ("lgamma_", ()), ("digamma_", ()), ("log1p_", ()), ("log2_", ()), ("log10_", ()),
    ("asin_", ()), ("acos_", ()), ("atan_", ()), ("sinh_", ()), ("cosh_", ()), ("asinh_", ()),
    ("atanh_", ()), ("logit_", (0.1,)), ("polygamma_", (1,)), ("nan_to_num_", ()),
    ("clamp_", (0.2, 0.6)), ("clamp_min_", (0.3,)), ("clamp_max_", (0.3,)), ("clip_", (0.2, 0.6)),
    ("pow_", (2.0,)), ("atan2_", ("t0.4",)), ("hypot_", ("t0.4",)), ("lerp_", ("t1.0", 0.3)),
    ("add_", ("t0.5",)), ("mul_", ("t0.5",)), ("div_", ("t0.5",)), ("pow_", ("t0.5",)),
]
# Comparisons written in place leave a float tensor with zero gradient, as in PyTorch.
INPLACE_NO_GRAD = [("eq_", (0.5,)), ("lt_", (0.5,)), ("ge_", (0.5,)), ("ne_", ("t0.5",))]
INPLACE = INPLACE_GRAD + INPLACE_NO_GRAD
TRIGAMMA_OPS = ("lgamma_", "digamma_", "polygamma_")


def _args(lib, args):
    """'t0.4' stands for a float64 tensor operand."""
    make = oracle._tensor if lib is dp else lib.tensor      # diffprog's on the tested device
    return [make(float(a[1:]), dtype=lib.float64) if isinstance(a, str) else a for a in args]


@pytest.mark.parametrize("name,args", INPLACE, ids=[r[0] for r in INPLACE])
def test_inplace_values(name, args):
    a = rand(2, 3, low=0.1, high=0.9)
    x, t = oracle._tensor(a), torch.tensor(a)
    assert getattr(x, name)(*_args(dp, args)) is x
    getattr(t, name)(*_args(torch, args))
    np.testing.assert_allclose(x.cpu().numpy(), t.numpy(), rtol=1e-8 if name in TRIGAMMA_OPS else 1e-12)


@pytest.mark.parametrize("name,args", INPLACE, ids=[r[0] for r in INPLACE])
def test_inplace_autograd(name, args):
    """A non-leaf modified in place takes over the op's history."""
    a = rand(2, 3, low=0.1, high=0.9)
    # torch has no derivative for asinh_ / atanh_: compare with its out-of-place forms
    ref = name[:-1] if name in ("asinh_", "atanh_") else name
    check(lambda v: getattr(v * 1, name)(*_args(dp, args)),
          lambda v: getattr(v * 1, ref)(*_args(torch, args)), a,
          tol=TRIGAMMA["tol"] if name in TRIGAMMA_OPS else None, gradgrad=name != "abs_")


def test_inplace_keeps_unneeded_operands_free():
    """Overwriting an operand that a derivative does not read leaves backward working
    (PyTorch saves only what each derivative needs)."""
    x = dp.tensor(rand(3), requires_grad=True)
    y = x * 2
    z = (y * 3).exp()          # mul saves y, but d/dy needs only 3; exp reads its output
    y.add_(1)
    z.sum().backward()
    t = torch.tensor(rand(3), requires_grad=True)
    (t * 2 * 3).exp().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    w = x * 1
    v = w.sin()
    w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        v.sum().backward()


def test_inplace_options_and_operators():
    a = rand(2, 3, low=-3, high=3)
    for f in [lambda v: v.div_(0.7, rounding_mode="floor"), lambda v: v.round_(decimals=1),
              lambda v: v.clamp_(max=0.5), lambda v: v.nan_to_num_(posinf=1.0),
              lambda v: v.logit_(eps=0.2)]:
        np.testing.assert_allclose(f(dp.tensor(a)).numpy(), f(torch.tensor(a)).numpy())

    def ops(v):
        v += 1
        v -= 0.5
        v *= 2
        v /= 3
        v **= 2
        v %= 1.5
        v //= 0.25
        return v
    np.testing.assert_allclose(ops(dp.tensor(a)).numpy(), ops(torch.tensor(a)).numpy())

    def iops(v):
        v &= 6
        v |= 1
        v ^= 3
        v <<= 1
        v >>= 1
        v //= 2
        v %= 3
        return v
    i = np.array([5, 8, 13, 2])
    np.testing.assert_array_equal(iops(dp.tensor(i)).numpy(), iops(torch.tensor(i)).numpy())


def test_inplace_dtype_errors():
    x = dp.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.exp_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        x /= 2
    x.add_(2)
    assert x.tolist() == [3, 4, 5] and x.dtype is dp.int64


def test_functional_inplace():
    a = rand(2, 3, low=-2, high=2)
    for name, kw in [("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.3}),
                     ("elu", {}), ("selu", {}), ("celu", {}), ("silu", {}), ("hardtanh", {}),
                     ("hardsigmoid", {}), ("hardswish", {}), ("mish", {}),
                     ("threshold", {"threshold": 0.1, "value": 2.0})]:
        x, t = dp.tensor(a), torch.tensor(a)
        assert getattr(dp, name)(x, inplace=True, **kw) is x
        getattr(F, name)(t, inplace=True, **kw)
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=1e-12, err_msg=name)


def test_out_argument():
    a = rand(2, 3)
    o = dp.empty(2, 3, dtype=dp.float64)
    assert dp.exp(dp.tensor(a), out=o) is o
    np.testing.assert_allclose(o.numpy(), np.exp(a))
    o = dp.empty(0, dtype=dp.float64)
    dp.add(dp.tensor(a), 1, out=o)
    assert o.shape == (2, 3)
    with pytest.raises(RuntimeError, match="can't be cast"):
        dp.mul(dp.tensor(a), 2, out=dp.empty(2, 3, dtype=dp.int64))
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        dp.sin(dp.tensor(a, requires_grad=True), out=dp.empty(2, 3, dtype=dp.float64))


# --- numerics, errors, misc -------------------------------------------------------------

def test_stable_extremes():
    big = np.array([-1000.0, -50.0, -1e-8, 0.0, 1e-8, 50.0, 1000.0])
    for d, t in [(dp.sigmoid, torch.sigmoid), (dp.logsigmoid, F.logsigmoid), (dp.softplus, F.softplus),
                 (dp.silu, F.silu), (dp.gelu, F.gelu), (dp.mish, F.mish), (dp.elu, F.elu),
                 (dp.log1p, torch.log1p), (dp.expm1, torch.expm1), (dp.tanh, torch.tanh),
                 (dp.logit, torch.logit)]:
        a = big if d is not dp.logit else np.array([1e-300, 1e-10, 0.5, 1 - 1e-10])
        # values to 1e-12 relative even in the tails; derivatives to 1e-15 absolute (torch
        # has NaN or 1e-8-relative noise in some tails of its second derivatives)
        with np.errstate(all="ignore"):
            check(d, t, a, fd=False, gradgrad=False, tol=dict(rtol=1e-12, atol=1e-15))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_plain_backward_matches_torch(dtype):
    """A plain backward reads Phi(x) back from the output (the oracle's VJP, with
    create_graph, takes the differentiable path): at 0, in the tails, and in float32."""
    x = np.concatenate([[0.0, -1e-30, 1e-30, -40.0, -12.0, 12.0, 40.0],
                        np.random.default_rng(0).standard_normal(200) * 4]).astype(dtype)
    a, b = dp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    dp.gelu(a).backward(dp.tensor(g))
    F.gelu(b).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-6 if dtype == np.float32 else 1e-15)   # (float32: Phi + x phi cancels)


def test_floor_divide_has_no_derivative():
    x = dp.tensor([1.5, -2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (x // 0.5).sum().backward()


def test_errors():
    x = dp.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        dp.clamp(x)
    with pytest.raises(RuntimeError, match="boolean"):
        dp.where(x, x, x)
    with pytest.raises(RuntimeError, match="approximate"):
        dp.gelu(x, approximate="fast")
    with pytest.raises(RuntimeError, match="rounding_mode"):
        dp.div(x, x, rounding_mode="round")
    with pytest.raises(RuntimeError, match=r"add: shapes \(2,\) and \(3,\)"):
        x + dp.tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"\+"):
        +dp.tensor([True])


def test_eq_operator_and_hash():
    x, y = dp.tensor([1.0, 2.0]), dp.tensor([1.0, 3.0])
    assert (x == y).tolist() == [True, False] and (x != y).tolist() == [False, True]
    assert (x == None) is False and (x != "a") is True  # noqa: E711
    assert len({x: 1, y: 2}) == 2 and x in {x} and hash(x) == id(x)


def test_positive_and_aliases():
    x = dp.tensor([1.0, -2.0])
    assert +x is x and dp.positive(x) is x
    assert dp.clip is dp.clamp and dp.arctan2 is dp.atan2 and dp.absolute is dp.abs
    assert dp.where(dp.tensor([True, False, True]))[0].tolist() == [0, 2]


# --- floating-point edge values (issue 15): PyTorch computes them silently ------------------

EDGES = {
    "log(0), log(-1)": lambda L: L.tensor([0.0, -1.0]).log(),
    "log2, log10, log1p": lambda L: (L.tensor([0.0]).log2(), L.tensor([0.0]).log10(), L.tensor([-1.0]).log1p()),
    "x / 0, 0 / 0": lambda L: L.tensor([1.0, 0.0, -1.0]) / L.tensor([0.0, 0.0, 0.0]),
    "scalar / 0": lambda L: L.tensor([1.0]) / 0,
    "reciprocal, rsqrt, sqrt": lambda L: (L.tensor([0.0]).reciprocal(), L.tensor([0.0]).rsqrt(), L.tensor([-1.0]).sqrt()),
    "pow(0, -1)": lambda L: L.tensor([0.0]) ** -1,
    "exp, sinh, cosh overflow": lambda L: (L.tensor([1000.0]).exp(), L.tensor([1000.0]).sinh(), L.tensor([1000.0]).cosh()),
    "acos, atanh, acosh out of domain": lambda L: (L.tensor([2.0]).acos(), L.tensor([1.0]).atanh(), L.tensor([0.5]).acosh()),
    "logit(0), logit(1), xlogy(1, 0)": lambda L: (L.tensor([0.0, 1.0]).logit(), L.xlogy(L.tensor([1.0]), L.tensor([0.0]))),
    "fmod, remainder by 0": lambda L: (L.fmod(L.tensor([1.0]), 0.0), L.remainder(L.tensor([1.0]), 0.0)),
    "softmax, log_softmax, logsumexp of -inf": lambda L: (
        L.full((1, 3), -float("inf")).softmax(-1), L.full((1, 3), -float("inf")).log_softmax(-1),
        L.full((3,), -float("inf")).logsumexp(0)),
    "attention with a row masked out": lambda L: L.nn.functional.scaled_dot_product_attention(
        L.ones(1, 2, 4), L.ones(1, 3, 4), L.ones(1, 3, 4), attn_mask=L.tensor([[True] * 3, [False] * 3])),
    "mean of nothing, nanmean of NaN": lambda L: (L.zeros(0).mean(), L.tensor([float("nan")]).nanmean()),
    "log's gradient at 0": lambda L: _log_grad(L),
}


def _log_grad(L):
    x = L.tensor([0.0, 1.0], requires_grad=True)
    x.log().sum().backward()
    return x.grad


@pytest.mark.parametrize("action", ["default", "error"])
@pytest.mark.parametrize("name", EDGES)
def test_edge_values_compute_silently_as_pytorch_does(name, action):
    """No NumPy RuntimeWarning leaks (or, with warnings as errors, raises); values as PyTorch's."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter(action)
        got = EDGES[name](dp)
    assert not caught, [str(w.message) for w in caught]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = EDGES[name](torch)
    for g, w in zip(*(o if isinstance(o, tuple) else (o,) for o in (got, want)), strict=True):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-6, equal_nan=True)
