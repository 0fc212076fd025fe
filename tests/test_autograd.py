"""Reverse-mode engine behaviour, custom Functions, autograd.functional, gradcheck and
anomaly detection, compared with PyTorch where it applies."""
import gc
import time
import warnings
import weakref

import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp
from diffprog import autograd
from diffprog.autograd import Function
from diffprog.autograd.forward_ad import dual_level, make_dual, unpack_dual


def both(values, requires_grad=True):
    """The same float64 data as a diffprog and a torch tensor."""
    a = np.asarray(values, dtype=np.float64)
    return (dp.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad))


def close(a, b, **kw):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, **kw)


# --- the engine --------------------------------------------------------------------------

def test_course_example():
    x = dp.tensor(0.5, requires_grad=True)
    y = dp.tensor(4.2, requires_grad=True)
    z = x * y + dp.sin(x)
    z.backward()
    tx = torch.tensor(0.5, requires_grad=True)
    ty = torch.tensor(4.2, requires_grad=True)
    (tx * ty + torch.sin(tx)).backward()
    close(z, tx * ty + torch.sin(tx))
    close(x.grad, tx.grad)
    close(y.grad, ty.grad)
    assert x.grad.dtype == dp.float32 and abs(x.grad.item() - (4.2 + np.cos(0.5))) < 1e-6


def test_inplace_on_saved_output_raises():
    x = dp.tensor([0.5, -1.0], requires_grad=True)
    y = x.tanh()
    y.add_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    tx = torch.tensor([0.5, -1.0], requires_grad=True)
    ty = tx.tanh()
    ty.add_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()


def test_inplace_on_saved_input_raises_and_leaf_inplace_raises():
    x = dp.tensor([0.5, 2.0], requires_grad=True)
    a = x * 1.0
    y = a * a
    a.mul_(2)
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with dp.no_grad():
        x.add_(1)                # allowed without recording, like an optimizer step
    np.testing.assert_allclose(x.detach().numpy(), [1.5, 3.0])


def test_grad_accumulates_over_backwards():
    x, tx = both([1.0, -2.0, 3.0])
    for _ in range(2):
        (x * x).sum().backward()
        (tx * tx).sum().backward()
    close(x.grad, tx.grad)
    close(x.grad, 4 * x.detach())
    x.grad = None
    (x.exp()).sum().backward()
    close(x.grad, x.detach().exp())


def test_grad_accumulates_in_place_as_pytorch():
    """A second backward adds into the same .grad tensor (its version moves on), as PyTorch's
    AccumulateGrad does without create_graph; with create_graph the sum is a new tensor."""
    for lib in (dp, torch):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        (x * 3).sum().backward()
        first, version = x.grad, x.grad._version
        (x * 3).sum().backward()
        assert x.grad is first and x.grad._version == version + 1
        assert x.grad.tolist() == [6.0, 6.0]
        (x * x).sum().backward(create_graph=True)
        assert x.grad is not first and first.tolist() == [6.0, 6.0]


def test_nodes_run_newest_first_whatever_the_edge_order():
    """A node runs only after every consumer of its outputs, also when the graph's edges
    reach a shared node by paths of different lengths."""
    x, tx = both([0.5, -1.5])
    for a in (x, tx):
        h = a.exp()
        long = h
        for _ in range(5):
            long = long * 1.5
        (h.sin() + long + h).sum().backward()
    close(x.grad, tx.grad)


