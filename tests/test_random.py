"""Random numbers: seeding, generators, state, and the distributions' shapes, dtypes and
moments (fixed seeds, so every run draws the same numbers)."""
import os
import pickle

import numpy as np
import pytest

import diffprog as dp


def np_(t):
    return t.detach().numpy()


# --- reproducibility -------------------------------------------------------------------------

SAMPLERS = {
    "rand": lambda g: dp.rand(3, 4, generator=g),
    "randn": lambda g: dp.randn((5,), generator=g),
    "randint": lambda g: dp.randint(2, 9, (6,), generator=g),
    "randperm": lambda g: dp.randperm(10, generator=g),
    "normal": lambda g: dp.normal(dp.zeros(4), dp.ones(4), generator=g),
    "bernoulli": lambda g: dp.bernoulli(dp.full((8,), 0.5), generator=g),
    "multinomial": lambda g: dp.multinomial(dp.tensor([1.0, 2.0, 3.0]), 2, generator=g),
    "uniform_": lambda g: dp.empty(5).uniform_(-1, 1, generator=g),
    "normal_": lambda g: dp.empty(5).normal_(generator=g),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_manual_seed_reproduces(name):
    draw = SAMPLERS[name]
    dp.manual_seed(123)
    a = draw(None)
    b = draw(None)
    dp.manual_seed(123)
    assert np.array_equal(np_(a), np_(draw(None)))
    assert np.array_equal(np_(b), np_(draw(None)))


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_generator_is_independent_of_global(name):
    draw = SAMPLERS[name]
    g = dp.Generator().manual_seed(7)
    a = draw(g)
    dp.manual_seed(0)
    state = dp.get_rng_state()
    g2 = dp.Generator()
    assert g2.manual_seed(7) is g2
    assert np.array_equal(np_(a), np_(draw(g2)))          # global seed does not matter
    assert np.array_equal(np_(dp.get_rng_state()), np_(state))  # global state untouched


def test_different_seeds_differ():
    a = dp.rand(10, generator=dp.Generator().manual_seed(1))
    b = dp.rand(10, generator=dp.Generator().manual_seed(2))
    assert not np.array_equal(np_(a), np_(b))


def test_seed_functions():
    dp.manual_seed(42)
    assert dp.initial_seed() == 42
    s = dp.seed()
    assert dp.initial_seed() == s and isinstance(s, int)
    g = dp.Generator()
    assert g.initial_seed() != dp.Generator().initial_seed()   # fresh seeds, like PyTorch
    assert dp.manual_seed(-1).initial_seed() == 2**64 - 1
    assert dp.default_generator.initial_seed() == 2**64 - 1


def test_rng_state_round_trip():
    dp.manual_seed(5)
    dp.randn(3)
    state = dp.get_rng_state()
    assert state.dtype is dp.uint8 and state.ndim == 1
    a = dp.randn(4)
    dp.rand(100)
    dp.set_rng_state(state)
    assert np.array_equal(np_(dp.randn(4)), np_(a))
    # a generator's state, also after an odd number of 32-bit draws, and through pickle
    g = dp.Generator().manual_seed(3)
    dp.rand(3, generator=g, dtype=dp.float32)
    st = pickle.loads(pickle.dumps(g.get_state()))
    x = dp.rand(5, generator=g, dtype=dp.float32)
    h = dp.Generator().set_state(st)
    assert np.array_equal(np_(dp.rand(5, generator=h, dtype=dp.float32)), np_(x))
    assert h.initial_seed() == 3


def test_fork_rng_restores():
    dp.manual_seed(9)
    with dp.random.fork_rng():
        dp.rand(10)
    a = dp.rand(3)
    dp.manual_seed(9)
    assert np.array_equal(np_(a), np_(dp.rand(3)))


def test_set_state_rejects_garbage():
    with pytest.raises(RuntimeError, match="56 bytes"):
        dp.set_rng_state(dp.zeros(3, dtype=dp.uint8))


# --- shapes and dtypes ----------------------------------------------------------------------

@pytest.mark.parametrize("make,shape,dtype", [
    (lambda: dp.rand(2, 3), (2, 3), dp.float32),
    (lambda: dp.rand((2, 3)), (2, 3), dp.float32),
    (lambda: dp.rand([]), (), dp.float32),
    (lambda: dp.rand(0, 2), (0, 2), dp.float32),
    (lambda: dp.rand(4, dtype=dp.float64), (4,), dp.float64),
    (lambda: dp.rand(4, dtype=dp.float16), (4,), dp.float16),
    (lambda: dp.randn(2, 2, dtype=dp.float64), (2, 2), dp.float64),
    (lambda: dp.randint(5, (3, 2)), (3, 2), dp.int64),
    (lambda: dp.randint(-3, 5, size=(4,), dtype=dp.int32), (4,), dp.int32),
    (lambda: dp.randint(0, 5, (4,), dtype=dp.float32), (4,), dp.float32),
    (lambda: dp.randperm(5), (5,), dp.int64),
    (lambda: dp.randperm(0), (0,), dp.int64),
    (lambda: dp.rand_like(dp.zeros(2, 3, dtype=dp.float64)), (2, 3), dp.float64),
    (lambda: dp.randn_like(dp.zeros(3)), (3,), dp.float32),
    (lambda: dp.randint_like(dp.zeros(2, dtype=dp.int32), 10), (2,), dp.int32),
    (lambda: dp.randint_like(dp.zeros(2), 3, 10), (2,), dp.float32),
    (lambda: dp.normal(0.0, 1.0, (3, 2)), (3, 2), dp.float32),
    (lambda: dp.normal(dp.zeros(3, 1, dtype=dp.float64), dp.ones(2)), (3, 2), dp.float64),
    (lambda: dp.normal(dp.zeros(3), 2.0), (3,), dp.float32),
    (lambda: dp.normal(1.0, dp.ones(2, 2)), (2, 2), dp.float32),
    (lambda: dp.bernoulli(dp.full((2, 3), 0.3, dtype=dp.float64)), (2, 3), dp.float64),
    (lambda: dp.bernoulli(dp.zeros(4), p=0.5), (4,), dp.float32),
    (lambda: dp.zeros(2, 2).bernoulli(), (2, 2), dp.float32),
    (lambda: dp.multinomial(dp.ones(2, 5), 3), (2, 3), dp.int64),
    (lambda: dp.ones(4).multinomial(6, replacement=True), (6,), dp.int64),
    (lambda: dp.poisson(dp.full((3,), 2.0)), (3,), dp.float32),
])
def test_shapes_and_dtypes(make, shape, dtype):
    t = make()
    assert tuple(t.shape) == shape and t.dtype is dtype and not t.requires_grad


def test_requires_grad_and_device():
    assert dp.rand(2, requires_grad=True).requires_grad
    assert dp.randn(2, requires_grad=True).is_leaf
    if not dp.cuda.is_available():
        with pytest.raises(RuntimeError, match="not available"):
            dp.rand(2, device="cuda")
    with pytest.raises(RuntimeError, match="floating point"):
        dp.rand(2, dtype=dp.int64)


# --- values and moments (fixed seed) ---------------------------------------------------------

N = 20000


def _moments(t):
    a = np_(t).astype(np.float64)
    return a.mean(), a.var()


@pytest.mark.parametrize("make,mean,var,lo,hi", [
    (lambda g: dp.rand(N, generator=g), 0.5, 1 / 12, 0, 1),
    (lambda g: dp.rand(N, generator=g, dtype=dp.float64), 0.5, 1 / 12, 0, 1),
    (lambda g: dp.randn(N, generator=g), 0.0, 1.0, None, None),
    (lambda g: dp.normal(2.0, 3.0, (N,), generator=g), 2.0, 9.0, None, None),
    (lambda g: dp.normal(dp.full((N,), -1.0), dp.full((N,), 0.5), generator=g), -1.0, 0.25, None, None),
    (lambda g: dp.randint(3, 7, (N,), generator=g), 4.5, 1.25, 3, 6),
    (lambda g: dp.bernoulli(dp.full((N,), 0.25), generator=g), 0.25, 0.1875, 0, 1),
    (lambda g: dp.poisson(dp.full((N,), 3.0), generator=g), 3.0, 3.0, 0, None),
    (lambda g: dp.empty(N).uniform_(-2, 4, generator=g), 1.0, 3.0, -2, 4),
    (lambda g: dp.empty(N, dtype=dp.float64).normal_(5, 2, generator=g), 5.0, 4.0, None, None),
    (lambda g: dp.empty(N).exponential_(2.0, generator=g), 0.5, 0.25, 0, None),
    (lambda g: dp.empty(N).geometric_(0.5, generator=g), 2.0, 2.0, 1, None),
    (lambda g: dp.empty(N).bernoulli_(0.7, generator=g), 0.7, 0.21, 0, 1),
    (lambda g: dp.empty(N, dtype=dp.int64).random_(0, 10, generator=g), 4.5, 8.25, 0, 9),
    (lambda g: dp.empty(N, dtype=dp.int64).random_(10, generator=g), 4.5, 8.25, 0, 9),
    (lambda g: dp.empty(N).log_normal_(0.0, 0.5, generator=g), np.exp(0.125),
     (np.exp(0.25) - 1) * np.exp(0.25), 0, None),
])
def test_moments(make, mean, var, lo, hi):
    t = make(dp.Generator().manual_seed(2024))
    m, v = _moments(t)
    assert abs(m - mean) < 4 * np.sqrt(var / N) + 1e-12, (m, mean)
    assert abs(v - var) < 0.05 * var, (v, var)
    a = np_(t)
    if lo is not None:
        assert a.min() >= lo
    if hi is not None:
        assert a.max() <= hi


def test_rand_is_in_unit_interval_in_every_dtype():
    for dtype in (dp.float16, dp.float32, dp.float64):
        a = np_(dp.rand(5000, dtype=dtype, generator=dp.Generator().manual_seed(1)))
        assert a.min() >= 0 and a.max() < 1


def test_randint_bounds_and_errors():
    a = np_(dp.randint(5, (1000,), generator=dp.Generator().manual_seed(0)))
    assert set(a.tolist()) == {0, 1, 2, 3, 4}
    with pytest.raises(RuntimeError):
        dp.randint(5, 5, (3,))


def test_randperm_is_permutation():
    p = np_(dp.randperm(50, generator=dp.Generator().manual_seed(0)))
    assert sorted(p.tolist()) == list(range(50)) and not np.array_equal(p, np.arange(50))


def test_multinomial_without_replacement_distinct():
    g = dp.Generator().manual_seed(0)
    w = dp.tensor([[1.0, 0.0, 2.0, 3.0, 4.0], [5.0, 1.0, 1.0, 0.0, 1.0]])
    for _ in range(50):
        s = np_(dp.multinomial(w, 4, generator=g))
        for row, weights in zip(s, np_(w)):
            assert len(set(row.tolist())) == 4 and all(weights[row] > 0)
    s = np_(dp.multinomial(dp.ones(6), 6, generator=g))
    assert sorted(s.tolist()) == list(range(6))


def test_multinomial_frequencies():
    g = dp.Generator().manual_seed(1)
    s = np_(dp.multinomial(dp.tensor([0.1, 0.0, 0.6, 0.3]), N, replacement=True, generator=g))
    freq = np.bincount(s, minlength=4) / N
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.6, 0.3], atol=0.015)
    # without replacement, the first draw follows the weights too
    firsts = [int(np_(dp.multinomial(dp.tensor([1.0, 3.0]), 1, generator=g))[0]) for _ in range(2000)]
    assert abs(np.mean(firsts) - 0.75) < 0.04


