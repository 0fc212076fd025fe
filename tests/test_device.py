"""Tensors on a second array library: the device seam, proved on the CPU.

`gpu` puts `_array.fake_gpu` (a strict CPU stand-in for CuPy: NumPy calls dispatch to it,
and mixing it with host arrays raises) behind 'cuda', so these tests run everywhere and
fail wherever an op or a utility leaves its inputs' device.  On a machine with CuPy and a
GPU the same tests run on the GPU (DIFFPROG_TEST_REAL_GPU=1).  The op-by-op proof is the
oracle suite run with DIFFPROG_TEST_DEVICE=cuda (see .ci/run).
"""
import io
import os

import numpy as np
import pytest

import diffprog as dp
import diffprog.nn as nn
import diffprog.nn.functional as F
from diffprog._array import device as devices


@pytest.fixture
def gpu():
    if os.environ.get("DIFFPROG_TEST_REAL_GPU") == "1":
        if devices.library("cuda") is None:
            pytest.skip("no GPU")
        yield "cuda"
        return
    devices.library("cuda")             # the lazy lookup first, so that `old` is what it finds
    old = devices.use_library("cuda", devices.fake_gpu_library())
    try:
        yield "cuda"
    finally:
        devices.use_library("cuda", old)
        dp.set_default_device(None)


def on_gpu(t):
    return t.device.type == "cuda" and devices.is_device_array(t._data)


def test_moves_and_device_attributes(gpu):
    assert dp.cuda.is_available() and dp.cuda.device_count() >= 1
    x = dp.arange(6.0).reshape(2, 3)
    y = x.cuda()
    assert on_gpu(y) and y.is_cuda and y.get_device() == 0 and str(y.device) == "cuda:0"
    assert y.to("cuda") is y and x.to("cpu") is x
    assert y.to(gpu, dp.float64).dtype == dp.float64 and on_gpu(y.double())
    back = y.cpu()
    assert back.device == dp.device("cpu") and not back.is_cuda and back.get_device() == -1
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert y.tolist() == x.tolist() and y[1, 2].item() == 5.0
    assert repr(y) == "tensor([[0., 1., 2.],\n        [3., 4., 5.]], device='cuda:0')" and "device" not in repr(x)
    with pytest.raises(TypeError, match="cuda:0 device type tensor to numpy"):
        y.numpy()
    with pytest.raises(TypeError, match="Tensor.cpu()"):
        np.asarray(y)


def test_factories_take_the_device(gpu):
    for t in (dp.zeros(2, 3, device=gpu), dp.ones(2, device="cuda:0"), dp.full((2,), 7.0, device=gpu),
              dp.arange(5, device=gpu), dp.eye(3, device=gpu), dp.tensor([1.0, 2.0], device=gpu),
              dp.randn(4, device=gpu), dp.rand(4, device=gpu), dp.randint(0, 5, (3,), device=gpu),
              dp.linspace(0, 1, 5, device=gpu)):
        assert on_gpu(t), t
    y = dp.ones(3, device=gpu)
    for t in (dp.zeros_like(y), dp.ones_like(y), dp.rand_like(y), dp.randn_like(y), y.new_zeros(2),
              y.new_full((2,), 3.0), y.new_ones(1)):
        assert on_gpu(t), t
    assert not on_gpu(dp.zeros_like(y, device="cpu"))


def test_the_default_device(gpu):
    dp.set_default_device(gpu)
    assert dp.get_default_device() == dp.device("cuda")
    assert on_gpu(dp.zeros(2)) and on_gpu(dp.tensor([1.0])) and on_gpu(dp.randn(2))
    dp.set_default_device("cpu")
    assert not on_gpu(dp.zeros(2))


def test_random_numbers_are_the_same_on_every_device(gpu):
    dp.manual_seed(3)
    a = dp.randn(5)
    dp.manual_seed(3)
    b = dp.randn(5, device=gpu)
    np.testing.assert_array_equal(a.numpy(), b.cpu().numpy())


def test_gradients_flow_across_devices(gpu):
    x = dp.tensor([1.0, -2.0, 3.0], dtype=dp.float64, requires_grad=True)
    y = (x.cuda() * x.cuda()).sin().sum()
    assert on_gpu(y)
    y.backward()
    assert x.grad.device == dp.device("cpu")
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() * np.cos(x.detach().numpy() ** 2))
    (g,) = dp.autograd.grad((x.cuda() ** 3).sum(), x, create_graph=True)
    (gg,) = dp.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.detach().numpy())


