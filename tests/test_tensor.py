"""Tensor creation, conversion, dtype promotion and printing, compared with PyTorch."""
import itertools

import numpy as np
import pytest

from oracle import torch

import diffprog as dp


def same(d, t):
    """Same dtype, shape and values (exactly)."""
    assert d.dtype.name == str(t.dtype).replace("torch.", ""), f"dtype {d.dtype} vs {t.dtype}"
    assert tuple(d.shape) == tuple(t.shape), f"shape {tuple(d.shape)} vs {tuple(t.shape)}"
    np.testing.assert_array_equal(d.detach().numpy(), t.detach().numpy())


@pytest.fixture
def default_float64():
    dp.set_default_dtype(dp.float64)
    torch.set_default_dtype(torch.float64)
    yield
    dp.set_default_dtype(dp.float32)
    torch.set_default_dtype(torch.float32)


# --- creation ------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    [1, 2, 3], [[1.5, 2], [3, 4]], [True, False], 3, 2.5, True, [], [[]], [1, 2.5], [True, 2],
    [[1, 2], [3, 4]], -7, [0.1, -1e10], [[[1.0]]],
    np.arange(6.0).reshape(2, 3), np.arange(4, dtype=np.int32), np.array([1, 200], dtype=np.uint8),
    np.array([True, False]), np.array([1.5, 2], dtype=np.float16), np.float64(2.5), np.int32(3),
    np.zeros((2, 0)),
])
def test_tensor_from_data(data):
    same(dp.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "uint8", "bool", "int64"])
def test_tensor_with_dtype(dtype):
    data = [[0, 1.5], [2, 3]]
    same(dp.tensor(data, dtype=getattr(dp, dtype)), torch.tensor(data, dtype=getattr(torch, dtype)))


def test_tensor_copies_but_as_tensor_and_from_numpy_share():
    a = np.arange(4.0)
    t, s, f = dp.tensor(a), dp.as_tensor(a), dp.from_numpy(a)
    a[0] = 9.0
    assert t.tolist()[0] == 0.0
    assert s.tolist()[0] == 9.0 and f.tolist()[0] == 9.0
    f._data[1] = 7.0                        # writes through the tensor reach the array
    assert a[1] == 7.0
    assert dp.as_tensor(a, dtype=dp.float32).dtype is dp.float32 and a.dtype == np.float64
    assert dp.as_tensor(t) is t
    src = dp.tensor([1.0, 2.0])
    assert not np.shares_memory(dp.tensor(src).numpy(), src.numpy())


def test_from_numpy_rejects_non_arrays():
    with pytest.raises(TypeError):
        dp.from_numpy([1, 2])


FILLED = [((2, 3), {}), (((2, 3),), {}), (((),), {}), ((0,), {}), ((4,), {"dtype": "int32"}),
          (([2, 1],), {"dtype": "float64"}), ((3,), {"dtype": "bool"})]