@pytest.mark.parametrize("weights,n,replacement,match", [
    ([1.0, 0.0, 0.0], 2, False, "not enough"),
    ([1.0, 2.0], 3, False, "n_sample > prob_dist"),
    ([1.0, -1.0], 1, True, "element < 0"),
    ([0.0, 0.0], 1, True, "sum of probabilities"),
])
def test_multinomial_errors(weights, n, replacement, match):
    with pytest.raises(RuntimeError, match=match):
        dp.multinomial(dp.tensor(weights), n, replacement)


def test_bernoulli_tensor_probabilities():
    g = dp.Generator().manual_seed(0)
    p = dp.tensor([0.0, 1.0, 0.0, 1.0])
    assert np_(dp.bernoulli(p, generator=g)).tolist() == [0.0, 1.0, 0.0, 1.0]
    x = dp.zeros(4).bernoulli_(p, generator=g)
    assert np_(x).tolist() == [0.0, 1.0, 0.0, 1.0]
    with pytest.raises(RuntimeError):
        dp.bernoulli(dp.tensor([1.5]))


# --- in-place fills ---------------------------------------------------------------------------

@pytest.mark.parametrize("fill", [
    lambda t: t.uniform_(), lambda t: t.normal_(0, 1), lambda t: t.exponential_(),
    lambda t: t.bernoulli_(0.5), lambda t: t.random_(0, 5), lambda t: t.cauchy_(),
])
@pytest.mark.parametrize("dtype", [dp.float32, dp.float64, dp.float16])
def test_inplace_fill_keeps_tensor(fill, dtype):
    t = dp.zeros(3, 4, dtype=dtype)
    data, version = t._data, t._version
    assert fill(t) is t
    assert t.dtype is dtype and t._data is data and t._version == version + 1
    assert np.any(np_(t) != 0)