def test_mixing_devices_names_the_op_and_both_devices(gpu):
    with pytest.raises(RuntimeError, match="add: Expected all tensors to be on the same device.*cpu and cuda:0"):
        dp.ones(2) + dp.ones(2, device=gpu)
    with pytest.raises(RuntimeError, match="matmul: Expected all tensors"):
        dp.ones(2, 2, device=gpu) @ dp.ones(2, 2)


def test_repr_names_the_device_as_torch(gpu):
    x = dp.tensor([1.0, 2.0], device=gpu)
    assert repr(x) == "tensor([1., 2.], device='cuda:0')"
    assert repr(dp.zeros(0, 3, device=gpu)) == "tensor([], device='cuda:0', size=(0, 3))"
    assert repr(x.double().requires_grad_()) == "tensor([1., 2.], device='cuda:0', dtype=diffprog.float64, requires_grad=True)"


def test_the_stand_in_refuses_what_cupy_lacks():
    """The stand-in is as strict as CuPy about NumPy's and SciPy's functions, so that an op
    using one of those CuPy lacks fails here rather than only on a GPU."""
    from diffprog._array import fake_gpu
    a = fake_gpu.from_host(np.ones(3))
    with pytest.raises(TypeError, match="CuPy has no such function"):
        np.linalg.vector_norm(a)
    with pytest.raises(AttributeError, match="CuPy has no scipy.special.airy"):
        fake_gpu.special().airy
    assert isinstance(fake_gpu.special().ndtr(a), fake_gpu.FakeGPUArray)
    with pytest.raises(TypeError):          # a ufunc that is not NumPy's own
        np.frompyfunc(abs, 1, 1)(a)
    with pytest.raises(TypeError, match="takes no argument 'where'"):
        np.log(a, where=a > 0)
    with pytest.raises(TypeError, match="takes no argument 'device'"):
        np.ones(3, like=a)                  # NumPy 2 passes device=None on
    with pytest.raises(TypeError, match="no list or tuple operand"):
        np.add(a, [1.0, 2.0, 3.0])
    with pytest.raises(NotImplementedError, match="maximum.accumulate"):
        np.maximum.accumulate(a)
    assert isinstance(np.add.accumulate(a), fake_gpu.FakeGPUArray)


def test_functions_cupy_lacks_still_run_on_the_device(gpu):
    x = dp.tensor([-1.0, 0.5, 3.0], device=gpu)
    for f in (dp.special.airy_ai, lambda t: dp.linalg.vector_norm(t, 3), lambda t: t.cummax(0).values,
              lambda t: t.logcumsumexp(0)):
        y = f(x)
        assert on_gpu(y) and np.allclose(y.cpu().numpy(), f(x.cpu()).numpy())


