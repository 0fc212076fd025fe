"""Forward mode (dual tensors) and its compositions with reverse mode, against PyTorch."""
import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp
from diffprog import autograd
from diffprog.autograd import forward_ad as fw

tfw = torch.autograd.forward_ad


def close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


def f(x):
    return (x.exp() * x.sin()).tanh() / (x * x + 1)


def test_make_and_unpack_dual():
    x, v = rand(2, 3), rand(2, 3, seed=1)
    with fw.dual_level():
        d = fw.make_dual(dp.tensor(x), dp.tensor(v))
        primal, tangent = fw.unpack_dual(d)
        np.testing.assert_array_equal(primal.numpy(), x)
        np.testing.assert_array_equal(tangent.numpy(), v)
        assert fw.unpack_dual(primal).tangent is None
        assert fw.unpack_dual(dp.tensor(x)).tangent is None
        y = d * 2
        assert fw.unpack_dual(y).tangent is not None
    assert fw.unpack_dual(d).tangent is None and fw.unpack_dual(y).tangent is None


def test_dual_errors():
    with pytest.raises(RuntimeError, match="dual level"):
        fw.make_dual(dp.tensor([1.0]), dp.tensor([1.0]))
    with fw.dual_level():
        with pytest.raises(RuntimeError, match="shape"):
            fw.make_dual(dp.tensor([1.0]), dp.tensor([1.0, 2.0]))
        with pytest.raises(ValueError, match="floating point"):
            fw.make_dual(dp.tensor([1]), dp.tensor([1.0]))
        with pytest.raises(RuntimeError, match="Nested"):
            with fw.dual_level():
                pass
    with fw.dual_level():        # a level can be opened again after the first closed
        pass


def test_tangent_dtype_follows_primal():
    with fw.dual_level():
        d = fw.make_dual(dp.tensor([1.0, 2.0], dtype=dp.float64), dp.tensor([1.0, 0.0]))
        assert fw.unpack_dual(d).tangent.dtype == dp.float64


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_jvp_of_composite_function(shape):
    check(f, f, rand(*shape), grad=False)
    check(f, f, rand(*shape, dtype=np.float32), grad=False)


def test_jvp_with_broadcasting_and_constants():
    check(lambda a, b: (a * b + 2.0).sum(1), lambda a, b: (a * b + 2.0).sum(1), rand(3, 1), rand(1, 4))
    x, v = rand(3), rand(3, seed=2)
    c = rand(3, seed=3)
    with fw.dual_level():
        y = fw.make_dual(dp.tensor(x), dp.tensor(v)) * dp.tensor(c)   # c carries no tangent
        t = fw.unpack_dual(y).tangent
    with tfw.dual_level():
        ty = tfw.make_dual(torch.tensor(x), torch.tensor(v)) * torch.tensor(c)
        tt = tfw.unpack_dual(ty).tangent
    close(t, tt)


def test_inplace_updates_tangent():
    x, v = rand(3), rand(3, seed=2)
    with fw.dual_level():
        d = fw.make_dual(dp.tensor(x), dp.tensor(v))
        y = d * 1.0
        y.mul_(d.sin())
        y.exp_()
        t = fw.unpack_dual(y).tangent
    with tfw.dual_level():
        td = tfw.make_dual(torch.tensor(x), torch.tensor(v))
        ty = td * 1.0
        ty.mul_(td.sin())
        ty.exp_()
        tt = tfw.unpack_dual(ty).tangent
    close(t, tt)
    with fw.dual_level():       # y *= y: d(y^2) = 2 y dy (PyTorch's aliasing formula differs)
        y = fw.make_dual(dp.tensor(x), dp.tensor(v)) * 1.0
        y.mul_(y)
        np.testing.assert_allclose(fw.unpack_dual(y).tangent.numpy(), 2 * x * v)


def test_forward_over_reverse_gives_hessian_vector_product():
    x, v = rand(4), rand(4, seed=5)
    with fw.dual_level():
        xd = fw.make_dual(dp.tensor(x), dp.tensor(v)).requires_grad_()
        g, = autograd.grad(f(xd).sum(), xd)
        hv = fw.unpack_dual(g).tangent
    with tfw.dual_level():
        txd = tfw.make_dual(torch.tensor(x), torch.tensor(v)).requires_grad_()
        tg, = torch.autograd.grad(f(txd).sum(), txd)
        thv = tfw.unpack_dual(tg).tangent
    close(hv, thv)


def test_reverse_over_forward():
    x, v = rand(3), rand(3, seed=6)
    xt, txt = dp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with fw.dual_level():
        t = fw.unpack_dual(f(fw.make_dual(xt, dp.tensor(v)))).tangent
        assert t.requires_grad
        g, = autograd.grad(t.sum(), xt)
    with tfw.dual_level():
        tt = tfw.unpack_dual(f(tfw.make_dual(txt, torch.tensor(v)))).tangent
        tg, = torch.autograd.grad(tt.sum(), txt)
    close(g, tg)


def test_saved_output_tangent_is_not_reused_in_a_later_level():
    x0 = dp.tensor(rand(3), requires_grad=True)
    with fw.dual_level():
        y = fw.make_dual(x0, dp.tensor(rand(3, seed=1))).exp()    # ExpBackward saves its output
    with fw.dual_level():
        g, = autograd.grad(y.sum(), x0, retain_graph=True)
        assert fw.unpack_dual(g).tangent is None
    close(g, x0.detach().exp())


def test_function_jvp_and_custom_composition():
    class Square(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * g * x

        @staticmethod
        def jvp(ctx, dx):
            x, = ctx.saved_tensors
            return 2 * x * dx

    check(lambda a: Square.apply(a.sin()).exp(), lambda a: (a.sin() ** 2).exp(), rand(5))