def _kw(kwargs, lib):
    return {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size,kwargs", FILLED)
def test_filled(fn, size, kwargs):
    d, t = getattr(dp, fn)(*size, **_kw(kwargs, dp)), getattr(torch, fn)(*size, **_kw(kwargs, torch))
    if fn == "empty":
        assert d.dtype.name == str(t.dtype)[6:] and tuple(d.shape) == tuple(t.shape)
    else:
        same(d, t)


@pytest.mark.parametrize("fn", ["zeros_like", "ones_like", "empty_like", "rand_like"])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_like(fn, dtype):
    kw = {} if dtype is None else {"dtype": dtype}
    d = getattr(dp, fn)(dp.zeros(2, 3, dtype=dp.float16), **_kw(kw, dp))
    t = getattr(torch, fn)(torch.zeros(2, 3, dtype=torch.float16), **_kw(kw, torch))
    if fn in ("empty_like", "rand_like"):
        assert d.dtype.name == str(t.dtype)[6:] and tuple(d.shape) == tuple(t.shape)
    else:
        same(d, t)


@pytest.mark.parametrize("size,fill,kwargs", [
    ((2, 3), 1.5, {}), ((2,), 7, {}), ((2, 2), True, {}), ((3,), 2, {"dtype": "float64"}),
    ((), -1.0, {}), ((1, 2), 3.7, {"dtype": "int32"}),
])
def test_full(size, fill, kwargs):
    same(dp.full(size, fill, **_kw(kwargs, dp)), torch.full(size, fill, **_kw(kwargs, torch)))
    like = dict(_kw(kwargs, dp))
    same(dp.full_like(dp.zeros(size), fill, **like),
         torch.full_like(torch.zeros(size), fill, **_kw(kwargs, torch)))


def test_requires_grad_at_creation():
    assert dp.zeros(2, requires_grad=True).requires_grad
    assert dp.tensor([1.0], requires_grad=True).is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        dp.tensor([1, 2], requires_grad=True)


@pytest.mark.parametrize("args,kwargs", [
    ((10,), {}), ((2, 9, 3), {}), ((5, 0, -1), {}), ((0, 1, 0.1), {}), ((1.0, 0.0, -0.3), {}),
    ((-5.5, 5.5, 0.7), {}), ((0, 1, 1 / 3), {}), ((0, 10, 3), {"dtype": "float64"}),
    ((0, 5, 1.5), {"dtype": "int64"}), ((-1.5, 3, 1.2), {"dtype": "int32"}), ((4,), {"dtype": "uint8"}),
    ((0, 4.5, 1), {"dtype": "int64"}), ((3.0,), {}), ((0,), {}), ((0.0, 1.0, 0.25), {"dtype": "float16"}),
])
def test_arange(args, kwargs):
    same(dp.arange(*args, **_kw(kwargs, dp)), torch.arange(*args, **_kw(kwargs, torch)))


@pytest.mark.parametrize("args", [(1, 0, 1), (0, 1, 0), (0, -1, 1)])
def test_arange_errors(args):
    with pytest.raises(RuntimeError):
        dp.arange(*args)


@pytest.mark.parametrize("args,kwargs", [
    ((0, 1, 5), {}), ((-3.3, 7.1, 11), {}), ((0, 1, 7), {"dtype": "float64"}), ((1, 0, 4), {}),
    ((0, 1, 1), {}), ((0, 1, 0), {}), ((2, 9, 7), {"dtype": "int32"}), ((0.1, 0.9, 100), {}),
    ((-7, 3, 9), {"dtype": "int64"}), ((0.1, 0.9, 33), {"dtype": "float16"}),
])
def test_linspace(args, kwargs):
    d, t = dp.linspace(*args, **_kw(kwargs, dp)), torch.linspace(*args, **_kw(kwargs, torch))
    assert d.dtype.name == str(t.dtype)[6:] and tuple(d.shape) == tuple(t.shape)
    # PyTorch's vectorised kernel may differ in the last bit; the ends are exact.
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-3 if d.dtype is dp.float16 else 1e-6)
    if t.numel():
        assert d.tolist()[0] == t.tolist()[0] and d.tolist()[-1] == t.tolist()[-1]


@pytest.mark.parametrize("args,kwargs", [((3,), {}), ((2, 4), {}), ((4, 2), {"dtype": "int64"}),
                                         ((0,), {}), ((3,), {"dtype": "bool"})])
def test_eye(args, kwargs):
    same(dp.eye(*args, **_kw(kwargs, dp)), torch.eye(*args, **_kw(kwargs, torch)))


def test_logspace_and_scalar_tensor():
    np.testing.assert_allclose(dp.logspace(0, 2, 5).numpy(), torch.logspace(0, 2, 5).numpy(), rtol=1e-6)
    same(dp.scalar_tensor(3), torch.scalar_tensor(3))


# --- dtype promotion -------------------------------------------------------------------------

DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
SCALARS = {"bool": True, "int": 3, "float": 1.5}
OPERANDS = [(d, k) for d in DTYPES for k in ("tensor", "0-d")] + [(s, "scalar") for s in SCALARS]


def _operand(lib, name, kind):
    if kind == "scalar":
        return SCALARS[name]
    shape = (2,) if kind == "tensor" else ()
    return lib.ones(shape, dtype=getattr(lib, name))


@pytest.mark.parametrize("a,b", [(a, b) for a, b in itertools.product(OPERANDS, OPERANDS)
                                 if not (a[1] == b[1] == "scalar")],
                         ids=lambda o: f"{o[0]}-{o[1]}")
def test_promotion(a, b):
    d = _operand(dp, *a) + _operand(dp, *b)
    t = _operand(torch, *a) + _operand(torch, *b)
    assert d.dtype.name == str(t.dtype)[6:]
    assert dp.result_type(_operand(dp, *a), _operand(dp, *b)) is d.dtype
    np.testing.assert_array_equal(d.numpy(), t.numpy())