def test_a_0_dim_cpu_tensor_joins_an_op_on_the_device(gpu):
    """As PyTorch: `x_cuda * torch.tensor(2.)` runs on the device (a CPU scalar tensor is an
    operand like a Python number); its gradient comes back to the CPU."""
    x = dp.tensor([1.0, -2.0, 3.0], dtype=dp.float32, device=gpu, requires_grad=True)
    s = dp.tensor(2.0, dtype=dp.float64, requires_grad=True)
    y = x * s
    assert on_gpu(y) and y.dtype == dp.float32         # a 0-d operand does not promote
    y.pow(2).sum().backward()
    assert on_gpu(x.grad) and s.grad.device == dp.device("cpu") and not on_gpu(s.grad)
    np.testing.assert_allclose(x.grad.cpu().numpy(), 8 * np.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(s.grad.numpy(), 2 * 2.0 * 14.0)
    assert on_gpu(dp.where(x > 0, x, dp.tensor(0.0))) and on_gpu(dp.tensor(3.0, device=gpu) + dp.tensor(1.0))
    z = x.detach().clone()
    z.mul_(dp.tensor(3.0))
    z += dp.tensor(1.0)
    assert on_gpu(z)
    np.testing.assert_array_equal(z.cpu().numpy(), [4.0, -5.0, 10.0])
    with pytest.raises(RuntimeError, match="mul: Expected all tensors to be on the same device"):
        x * dp.ones(1)                      # only 0-d CPU tensors may join
    with pytest.raises(RuntimeError, match="add: Expected all tensors to be on the same device"):
        dp.ones(3) + dp.tensor(1.0, device=gpu)     # and not the other way round


def test_transforms_run_on_the_device(gpu):
    from diffprog import func
    w = dp.randn(3, 4, dtype=dp.float64, device=gpu)
    xs = dp.randn(5, 4, dtype=dp.float64, device=gpu)
    per_sample = func.vmap(func.grad(lambda w, x: (w @ x).tanh().sum()), in_dims=(None, 0))(w, xs)
    assert on_gpu(per_sample) and per_sample.shape == (5, 3, 4)
    loop = [func.grad(lambda w, x: (w @ x).tanh().sum())(w, x) for x in xs]
    np.testing.assert_allclose(per_sample.cpu().numpy(), np.stack([g.cpu().numpy() for g in loop]))
    _, tangent = func.jvp(lambda x: x.exp(), (xs,), (dp.ones_like(xs),))
    assert on_gpu(tangent)


class _Net(nn.Module):
    """A small CNN with the course's layers: conv, batch norm, ReLU, pooling, dropout,
    linear, and an LSTM-free head (cross entropy)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2)
        self.fc = nn.Linear(6 * 3 * 3, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        x = F.gelu(self.conv2(x))
        return self.fc(F.dropout(x.flatten(1), 0.0, self.training))


def _train(device, dtype=dp.float64, steps=3):
    dp.manual_seed(0)
    model = _Net().to(dtype).to(device)
    opt = dp.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    dp.manual_seed(1)
    x, y = dp.randn(8, 1, 14, 14, dtype=dtype), dp.randint(0, 5, (8,))
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, opt, losses


@pytest.mark.parametrize("dtype, rtol", [(dp.float64, 1e-10), (dp.float32, 1e-4)])
def test_a_training_step_on_the_device_equals_the_cpu(gpu, dtype, rtol):
    """In float32 the CPU side runs the numba kernels (GELU, Adam) where numba is installed,
    the device its library's path."""
    cpu_model, _, cpu_losses = _train("cpu", dtype)
    gpu_model, opt, gpu_losses = _train(gpu, dtype)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=rtol)
    for (name, a), b in zip(cpu_model.state_dict().items(), gpu_model.state_dict().values()):
        assert on_gpu(b), name
        np.testing.assert_allclose(b.cpu().numpy(), a.numpy(), rtol=10 * rtol, atol=10 * rtol,
                                   err_msg=name)
    assert all(on_gpu(v) for s in opt.state.values() for k, v in s.items() if k != "step" and
               isinstance(v, dp.Tensor))


def test_saving_device_tensors_and_loading_them_back(gpu):
    model, _, _ = _train(gpu, steps=1)
    buf = io.BytesIO()
    dp.save(model.state_dict(), buf)
    buf.seek(0)
    on_cpu = dp.load(buf)
    assert all(t.device.type == "cpu" for t in on_cpu.values())
    buf.seek(0)
    moved = dp.load(buf, map_location=gpu)
    assert all(on_gpu(t) for t in moved.values())
    fresh = _Net().double().cuda()
    fresh.load_state_dict(on_cpu)
    for name, t in fresh.state_dict().items():
        assert on_gpu(t), name
        np.testing.assert_array_equal(t.cpu().numpy(), on_cpu[name].numpy())


def test_dataloader_batches_move_to_the_device(gpu):
    from diffprog.utils.data import DataLoader, TensorDataset
    data = TensorDataset(dp.randn(10, 3), dp.arange(10))
    for workers in (0, 2):
        for x, y in DataLoader(data, batch_size=4, pin_memory=True, num_workers=workers):
            assert x.is_pinned() and y.is_pinned()
            x, y = x.to(gpu, non_blocking=True), y.cuda(non_blocking=True)
            assert on_gpu(x) and on_gpu(y) and x.shape[1] == 3
    assert not any(t.is_pinned() for b in DataLoader(data, batch_size=4) for t in b)
    dicts = DataLoader([{"x": dp.ones(2), "name": "a"}] * 4, batch_size=2, pin_memory=True)
    assert all(b["x"].is_pinned() and b["name"] == ["a", "a"] for b in dicts)


@pytest.fixture
def no_gpu():
    """No accelerator, as on PyTorch's CPU build."""
    old = devices.use_library("cuda", None)
    try:
        yield
    finally:
        devices.use_library("cuda", old)