def test_second_backward_needs_retain_graph():
    x, tx = both([0.3, 0.4])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    z = (x.exp() * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    ty = (tx.exp() * tx).sum()
    ty.backward(retain_graph=True)
    ty.backward()
    ty = (tx.exp() * tx).sum()
    ty.backward()
    close(x.grad, tx.grad)


def test_backward_non_scalar():
    x, tx = both([[1.0, 2.0], [3.0, 4.0]])
    y, ty = x * x, tx * tx
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        y.backward()
    g = np.array([[1.0, -1.0], [0.5, 2.0]])
    y.backward(dp.tensor(g))
    ty.backward(torch.tensor(g))
    close(x.grad, tx.grad)
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(dp.ones(3, dtype=dp.float64))


def test_backward_of_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dp.tensor([1.0]).sum().backward()


def test_non_leaf_grad_and_retain_grad():
    x, tx = both([1.0, 2.0])
    h, th = x.exp(), tx.exp()
    r, tr = x.sin(), tx.sin()
    r.retain_grad()
    tr.retain_grad()
    assert r.retains_grad and not h.retains_grad
    (h * r).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (th * tr).sum().backward()
        assert th.grad is None
    assert h.grad is None
    close(r.grad, tr.grad)
    close(x.grad, tx.grad)
    assert x.is_leaf and not h.is_leaf and dp.tensor([1.0]).is_leaf


def test_hooks_on_leaf_and_non_leaf():
    x, tx = both([1.0, 2.0, 3.0])
    seen = []
    hl = x.register_hook(lambda g: g * 2)
    y = x * x
    hn = y.register_hook(lambda g: seen.append(g.clone()) or g + 1)
    y.sum().backward()
    tx.register_hook(lambda g: g * 2)
    ty = tx * tx
    ty.register_hook(lambda g: g + 1)
    ty.sum().backward()
    close(x.grad, tx.grad)
    close(seen[0], np.ones(3))
    hl.remove()
    hn.remove()
    x.grad = None
    y = x * x
    y.sum().backward()
    close(x.grad, 2 * x.detach())
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        dp.tensor([1.0]).register_hook(lambda g: g)


def test_hook_on_non_leaf_shared_by_two_consumers():
    x, tx = both([0.5, -1.5])
    y, ty = x.tanh(), tx.tanh()
    y.register_hook(lambda g: g * 3)
    ty.register_hook(lambda g: g * 3)
    (y * y + y.exp()).sum().backward()
    (ty * ty + ty.exp()).sum().backward()
    close(x.grad, tx.grad)


def test_grad_modes_as_context_and_decorator():
    x = dp.tensor([1.0], requires_grad=True)
    with dp.no_grad():
        assert not (x * 2).requires_grad and not dp.is_grad_enabled()
        with dp.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert dp.is_grad_enabled()
    with dp.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with dp.set_grad_enabled(True):
        assert (x * 2).requires_grad
    dp.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    dp.set_grad_enabled(True)
    with dp.inference_mode():
        assert not (x * 2).requires_grad and dp.is_inference_mode_enabled()
    with dp.inference_mode(False):
        assert (x * 2).requires_grad

    @dp.no_grad()
    def f(t):
        return t * 2

    @dp.enable_grad()
    def g(t):
        return t * 2

    @dp.inference_mode()
    def h(t):
        return t * 2

    assert not f(x).requires_grad and not h(x).requires_grad
    with dp.no_grad():
        assert g(x).requires_grad
    assert dp.is_grad_enabled()


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        dp.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        dp.tensor([1, 2], requires_grad=True)
    x = dp.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    assert not (x > 0).requires_grad          # comparisons are not differentiable


def test_detach_data_and_detach_():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    with dp.no_grad():
        d.add_(1)                              # shares storage with y
    np.testing.assert_allclose(y.detach().numpy(), [3.0, 5.0])
    data = x.data
    assert not data.requires_grad
    data.mul_(10)
    np.testing.assert_allclose(x.detach().numpy(), [10.0, 20.0])
    z = x * 3
    z.detach_()
    assert z.grad_fn is None and not z.requires_grad and z.is_leaf


def test_detached_inplace_invalidates_saved_tensor():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.detach().mul_(2)                          # same version counter as y
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()


def test_grad_fn_names_and_next_functions():
    x, tx = both([1.0, 2.0])
    w = dp.tensor([3.0, 4.0])
    y = x * w + x.exp()
    assert repr(y.grad_fn).startswith("<AddBackward0")
    mul_fn, exp_fn = (f for f, _ in y.grad_fn.next_functions)
    assert repr(mul_fn).startswith("<MulBackward0") and repr(exp_fn).startswith("<ExpBackward0")
    (acc, _), (none, _) = mul_fn.next_functions
    assert repr(acc).startswith("<AccumulateGrad") and acc.variable is x and none is None
    assert "grad_fn=<AddBackward0>" in repr(y)
    ty = tx * torch.tensor([3.0, 4.0], dtype=torch.float64) + tx.exp()
    assert type(ty.grad_fn).__name__ == "AddBackward0"
    assert x.grad_fn is None


def test_deep_chain_no_recursion_limit():
    x = dp.tensor([0.5, -0.5], requires_grad=True)
    y = x
    start = time.perf_counter()
    for _ in range(10_000):
        y = y * 1.0001 + 0.0001
    y.sum().backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(x.grad.numpy(), np.full(2, float(np.float32(1.0001)) ** 10_000), rtol=1e-4)
    assert elapsed < 10, f"10,000-op chain took {elapsed:.1f}s"


def test_deep_chain_double_backward():
    x = dp.tensor(0.3, dtype=dp.float64, requires_grad=True)
    y = x
    for _ in range(3000):
        y = (y * 0.999).sin()
    g, = autograd.grad(y, x, create_graph=True)
    gg, = autograd.grad(g, x)
    tx = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    ty = tx
    for _ in range(3000):
        ty = (ty * 0.999).sin()
    tg, = torch.autograd.grad(ty, tx, create_graph=True)
    tgg, = torch.autograd.grad(tg, tx)
    close(g, tg)
    close(gg, tgg)


def test_autograd_grad_higher_orders():
    x, tx = both([0.3, -1.2, 2.0])
    dps = [(x.sin() * x.exp()).sum()]
    tos = [(tx.sin() * tx.exp()).sum()]
    for _ in range(3):
        d, = autograd.grad(dps[-1], x, create_graph=True)
        t, = torch.autograd.grad(tos[-1], tx, create_graph=True)
        close(d, t)
        dps.append(d.sum())
        tos.append(t.sum())
    assert x.grad is None


def test_autograd_grad_options():
    x, tx = both([1.0, 2.0])
    u, tu = both([5.0, 6.0])
    y, ty = x * x, tx * tx
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad(y.sum(), [x, u], retain_graph=True)
    gx, gu = autograd.grad(y.sum(), [x, u], allow_unused=True, retain_graph=True)
    assert gu is None
    close(gx, 2 * x.detach())
    gx, gu = autograd.grad(y.sum(), [x, u], materialize_grads=True, retain_graph=True)
    close(gu, np.zeros(2))
    v = np.array([0.5, -2.0])
    g, = autograd.grad(y, x, grad_outputs=dp.tensor(v))
    tg, = torch.autograd.grad(ty, tx, grad_outputs=torch.tensor(v))
    close(g, tg)
    assert x.grad is None and not g.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * 2).sum(), dp.tensor([1.0]))


