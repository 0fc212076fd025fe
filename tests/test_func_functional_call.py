"""func.functional_call and func.stack_module_state against torch.func on the same modules
and weights: outputs, gradients and Hessians in the parameters, buffers, tied weights,
strict checks, and the module being left untouched."""
import numpy as np
import pytest

from oracle import check, rand, torch

import diffprog as dp
import diffprog.func as F

TF = pytest.importorskip("torch.func")


def twins(make, seed=0):
    """The same architecture in both libraries (float64), with torch's initial weights."""
    torch.manual_seed(seed)
    tm = make(torch.nn).double()
    dm = make(dp.nn).double()
    dm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return dm, tm


def mlp(nn):
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def nested_class(nn):
    """A module with nested submodules and batch norm buffers, in either library."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
            self.head = nn.Linear(5, 2)

        def forward(self, x, scale=1.0):
            return self.head(self.block(x).tanh()) * scale
    return Net


NESTED = {dp.nn: nested_class(dp.nn), torch.nn: nested_class(torch.nn)}


def nested(nn):
    return NESTED[nn]()


def params_of(model, lib, arrays=None):
    """Fresh tensors (not the module's Parameters) for every parameter, from arrays."""
    arrays = arrays or {k: v.detach().numpy() for k, v in model.named_parameters()}
    return {k: lib.tensor(a) for k, a in arrays.items()}


def close(a, b, rtol=1e-10, atol=1e-12):
    if isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in b:
            close(a[k], b[k], rtol, atol)
        return
    if isinstance(b, (tuple, list)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            close(p, q, rtol, atol)
        return
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


X = rand(6, 3, seed=1)


# --- through the oracle helper: forward, VJP, double VJP, JVP, finite differences --------

def test_functional_call_oracle_in_the_parameters():
    dm, tm = twins(mlp)
    names = [k for k, _ in dm.named_parameters()]

    def call(model, func_call):
        return lambda x, *ps: func_call(model, dict(zip(names, ps)), (x,))
    check(call(dm, F.functional_call), call(tm, TF.functional_call), X,
          *[p.detach().numpy() for _, p in tm.named_parameters()])


# --- transforms in the parameters ---------------------------------------------------------

def loss(func_call, model, x):
    return lambda p: (func_call(model, p, (x,)) ** 2).sum()


def test_grad_in_parameters_matches_torch_func():
    dm, tm = twins(mlp)
    g = F.grad(loss(F.functional_call, dm, dp.tensor(X)))(params_of(dm, dp))
    tg = TF.grad(loss(TF.functional_call, tm, torch.tensor(X)))(params_of(tm, torch))
    close(g, tg)
    assert all(p.grad is None for p in dm.parameters())


def test_hessian_and_jacrev_in_parameters_match_torch_func():
    dm, tm = twins(mlp)
    dl, tl = loss(F.functional_call, dm, dp.tensor(X)), loss(TF.functional_call, tm, torch.tensor(X))
    close(F.hessian(dl)(params_of(dm, dp)), TF.hessian(tl)(params_of(tm, torch)))
    out = lambda call, m, x: lambda p: call(m, p, (x,))      # noqa: E731
    close(F.jacrev(out(F.functional_call, dm, dp.tensor(X)))(params_of(dm, dp)),
          TF.jacrev(out(TF.functional_call, tm, torch.tensor(X)))(params_of(tm, torch)))


def test_grad_through_non_leaf_parameters_second_order():
    """MAML's pattern: one inner gradient step on the parameters (create_graph), then the
    gradient of the loss at the stepped parameters w.r.t. the initial ones."""
    dm, tm = twins(mlp)

    def meta(func_call, grad, model, x):
        inner = loss(func_call, model, x)

        def outer(p):
            g = grad(inner)(p)
            stepped = {k: p[k] - 0.1 * g[k] for k in p}
            return inner(stepped)
        return outer
    close(F.grad(meta(F.functional_call, F.grad, dm, dp.tensor(X)))(params_of(dm, dp)),
          TF.grad(meta(TF.functional_call, TF.grad, tm, torch.tensor(X)))(params_of(tm, torch)))


def test_grad_of_a_non_differentiated_argument_stays_in_the_graph():
    """grad(f)(x, lam) is differentiable w.r.t. lam when lam requires grad (torch.func)."""
    x, tx = dp.tensor(1.5, dtype=dp.float64), torch.tensor(1.5, dtype=torch.float64)
    lam = dp.tensor(2.0, dtype=dp.float64, requires_grad=True)
    tlam = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    g, tg = F.grad(lambda a, b: b * a ** 3)(x, lam), TF.grad(lambda a, b: b * a ** 3)(tx, tlam)
    assert g.requires_grad and tg.requires_grad
    close(dp.autograd.grad(g, lam)[0], torch.autograd.grad(tg, tlam)[0])


# --- semantics -----------------------------------------------------------------------------

def test_dict_tuple_of_dicts_and_missing_names_use_the_modules_own():
    dm, tm = twins(nested)
    rng = np.random.default_rng(3)
    new = {"head.weight": rng.normal(size=(2, 5)), "block.0.bias": rng.normal(size=5)}
    x, tx = dp.tensor(X), torch.tensor(X)
    for split in (lambda d: d, lambda d: ({"head.weight": d["head.weight"]},
                                          {"block.0.bias": d["block.0.bias"]})):
        dm.train(), tm.train()
        ours = F.functional_call(dm, split({k: dp.tensor(v) for k, v in new.items()}), x,
                                 {"scale": 2.0})
        theirs = TF.functional_call(tm, split({k: torch.tensor(v) for k, v in new.items()}), tx,
                                    {"scale": 2.0})
        close(ours, theirs)
    assert np.allclose(dm.head.weight.detach().numpy(), tm.head.weight.detach().numpy())
    assert isinstance(dm.head.weight, dp.nn.Parameter)
    with pytest.raises(ValueError, match="multiple dictionaries"):
        F.functional_call(dm, ({"head.bias": dp.zeros(2)}, {"head.bias": dp.zeros(2)}), x)
    with pytest.raises(ValueError, match="dict"):
        F.functional_call(dm, [1], x)


def test_batch_norm_buffers_are_updated_in_the_tensors_passed():
    dm, tm = twins(nested)
    bufs = {k: dp.tensor(v.numpy()) for k, v in tm.named_buffers()}
    tbufs = {k: v.clone() for k, v in tm.named_buffers()}
    params, tparams = params_of(dm, dp), params_of(tm, torch)
    for _ in range(2):
        close(F.functional_call(dm, (params, bufs), dp.tensor(X)),
              TF.functional_call(tm, (tparams, tbufs), torch.tensor(X)))
    close(bufs, tbufs)
    assert int(bufs["block.1.num_batches_tracked"]) == 2
    assert dm.block[1].num_batches_tracked.item() == 0          # the module's own: untouched
    dm.eval(), tm.eval()
    close(F.functional_call(dm, (params, bufs), dp.tensor(X)),
          TF.functional_call(tm, (tparams, tbufs), torch.tensor(X)))


def test_reassigned_buffer_is_written_back_into_the_dict():
    class Counter(dp.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", dp.zeros(()))

        def forward(self, x):
            self.count = self.count + 1          # reassignment, not in place
            return x * self.count

    m = Counter()
    state = {"count": dp.tensor(5.0)}
    assert F.functional_call(m, state, dp.tensor(2.0)).item() == 12.0
    assert state["count"].item() == 6.0 and m.count.item() == 0.0


def test_module_is_untouched_after_forward_raises():
    dm, _ = twins(nested)
    before = {k: v for k, v in dm.state_dict(keep_vars=True).items()}

    def boom(module, args):
        raise ValueError("boom")
    handle = dm.head.register_forward_pre_hook(boom)
    with pytest.raises(ValueError, match="boom"):
        F.functional_call(dm, {"head.weight": dp.zeros(2, 5), "block.1.running_mean": dp.ones(5),
                               "extra": dp.ones(1)}, dp.tensor(X))
    handle.remove()
    after = dm.state_dict(keep_vars=True)
    assert before.keys() == after.keys() and all(before[k] is after[k] for k in before)
    assert not hasattr(dm, "extra")


def test_values_may_be_any_tensor_and_gradients_reach_them():
    """A non-leaf tensor (or any Tensor subclass) is swapped in, not copied."""
    dm, _ = twins(mlp)
    scale = dp.tensor(2.0, dtype=dp.float64, requires_grad=True)
    w = dm[0].weight.detach() * scale                 # non-leaf, not a Parameter
    out = F.functional_call(dm, {"0.weight": w}, dp.tensor(X)).sum()
    out.backward()
    assert scale.grad is not None and dm[0].weight.grad is None

    class Marked(dp.Tensor):
        pass
    seen = []
    dm[0].register_forward_pre_hook(lambda mod, args: seen.append(type(mod.weight)))
    marked = dp.Tensor._make(dm[0].weight.detach()._data)
    marked.__class__ = Marked
    F.functional_call(dm, {"0.weight": marked}, dp.tensor(X))
    assert seen == [Marked] and type(dm[0].weight) is dp.nn.Parameter


def test_tied_weights_follow_torch():
    def tied(nn):
        m = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
        m[2].weight = m[0].weight
        return m
    dm, tm = twins(tied)
    w = rand(3, 3, seed=7)
    x, tx = dp.tensor(X), torch.tensor(X)
    for tie in (True, False):
        close(F.functional_call(dm, {"0.weight": dp.tensor(w)}, x, tie_weights=tie),
              TF.functional_call(tm, {"0.weight": torch.tensor(w)}, tx, tie_weights=tie))
    both = {"0.weight": dp.tensor(w), "2.weight": dp.tensor(w)}
    with pytest.raises(ValueError, match="tied"):
        F.functional_call(dm, both, x)
    close(F.functional_call(dm, both, x, tie_weights=False),
          TF.functional_call(tm, {"0.weight": torch.tensor(w), "2.weight": torch.tensor(w)}, tx,
                             tie_weights=False))
    assert dm[2].weight is dm[0].weight


def test_strict_checks_match_torch():
    dm, tm = twins(mlp)
    partial = {"0.weight": dp.zeros(4, 3, dtype=dp.float64), "bogus": dp.zeros(1)}
    tpartial = {"0.weight": torch.zeros(4, 3, dtype=torch.float64), "bogus": torch.zeros(1)}
    with pytest.raises(RuntimeError) as ours:
        F.functional_call(dm, partial, dp.tensor(X), strict=True)
    with pytest.raises(RuntimeError) as theirs:
        TF.functional_call(tm, tpartial, torch.tensor(X), strict=True)
    assert str(ours.value) == str(theirs.value)
    # non-strict: an unknown name becomes an attribute for the call only
    F.functional_call(dm, partial, dp.tensor(X))
    assert not hasattr(dm, "bogus")
    out = F.functional_call(dm, params_of(dm, dp), dp.tensor(X), strict=True)
    close(out, tm(torch.tensor(X)))


def test_bad_values_and_paths_raise_clearly():
    dm, _ = twins(mlp)
    with pytest.raises(TypeError, match="'0.weight' should be a Tensor"):
        F.functional_call(dm, {"0.weight": np.zeros((4, 3))}, dp.tensor(X))
    with pytest.raises(AttributeError, match="no attribute"):
        F.functional_call(dm, {"7.weight": dp.zeros(1)}, dp.tensor(X))
    assert isinstance(dm[0].weight, dp.nn.Parameter)


def test_stateless_alias_warns_and_calls():
    dm, tm = twins(mlp)
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        out = dp.nn.utils.stateless.functional_call(dm, params_of(dm, dp), (dp.tensor(X),))
    close(out, tm(torch.tensor(X)))


# --- stack_module_state ------------------------------------------------------------------------

def test_stack_module_state_matches_torch():
    pairs = [twins(nested, seed=s) for s in range(3)]
    params, buffers = F.stack_module_state([d for d, _ in pairs])
    tparams, tbuffers = TF.stack_module_state([t for _, t in pairs])
    close(params, tparams)
    close(buffers, tbuffers)
    assert all(p.requires_grad and p.grad_fn is None for p in params.values())
    assert not any(b.requires_grad for b in buffers.values())
    assert params["head.weight"].shape == (3, 2, 5)
    # ensemble members, one at a time, equal the models
    x = dp.tensor(X)
    for i, (d, t) in enumerate(pairs):
        d.eval(), t.eval()
        close(F.functional_call(d, ({k: v[i] for k, v in params.items()},
                                    {k: v[i] for k, v in buffers.items()}), x), t(torch.tensor(X)))


def test_stack_module_state_errors():
    a, b = twins(mlp)[0], twins(mlp)[0]
    with pytest.raises(RuntimeError, match="at least one"):
        F.stack_module_state([])
    b.eval()
    with pytest.raises(RuntimeError, match="training/eval"):
        F.stack_module_state([a, b])
    with pytest.raises(RuntimeError, match="same class"):
        F.stack_module_state([a, dp.nn.Linear(3, 4)])
    wide = dp.nn.Sequential(dp.nn.Linear(3, 5), dp.nn.Tanh(), dp.nn.Linear(5, 2))
    with pytest.raises(RuntimeError, match="'0.weight' is \\(5, 3\\)"):
        F.stack_module_state([a, wide])
    short = dp.nn.Sequential(dp.nn.Linear(3, 4), dp.nn.Tanh())
    with pytest.raises(RuntimeError, match="same parameters"):
        F.stack_module_state([a, short])
    c = twins(mlp)[0]
    c[0].weight.requires_grad_(False)
    with pytest.raises(RuntimeError, match="requires_grad"):
        F.stack_module_state([a, c])


def test_replace_all_batch_norm_modules_matches_torch():
    dm, tm = twins(nested)
    assert F.replace_all_batch_norm_modules_(dm) is dm
    TF.replace_all_batch_norm_modules_(tm)
    assert dm.block[1].running_mean is None and not dm.block[1].track_running_stats
    assert [k for k, _ in dm.named_buffers()] == [k for k, _ in tm.named_buffers()] == []
    dm.eval(), tm.eval()                     # evaluation now uses the batch statistics
    close(dm(dp.tensor(X)), tm(torch.tensor(X)))