def test_pinned_memory_without_an_accelerator_is_pytorchs(no_gpu):
    """Tensor.pin_memory() and pin_memory=True raise, DataLoader(pin_memory=True) warns and
    yields unpinned batches: with PyTorch's messages (compared with the installed torch
    where it has no accelerator either)."""
    from diffprog.utils.data import DataLoader, TensorDataset
    x = dp.ones(3)
    assert not x.is_pinned() and x.to("cpu", non_blocking=True) is x
    messages = []
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available") as e:
        x.pin_memory()
    messages.append(str(e.value))
    for make in (lambda: dp.zeros(2, pin_memory=True), lambda: dp.tensor([1.0], pin_memory=True),
                 lambda: dp.randn(2, pin_memory=True), lambda: dp.arange(3, pin_memory=True),
                 lambda: dp.eye(2, pin_memory=True), lambda: dp.zeros_like(x, pin_memory=True),
                 lambda: dp.randn_like(x, pin_memory=True)):
        with pytest.raises(RuntimeError, match="pin_memory=True requires a CUDA or other accelerator") as e:
            make()
    messages.append(str(e.value))
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator") as w:
        batches = list(DataLoader(TensorDataset(dp.arange(6.0)), batch_size=2, pin_memory=True))
    messages.append(str(w[0].message))
    assert len(batches) == 3 and not any(b[0].is_pinned() for b in batches)

    torch = pytest.importorskip("torch")
    if torch.accelerator.is_available():
        return
    from torch.utils.data import DataLoader as TorchLoader
    theirs = []
    for f in (lambda: torch.ones(3).pin_memory(), lambda: torch.randn(2, pin_memory=True)):
        with pytest.raises(RuntimeError) as e:
            f()
        theirs.append(str(e.value))
    with pytest.warns(UserWarning) as w:
        list(TorchLoader(torch.arange(6.0), batch_size=2, pin_memory=True))
    theirs.append(str(w[0].message))
    assert messages == theirs


def test_pinned_memory_on_the_device(gpu):
    """pin_memory copies to page-locked host memory (views stay pinned, results of ops are
    fresh memory), passes gradients through, and feeds non-blocking copies."""
    x = dp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p = x.pin_memory()
    assert p.is_pinned() and not x.is_pinned() and p.device == dp.device("cpu")
    assert p.pin_memory() is p and p[1:].is_pinned() and p.detach().is_pinned() and not (p + 1).is_pinned()
    (p * p).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    y = p.to(gpu, non_blocking=True)
    assert on_gpu(y) and not y.is_pinned()
    np.testing.assert_array_equal(y.detach().cpu().numpy(), [1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="cannot pin 'torch.cuda.FloatTensor' only dense CPU tensors"):
        y.pin_memory()
    for t in (dp.zeros(2, pin_memory=True), dp.empty(2, pin_memory=True), dp.tensor([1], pin_memory=True),
              dp.randint(0, 3, (2,), pin_memory=True), dp.arange(3, pin_memory=True),
              dp.linspace(0, 1, 3, pin_memory=True), dp.logspace(0, 1, 3, pin_memory=True),
              dp.eye(2, pin_memory=True), dp.scalar_tensor(1.0, pin_memory=True),
              dp.ones_like(x, pin_memory=True), dp.full_like(x, 2.0, pin_memory=True),
              dp.empty_like(x, pin_memory=True), dp.rand_like(x, pin_memory=True),
              dp.randint_like(x, 3, pin_memory=True)):
        assert t.is_pinned() and t.device == dp.device("cpu")
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        dp.ones(2, device=gpu, pin_memory=True)
    with pytest.warns(DeprecationWarning, match="The argument 'device' of Tensor.is_pinned"):
        assert p.is_pinned("cuda")
    packed = nn.utils.rnn.pack_sequence([dp.ones(3), dp.ones(2)], enforce_sorted=False)
    assert not packed.is_pinned() and packed.pin_memory().is_pinned()


def test_trial_runs_on_the_device(gpu):
    from diffprog.train import Trial
    from diffprog.utils.data import DataLoader, TensorDataset
    dp.manual_seed(0)
    data = TensorDataset(dp.randn(32, 6), dp.randint(0, 3, (32,)))
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    trial = Trial(model, dp.optim.SGD(model.parameters(), 0.1, momentum=0.9), nn.CrossEntropyLoss(),
                  metrics=["loss", "accuracy"], verbose=0).to(gpu)
    trial.with_generators(DataLoader(data, batch_size=8), val_generator=DataLoader(data, batch_size=8))
    history = trial.run(epochs=2)
    assert all(on_gpu(p) for p in model.parameters())
    assert history[-1]["loss"] < history[0]["loss"] and 0 <= history[-1]["val_acc"] <= 1