def test_autograd_grad_wrt_non_leaf_and_multiple_outputs():
    x, tx = both([0.7, 1.3])
    h, th = x.exp(), tx.exp()
    a, b = h * h, h.sin()
    ta, tb = th * th, th.sin()
    g = autograd.grad([a.sum(), b.sum()], [h, x])
    tg = torch.autograd.grad([ta.sum(), tb.sum()], [th, tx])
    for p, q in zip(g, tg):
        close(p, q)


def test_backward_inputs():
    x, tx = both([1.0, 2.0])
    w, tw = both([3.0, -1.0])
    (x * w).sum().backward(inputs=[w])
    (tx * tw).sum().backward(inputs=[tw])
    assert x.grad is None and tx.grad is None
    close(w.grad, tw.grad)
    (x * w).sum().backward(inputs=x)
    close(x.grad, w.detach())


def test_graph_memory_released_after_backward():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    ref = weakref.ref(y)
    z = (y * y).sum()
    node = z.grad_fn
    del y
    gc.collect()
    assert ref() is not None                  # kept alive by the multiplication's node
    z.backward()
    assert ref() is None                      # released with the graph
    assert node._freed
    w = x.exp()
    ref = weakref.ref(w)
    z = (w * w).sum()
    del w
    z.backward(retain_graph=True)
    assert ref() is not None and not z.grad_fn._freed


def test_shared_subgraph_gradient_sums():
    x, tx = both([0.4, 0.9])
    y, ty = x.tanh(), tx.tanh()
    (y * y.exp() + y.sin() - y).sum().backward()
    (ty * ty.exp() + ty.sin() - ty).sum().backward()
    close(x.grad, tx.grad)