def test_inplace_fill_autograd_rules():
    w = dp.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.uniform_()
    with dp.no_grad():
        w.uniform_(-1, 1)
    assert w.requires_grad and w.is_leaf and np.all(np.abs(np_(w)) <= 1)
    # through a view: the base's storage changes
    base = dp.zeros(2, 3)
    with dp.no_grad():
        base.view(6).normal_()
    assert np.all(np_(base) != 0)
    # a non-leaf overwritten with noise passes no gradient back
    x = dp.ones(3, requires_grad=True)
    y = x * 2
    y.uniform_()
    (y * 3).sum().backward()
    assert x.grad is None or not np.any(np_(x.grad))


def test_random_defaults_and_int_fills():
    g = dp.Generator().manual_seed(0)
    f = np_(dp.empty(1000).random_(generator=g))
    assert f.min() >= 0 and f.max() <= 2**24 and np.all(f == np.round(f)) and f.max() > 2**20
    b = np_(dp.empty(100, dtype=dp.bool).random_(generator=g))
    assert set(b.tolist()) == {False, True}
    u = np_(dp.empty(1000, dtype=dp.uint8).random_(generator=g))
    assert u.max() > 200
    with pytest.raises(RuntimeError):
        dp.zeros(2, dtype=dp.int64).uniform_()
    with pytest.raises(RuntimeError):
        dp.zeros(2).uniform_(1, 0)
    with pytest.raises(RuntimeError):
        dp.zeros(2).normal_(0, -1)