def test_promote_types_all_pairs():
    names = DTYPES + ["int8", "int16", "complex64", "complex128"]
    for a, b in itertools.product(names, names):
        d = dp.promote_types(getattr(dp, a), getattr(dp, b))
        assert d.name == str(torch.promote_types(getattr(torch, a), getattr(torch, b)))[6:], (a, b)


def test_set_default_dtype(default_float64):
    assert dp.get_default_dtype() is dp.float64
    same(dp.tensor([1.5, 2]), torch.tensor([1.5, 2]))
    same(dp.zeros(2), torch.zeros(2))
    same(dp.arange(0.0, 1.0, 0.5), torch.arange(0.0, 1.0, 0.5))
    same(dp.tensor([1, 2]) * 1.5, torch.tensor([1, 2]) * 1.5)
    assert dp.rand(2).dtype is dp.float64
    assert repr(dp.tensor([1.5], dtype=dp.float32)) == "tensor([1.5000], dtype=diffprog.float32)"
    assert repr(dp.tensor([1.5])) == "tensor([1.5000])"


def test_set_default_dtype_rejects_ints():
    with pytest.raises(TypeError):
        dp.set_default_dtype(dp.int32)
    assert dp.get_default_dtype() is dp.float32


# --- legacy constructors -----------------------------------------------------------------------

def test_legacy_constructors():
    same(dp.Tensor([1, 2]), torch.Tensor([1, 2]))
    assert dp.Tensor(2, 3).shape == (2, 3) and dp.Tensor(2, 3).dtype is dp.float32
    assert dp.Tensor(dp.Size([2, 3])).shape == (2, 3)
    same(dp.Tensor((2, 3)), torch.Tensor((2, 3)))
    same(dp.Tensor(), torch.Tensor())
    same(dp.FloatTensor([1, 2]), torch.FloatTensor([1, 2]))
    same(dp.LongTensor([1, 2]), torch.LongTensor([1, 2]))
    same(dp.DoubleTensor([[1.5]]), torch.DoubleTensor([[1.5]]))
    assert dp.LongTensor(3).shape == (3,) and dp.LongTensor(3).dtype is dp.int64
    assert isinstance(dp.FloatTensor([1.0]), dp.Tensor)


# --- conversion and properties ------------------------------------------------------------------

def test_item_tolist_numpy():
    t = dp.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert dp.tensor(7).item() == 7 and isinstance(dp.tensor(7).item(), int)
    assert dp.tensor([2.5]).item() == 2.5 and isinstance(dp.tensor(2.5).item(), float)
    assert dp.tensor(True).item() is True
    with pytest.raises(RuntimeError, match="4 elements cannot be converted"):
        t.item()
    assert isinstance(t.numpy(), np.ndarray) and np.shares_memory(t.numpy(), t.numpy())
    assert np.asarray(t).dtype == np.float32 and np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array_equal(np.asarray(t), t.numpy())


def test_numpy_requires_grad_message():
    t = dp.tensor([1.0], requires_grad=True)
    tt = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError) as ours:
        t.numpy()
    with pytest.raises(RuntimeError) as theirs:
        tt.numpy()
    assert str(ours.value) == str(theirs.value)
    assert t.detach().numpy()[0] == 1.0


def test_properties():
    t = dp.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, dp.Size) and t.shape == dp.Size([2, 3, 4])
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == t.ndim == 3 and t.numel() == 24 and t.shape.numel() == 24
    assert t.dtype is dp.float32 and t.device == dp.device("cpu") and str(t.device) == "cpu"
    assert repr(t.shape) == "diffprog.Size([2, 3, 4])"
    assert not t.is_cuda and t.is_floating_point() and not dp.zeros(2, dtype=dp.int64).is_floating_point()
    with pytest.raises(IndexError):
        t.size(3)


@pytest.mark.parametrize("method,dtype", [("float", "float32"), ("double", "float64"), ("half", "float16"),
                                          ("long", "int64"), ("int", "int32"), ("bool", "bool"),
                                          ("short", "int16"), ("byte", "uint8")])
def test_cast_methods(method, dtype):
    data = [[0.0, 1.7], [-2.5, 3.0]]
    same(getattr(dp.tensor(data), method)(), getattr(torch.tensor(data), method)())
    same(dp.tensor(data).to(getattr(dp, dtype)), torch.tensor(data).to(getattr(torch, dtype)))