def test_broadcast_gradients_reduce_to_input_shape():
    check(lambda a, b: a * b + a.exp(), lambda a, b: a * b + a.exp(), rand(3, 1), rand(1, 4, seed=3))
    check(lambda a, b: (a / b).sum(0), lambda a, b: (a / b).sum(0), rand(2, 3), rand(3, low=1, high=2))


# --- custom Functions ---------------------------------------------------------------------

class MyExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y

    @staticmethod
    def jvp(ctx, dx):
        y, = ctx.saved_tensors
        return dx * y


class ScaledMulAdd(Function):
    """(x * y * k, x + y) with a non-tensor argument k and two outputs."""

    @staticmethod
    def forward(ctx, x, k, y):
        ctx.save_for_backward(x, y)
        ctx.k = k
        return x * y * k, x + y

    @staticmethod
    def backward(ctx, g_prod, g_sum):
        x, y = ctx.saved_tensors
        gx = g_prod * y * ctx.k + g_sum if ctx.needs_input_grad[0] else None
        gy = g_prod * x * ctx.k + g_sum if ctx.needs_input_grad[2] else None
        return gx, None, gy

    @staticmethod
    def jvp(ctx, dx, dk, dy):
        x, y = ctx.saved_tensors
        return (dx * y + x * dy) * ctx.k, dx + dy


class TorchExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y


def test_function_matches_builtin():
    check(MyExp.apply, TorchExp.apply, rand(3, 2), jvp=False)
    check(MyExp.apply, torch.exp, rand(4))           # jvp via MyExp.jvp vs torch.exp


def test_function_graph_node():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    y = MyExp.apply(x)
    assert y.requires_grad and type(y.grad_fn).__name__ == "MyExp"
    assert "MyExpBackward0" in repr(y.grad_fn)
    assert y.grad_fn.next_functions[0][0].variable is x
    with dp.no_grad():
        assert not MyExp.apply(x).requires_grad
    assert not MyExp.apply(dp.tensor([1.0])).requires_grad
    with pytest.raises(RuntimeError, match="apply"):
        MyExp()


def test_function_double_backward():
    x, tx = both([0.2, -0.4])
    y, ty = MyExp.apply(x * x), TorchExp.apply(tx * tx)
    g, = autograd.grad(y.sum(), x, create_graph=True)
    tg, = torch.autograd.grad(ty.sum(), tx, create_graph=True)
    close(g, tg)
    gg, = autograd.grad(g.sum(), x)
    tgg, = torch.autograd.grad(tg.sum(), tx)
    close(gg, tgg)


def test_function_non_tensor_args_and_multiple_outputs():
    x, tx = both([1.0, 2.0])
    y, ty = both([0.5, -3.0])
    p, s = ScaledMulAdd.apply(x, 3.0, y)
    (p * s).sum().backward()
    (tx * ty * 3.0 * (tx + ty)).sum().backward()
    close(x.grad, tx.grad)
    close(y.grad, ty.grad)
    # only one output used: the other one's gradient arrives as zeros
    x.grad = y.grad = None
    p, s = ScaledMulAdd.apply(x, 2.0, y)
    s.sum().backward()
    close(x.grad, np.ones(2))
    # needs_input_grad: y does not require grad
    c = dp.tensor([4.0, 5.0], dtype=dp.float64)
    p, _ = ScaledMulAdd.apply(x, 1.0, c)
    g, = autograd.grad(p.sum(), x)
    close(g, c)


def test_function_saved_tensor_version_check():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1.0
    p, _ = ScaledMulAdd.apply(a, 1.0, x)
    a.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        p.sum().backward()
    y = MyExp.apply(x)
    y.mul_(2)               # y is the saved output
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()


def test_function_saved_tensors_freed():
    x = dp.tensor([1.0], requires_grad=True)
    y = MyExp.apply(x)
    node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        node.saved_tensors
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.sum().backward()