# --- cuda / backends ---------------------------------------------------------------------------

@pytest.mark.skipif(os.environ.get("DIFFPROG_FAKE_GPU") == "1", reason="the CPU stand-in is a GPU")
def test_cuda_module():
    import importlib.util
    has_gpu = importlib.util.find_spec("cupy") is not None and dp.cuda.device_count() > 0
    assert dp.cuda.is_available() is has_gpu
    dp.cuda.manual_seed(0)
    dp.cuda.manual_seed_all(0)
    dp.cuda.synchronize()
    if not has_gpu:
        assert dp.cuda.device_count() == 0
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            dp.cuda.current_device()


def test_backends_flags():
    cudnn = dp.backends.cudnn
    old = cudnn.deterministic, cudnn.benchmark, cudnn.enabled
    cudnn.deterministic, cudnn.benchmark, cudnn.enabled = True, False, True
    assert dp.backends.cudnn.deterministic is True
    cudnn.deterministic, cudnn.benchmark, cudnn.enabled = old
    assert dp.backends.mps.is_available() is False
    dp.backends.cuda.matmul.allow_tf32 = True
    assert dp.backends.cuda.matmul.allow_tf32
    dp.backends.cuda.matmul.allow_tf32 = False


@pytest.mark.parametrize("make", [lambda: dp.randn(-1), lambda: dp.rand(2, -3), lambda: dp.randint(0, 5, (-2,)),
                                  lambda: dp.normal(0.0, 1.0, (2, -1)), lambda: dp.zeros(2, -3),
                                  lambda: dp.ones((-1,)), lambda: dp.empty(-4), lambda: dp.full((2, -3), 1.0)])
def test_negative_sizes_name_the_op(make):
    """PyTorch's message with the op's name (it was NumPy's "negative dimensions are not allowed")."""
    with pytest.raises(RuntimeError, match=r"^\w+: Trying to create tensor with negative dimension -\d: \["):
        make()