def test_to_and_type():
    t = dp.tensor([1.0, 2.0])
    assert t.to(dp.float32) is t and t.to("cpu") is t and t.to(t) is t
    assert t.to(dp.float32, copy=True) is not t
    assert t.to("cpu", dp.float64).dtype is dp.float64
    assert t.to(dtype=dp.int64).dtype is dp.int64
    assert t.to(dp.zeros(1, dtype=dp.float16)).dtype is dp.float16
    for lib_t, our_t in ((torch.tensor([1.0]), t), (torch.tensor([1]), dp.tensor([1])),
                         (torch.tensor([1.0], dtype=torch.float64), t.double()),
                         (torch.tensor([True]), dp.tensor([True]))):
        assert our_t.type() == lib_t.type()
    assert t.type(dp.float64).dtype is dp.float64
    assert t.type("torch.LongTensor").dtype is dp.int64
    assert t.cpu() is t


@pytest.mark.skipif(dp.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="cuda"):
        dp.tensor([1.0]).cuda()
    with pytest.raises(RuntimeError, match="not available"):
        dp.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="not available"):
        dp.tensor([1.0]).to("cuda")
    assert dp.zeros(2, device="cpu").device.type == "cpu"


def test_python_protocols():
    t = dp.tensor([3.0, 4.0])
    assert len(t) == 2 and [x.item() for x in t] == [3.0, 4.0]
    assert float(dp.tensor(2.5)) == 2.5 and int(dp.tensor([7])) == 7
    assert bool(dp.tensor([1])) is True and bool(dp.tensor(0.0)) is False
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError):
        len(dp.tensor(1.0))
    with pytest.raises(TypeError):
        iter(dp.tensor(1.0))
    assert [1, 2, 3][dp.tensor(1)] == 2
    assert f"{dp.tensor(2.5):.2f}" == "2.50"


def test_version():
    assert isinstance(dp.__version__, str) and dp.__version__.count(".") >= 1


# --- printing ----------------------------------------------------------------------------------

REPRS = [
    ([1, 2, 3], None), ([1.5, 2.25, -3.0], None), ([1.0, 2.0, 3.0], None), ([1e10, 1.0], None),
    ([1e-5, 1.0], None), ([0.1, 1000.5], None), ([-1.0, -2.0], None), ([[1, 2], [3, 4]], None),
    ([[1.5, -2], [3, 4e3]], None), (3.5, None), (3, None), (0.0, None), ([], None),
    ([True, False], None), ([1.0, 2.0], "float64"), ([1, 2], "int32"), ([1.5, 2.0], "float16"),
    ([0.0, 0.0], None), ([float("nan"), 1.0], None), ([float("inf"), -1.5], None),
    ([123456789.0], None), ([1e-10, 0.0], None), (list(range(30)), "float32"),
    (list(range(2000)), None), (np.arange(24.0).reshape(2, 3, 4).tolist(), None),
    ([-1e-5, 12.25], "float64"), ([1 + 2j, 3 - 1j], None), (np.linspace(-3, 3, 40).tolist(), None),
    ([[]], None), ([], "int64"), ([100000, -1], None),
    (np.arange(2000.0).reshape(40, 50).tolist(), "float64"),
    (np.random.default_rng(0).standard_normal((3, 30)).tolist(), None), (-0.0, None),
    (np.random.default_rng(0).standard_normal((12, 12, 12)).tolist(), None), (2.5, "float64"),
]


def _same_repr(d, t):
    assert repr(d) == repr(t).replace("torch.", "diffprog."), f"\n{d!r}\nvs torch\n{t!r}"


@pytest.mark.parametrize("data,dtype", REPRS)
def test_repr(data, dtype):
    _same_repr(dp.tensor(data, dtype=getattr(dp, dtype) if dtype else None),
               torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None))


@pytest.mark.parametrize("make", [
    lambda L: L.tensor([1.0, 2.0], requires_grad=True),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda L: L.tensor([1.5, 2.0], dtype=L.float64, requires_grad=True) + 1,
    lambda L: L.tensor(2.5, requires_grad=True),
    lambda L: L.zeros(2, 0, 3, dtype=L.int32),
    lambda L: L.zeros(0, requires_grad=True),
    lambda L: L.tensor(np.random.default_rng(1).standard_normal((4, 5)), requires_grad=True),
    lambda L: L.tensor(np.arange(1100).reshape(11, 100), dtype=L.int32),
])
def test_repr_autograd_and_shapes(make):
    _same_repr(make(dp), make(torch))