class NoGradForSecond(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * 2 + y

    @staticmethod
    def backward(ctx, g):
        return g * 2, None


class WrongCount(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        return g


def test_function_none_grads_and_wrong_count():
    x, y = dp.tensor([1.0], requires_grad=True), dp.tensor([2.0], requires_grad=True)
    NoGradForSecond.apply(x, y).sum().backward()
    assert y.grad is None
    close(x.grad, [2.0])
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        WrongCount.apply(x, y).sum().backward()


class SortLike(Function):
    """Returns (values * 2, integer-like mask) and marks the mask non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        mask = (x > 0).to(x.dtype)
        ctx.mark_non_differentiable(mask)
        ctx.set_materialize_grads(False)
        return x * 2, mask

    @staticmethod
    def backward(ctx, g, g_mask):
        assert g_mask is None                 # not materialized
        return None if g is None else g * 2


def test_function_mark_non_differentiable_and_materialize():
    x = dp.tensor([1.0, -1.0], requires_grad=True)
    y, mask = SortLike.apply(x)
    assert y.requires_grad and not mask.requires_grad
    (y * mask).sum().backward()
    close(x.grad, [2.0, 0.0])


class AddOneInPlace(Function):
    @staticmethod
    def forward(ctx, x):
        x.add_(1)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def test_function_mark_dirty():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    a = x * 3
    b = AddOneInPlace.apply(a)
    assert b is a and type(a.grad_fn).__name__ == "AddOneInPlace"
    (a * a).sum().backward()
    close(x.grad, 6 * (3 * x.detach() + 1))
    with pytest.raises(RuntimeError, match="leaf"):
        AddOneInPlace.apply(dp.tensor([1.0], requires_grad=True))


class NewStyleCube(Function):
    @staticmethod
    def forward(x, p):
        return x * x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, _ = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * g * x * x, None


def test_function_setup_context():
    x, tx = both([0.5, -2.0])
    NewStyleCube.apply(x, 3).sum().backward()
    (tx * tx * tx).sum().backward()
    close(x.grad, tx.grad)


def test_function_forward_mode():
    x = np.array([0.1, 0.2])
    with dual_level():
        d = make_dual(dp.tensor(x), dp.tensor([1.0, -1.0], dtype=dp.float64))
        p, s = ScaledMulAdd.apply(d, 2.0, d)
        _, tp = unpack_dual(p)
        _, ts = unpack_dual(s)
    close(tp, 2 * 2 * x * np.array([1.0, -1.0]))
    close(ts, 2 * np.array([1.0, -1.0]))
    with dual_level():
        d = make_dual(dp.tensor(x), dp.tensor(x))
        with pytest.raises(NotImplementedError, match="jvp"):
            NoGradForSecond.apply(d, d)


class TwiceIdentity(Function):
    """Returns its input as is; defines `vjp` (backward's alias) instead of backward."""

    @staticmethod
    def forward(ctx, x):
        TwiceIdentity.seen = ctx.needs_input_grad
        return x

    @staticmethod
    def vjp(ctx, g):
        return g * 2


def test_function_vjp_alias_and_input_returned_as_is():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    y = TwiceIdentity.apply(x)
    assert TwiceIdentity.seen == (True,)
    assert y is not x and type(y.grad_fn).__name__ == "TwiceIdentity" and x.grad_fn is None
    y.sum().backward()
    close(x.grad, [2.0, 2.0])
    with dp.no_grad():
        y.add_(1)                                      # an alias of x
    np.testing.assert_allclose(x.detach().numpy(), [2.0, 3.0])
    with dp.no_grad():
        TwiceIdentity.apply(x)
    assert TwiceIdentity.seen == (False,)


def test_once_differentiable():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @autograd.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2 * g * x

    x = dp.tensor([3.0], requires_grad=True)
    g, = autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    close(g, [6.0])
    assert not g.requires_grad


# --- autograd.functional -----------------------------------------------------------------

F = autograd.functional
TF = torch.autograd.functional


def f_two(x, y):
    return (x.exp() * y).sin(), x * y


def f_scalar(x, y):
    return (x.sin() * y.exp() + x * x * y).sum()


def test_functional_jacobian_structures():
    x, tx = both([0.1, 0.7], requires_grad=False)
    y, ty = both([1.5, -0.3], requires_grad=False)
    for create_graph in (False, True):
        for strategy in ("reverse-mode", "forward-mode"):
            if create_graph and strategy == "forward-mode":
                continue
            j = F.jacobian(f_two, (x, y), create_graph=create_graph, strategy=strategy)
            tj = TF.jacobian(f_two, (tx, ty))
            assert isinstance(j, tuple) and isinstance(j[0], tuple)
            for a, b in zip(j, tj):
                for p, q in zip(a, b):
                    close(p, q)
    j = F.jacobian(lambda t: t.exp() * t, x)
    close(j, TF.jacobian(lambda t: t.exp() * t, tx))
    assert not j.requires_grad
    j = F.jacobian(lambda t: (t.tanh(), t.sum()), x)
    tj = TF.jacobian(lambda t: (t.tanh(), t.sum()), tx)
    assert isinstance(j, tuple) and len(j) == 2 and j[1].shape == (2,)
    for p, q in zip(j, tj):
        close(p, q)
    assert x.grad is None


def test_functional_jacobian_strict_and_unused():
    x = dp.tensor([1.0, 2.0], dtype=dp.float64)
    y = dp.tensor([3.0], dtype=dp.float64)
    j = F.jacobian(lambda a, b: a * 2, (x, y))
    close(j[1], np.zeros((2, 1)))
    with pytest.raises(RuntimeError, match="independent"):
        F.jacobian(lambda a, b: a * 2, (x, y), strict=True)
    with pytest.raises(TypeError, match="Tensor or a tuple of Tensors"):
        F.jacobian(lambda a: a, 3.0)


def test_functional_jacobian_create_graph():
    x, tx = both([0.3, 0.5])
    j = F.jacobian(lambda t: t.sin() * t, x, create_graph=True)
    tj = TF.jacobian(lambda t: t.sin() * t, tx, create_graph=True)
    assert j.requires_grad
    g, = autograd.grad(j.sum(), x)
    tg, = torch.autograd.grad(tj.sum(), tx)
    close(g, tg)


def test_functional_hessian():
    x, tx = both([0.1, 0.7], requires_grad=False)
    y, ty = both([1.5, -0.3], requires_grad=False)
    h = F.hessian(f_scalar, (x, y))
    th = TF.hessian(f_scalar, (tx, ty))
    for a, b in zip(h, th):
        for p, q in zip(a, b):
            close(p, q)
    g = lambda t: (t.exp() * t.sin()).sum()
    for strategy in ("reverse-mode", "forward-mode"):
        close(F.hessian(g, x, outer_jacobian_strategy=strategy), TF.hessian(g, tx))
    with pytest.raises(RuntimeError, match="single element"):
        F.hessian(lambda t: t * 2, x)


def test_functional_vjp_jvp_hvp_vhp():
    x, tx = both([0.1, 0.7], requires_grad=False)
    y, ty = both([1.5, -0.3], requires_grad=False)
    v2 = (dp.tensor([1.0, 2.0], dtype=dp.float64), dp.tensor([-1.0, 0.5], dtype=dp.float64))
    tv2 = tuple(torch.tensor(v.numpy()) for v in v2)
    for fn, tfn in ((F.vjp, TF.vjp), (F.jvp, TF.jvp)):
        out, res = fn(f_two, (x, y), v2)
        tout, tres = tfn(f_two, (tx, ty), tv2)
        for p, q in zip(out + res, tout + tres):
            close(p, q)
    for fn, tfn in ((F.hvp, TF.hvp), (F.vhp, TF.vhp)):
        out, res = fn(f_scalar, (x, y), v2)
        tout, tres = tfn(f_scalar, (tx, ty), tv2)
        close(out, tout)
        assert isinstance(res, tuple)
        for p, q in zip(res, tres):
            close(p, q)
    out, g = F.vjp(lambda t: (t * t).sum(), x)           # v may be omitted for scalars
    close(g, 2 * x)
    assert not isinstance(g, tuple)
    _, jv = F.jvp(lambda t: t.exp(), x, dp.ones(2, dtype=dp.float64))
    close(jv, x.exp())
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(lambda t: t * 2, x)


def test_functional_vjp_create_graph():
    x, tx = both([0.4, 0.8])
    v = dp.tensor([1.0, -2.0], dtype=dp.float64)
    _, g = F.vjp(lambda t: t.sin() * t, x, v, create_graph=True)
    _, tg = TF.vjp(lambda t: t.sin() * t, tx, torch.tensor(v.numpy()), create_graph=True)
    gg, = autograd.grad(g.sum(), x)
    tgg, = torch.autograd.grad(tg.sum(), tx)
    close(gg, tgg)


# --- gradcheck ---------------------------------------------------------------------------

class BadExp(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.exp()

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x.exp() * 1.01          # wrong by 1%

    @staticmethod
    def jvp(ctx, dx):
        return dx * ctx.saved_tensors[0].exp() * 1.01


def test_gradcheck_passes_and_fails():
    x = dp.tensor(rand(2, 3), requires_grad=True)
    y = dp.tensor(rand(3, seed=5), requires_grad=True)
    assert autograd.gradcheck(lambda a, b: (a * b).sin() + a.exp(), (x, y), check_forward_ad=True)
    assert autograd.gradcheck(MyExp.apply, x, check_forward_ad=True)
    assert autograd.gradcheck(ScaledMulAdd.apply, (x, 2.0, y))
    with pytest.raises(autograd.GradcheckError, match=r"output 0 with respect to input 0.*\n"
                       r"(.|\n)*first mismatch: d output\[0, 0\] / d input\[0, 0\]"):
        autograd.gradcheck(BadExp.apply, (x,))
    assert autograd.gradcheck(BadExp.apply, (x,), raise_exception=False) is False
    with pytest.raises(autograd.GradcheckError, match="forward mode"):
        autograd.gradcheck(BadExp.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    with pytest.raises(ValueError, match="requires_grad"):
        autograd.gradcheck(lambda a: a, (dp.tensor([1.0], dtype=dp.float64),))


def test_gradcheck_warns_for_float32():
    x = dp.tensor([0.5, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="double precision"):
        autograd.gradcheck(lambda a: a * 2, (x,), eps=1e-3, atol=1e-2)


class BadSecond(Function):
    """Right first derivative of x**3, wrong second derivative (backward uses x*x*3.1 for
    the part that depends on x, but is exact at evaluation through a detached copy)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        c = x.detach()
        return g * (3 * c * c + (x - c) * 7)   # value 3x^2, but derivative 7 instead of 6x


def test_gradgradcheck():
    x = dp.tensor(rand(3), requires_grad=True)
    assert autograd.gradgradcheck(lambda a: (a.sin() * a).exp(), (x,))
    assert autograd.gradgradcheck(MyExp.apply, (x,))
    assert autograd.gradcheck(BadSecond.apply, (x,))
    with pytest.raises(autograd.GradcheckError, match="Jacobian mismatch"):
        autograd.gradgradcheck(BadSecond.apply, (x,))


# --- anomaly detection -------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_forward_op_and_line():
    x = dp.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection"):
        with autograd.detect_anomaly():
            assert autograd.is_anomaly_enabled()
            y = x.log() * 0                 # the line that should be reported
            with pytest.raises(RuntimeError) as err:
                y.sum().backward()
    assert not autograd.is_anomaly_enabled()
    msg = str(err.value)
    assert "LogBackward0" in msg and "nan" in msg
    assert "y = x.log() * 0" in msg and "test_autograd.py" in msg


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_without_anomaly_nan_passes_silently():
    x = dp.tensor([0.0, 1.0], requires_grad=True)
    (x.log() * 0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])


def test_set_detect_anomaly():
    autograd.set_detect_anomaly(True)
    try:
        assert autograd.is_anomaly_enabled()
    finally:
        autograd.set_detect_anomaly(False)
    assert not autograd.is_anomaly_enabled()
    with autograd.set_detect_anomaly(True):
        assert autograd.is_anomaly_enabled()
    assert not autograd.is_anomaly_enabled()

    with pytest.warns(UserWarning):
        deco = autograd.detect_anomaly()

    @deco
    def f():
        return autograd.is_anomaly_enabled()
    assert f() and not autograd.is_anomaly_enabled()


def test_inplace_error_names_the_variable_and_its_producer():
    """As PyTorch: the changed variable's shape and dtype, and the node that produces it now
    (not the node that saved it, which the hint names)."""
    a = dp.ones(3, requires_grad=True)
    b = a * 2
    c = b.sin()
    b.add_(1)
    with pytest.raises(RuntimeError, match=r": \[float32 \[3\]\], which is output 0 of AddBackward0, is at "
                                           r"version 1; expected version 0 instead\. Hint: the operation "
                                           r"that saved it was sin"):
        c.sum().backward()
    b = a * 2
    c = b.sin()
    with dp.no_grad():
        b.mul_(3)
    with pytest.raises(RuntimeError, match="which is output 0 of MulBackward0, is at version 1"):
        c.sum().backward()
    w = dp.ones(2, 2, dtype=dp.float64, requires_grad=True)
    c = w.sin()
    with dp.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match=r": \[float64 \[2, 2\]\] is at version 1"):   # a leaf
        c.sum().backward()


def test_post_accumulate_grad_hooks_run_once_grad_is_final_during_backward():
    torch = pytest.importorskip("torch")
    events = []
    w1 = dp.tensor([1.0, 2.0], requires_grad=True)
    w2 = dp.tensor([3.0, -1.0], requires_grad=True)
    x = dp.tensor([0.5, 1.5])
    w2.register_post_accumulate_grad_hook(lambda p: events.append(("w2", p.grad.tolist())))
    h = w1.register_post_accumulate_grad_hook(lambda p: events.append(("w1", p.grad.tolist())))
    # w1 is used twice (two edges into it); w2 only by the last layer, so its hook comes
    # first, before the rest of the pass has run (the marker hook on the first layer's output)
    a = (w1 * x).tanh()
    a.register_hook(lambda g: events.append(("a", None)))
    loss = ((a * w2).sum() + (w1 * w1).sum())
    loss.backward()
    t1, t2 = (torch.tensor(v.tolist(), requires_grad=True) for v in (w1.detach(), w2.detach()))
    tl = ((t1 * torch.tensor(x.tolist())).tanh() * t2).sum() + (t1 * t1).sum()
    tl.backward()
    assert [e[0] for e in events] == ["w2", "a", "w1"]
    assert events[0][1] == pytest.approx(t2.grad.tolist()) and events[2][1] == pytest.approx(t1.grad.tolist())
    # hooks see the accumulated gradient; a removed hook is not called again
    h.remove()
    events.clear()
    (w2 * 2).sum().backward()
    assert events == [("w2", pytest.approx((t2.grad + 2).tolist()))]
    with pytest.raises(RuntimeError, match="only be registered on leaf tensors"):
        (w1 * 2).register_post_accumulate_grad_hook(lambda p: None)


# --- plain mode: a backward without create_graph runs raw vjps on arrays ------------------

def test_plain_backward_then_differentiable_backward_through_the_same_graph():
    """A raw vjp leaves its node as it found it: a later create_graph pass sees tensors."""
    x = dp.tensor([0.5, -1.0, 2.0], dtype=dp.float64, requires_grad=True)
    y = ((x * x).exp() * 3 - x).tanh().sum()
    (g1,) = autograd.grad(y, x, retain_graph=True)            # plain: arrays throughout
    (g2,) = autograd.grad(y, x, create_graph=True)
    assert type(g1) is dp.Tensor and g1.grad_fn is None
    np.testing.assert_allclose(g1.numpy(), g2.detach().numpy(), rtol=1e-12)
    xt = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (gt,) = torch.autograd.grad(((xt * xt).exp() * 3 - xt).tanh().sum(), xt, create_graph=True)
    (hd,), (ht,) = autograd.grad(g2.sum(), x), torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(hd.numpy(), ht.detach().numpy(), rtol=1e-8, atol=1e-12)


def test_plain_backward_checks_versions_and_gives_hooks_tensors():
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)                                                 # Exp's rule reads its output
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    seen = []
    z = x * 2
    z.register_hook(lambda g: seen.append(type(g)) or g * 10)
    z.retain_grad()
    z.sum().backward()
    assert seen == [dp.Tensor] and type(z.grad) is dp.Tensor
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 20.0])
    np.testing.assert_array_equal(z.grad.numpy(), [10.0, 10.0])


def test_plain_backward_never_aliases_a_gradient_it_was_given():
    """Clone's raw vjp hands the root gradient on unchanged; .grad must still be x's own."""
    x = dp.tensor([1.0, 2.0], requires_grad=True)
    g = dp.tensor([3.0, 4.0])
    x.clone().backward(g)
    g.add_(1)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    (x + x).sum().backward()                                  # one gradient summed twice into a leaf
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 6.0])
