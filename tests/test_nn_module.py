"""nn.Module and the containers against torch.nn: registration, names, state dicts,
loading (and its errors), hooks, modes, dtype conversion, copying and printing."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from oracle import torch

import diffprog as dp
from diffprog import nn


def both(build):
    """The same model built with torch.nn and diffprog.nn (build receives the library)."""
    return build(torch), build(dp)


def to_dp_state(t_module):
    return {k: dp.tensor(v.detach().numpy()) for k, v in t_module.state_dict().items()}


def same_text(t_text, d_text):
    assert d_text.replace("diffprog.", "torch.") == t_text


def _block_class(lib):
    """A custom module class for either library: registration by attribute assignment."""

    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(4, 4)
            self.norm = lib.nn.BatchNorm1d(4)
            self.scale = lib.nn.Parameter(lib.ones(4))
            self.register_buffer("mask", lib.ones(4))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.plain = lib.zeros(3)                 # a plain attribute: not registered
            self.heads = lib.nn.ModuleList([lib.nn.Linear(4, 2), lib.nn.Linear(4, 2)])
            self.acts = lib.nn.ModuleDict({"relu": lib.nn.ReLU(), "tanh": lib.nn.Tanh()})

        def forward(self, x):
            h = self.acts["relu"](self.norm(self.fc(x))) * self.scale * self.mask
            return sum(head(h) for head in self.heads)
    Block.__qualname__ = f"Block_{lib.__name__}"       # picklable under a unique name
    return Block


Block_torch, Block_diffprog = _block_class(torch), _block_class(dp)


def nested(lib):
    nn_ = lib.nn
    shared = nn_.Linear(3, 3)
    return nn_.Sequential(
        nn_.Linear(2, 3), nn_.ReLU(),
        nn_.Sequential(OrderedDict(inner=shared, act=nn_.Tanh(), again=shared)),
        nn_.Sequential(nn_.Linear(3, 4), nn_.Dropout(0.1), nn_.Linear(4, 4)),
        (Block_torch if lib is torch else Block_diffprog)())


# --- registration and naming -------------------------------------------------------------

@pytest.mark.parametrize("what", ["named_parameters", "named_buffers", "named_modules", "named_children",
                                  "state_dict"])
def test_names_match_torch(what):
    t, d = both(nested)
    t_names = [k for k in (getattr(t, what)() if what != "state_dict" else t.state_dict())]
    d_names = [k for k in (getattr(d, what)() if what != "state_dict" else d.state_dict())]
    if what != "state_dict":
        t_names, d_names = [k for k, _ in t_names], [k for k, _ in d_names]
    assert d_names == t_names


def test_duplicates_and_recurse_match_torch():
    t, d = both(nested)
    for kw in (dict(remove_duplicate=False), dict(recurse=False), dict(prefix="model")):
        assert [k for k, _ in d.named_parameters(**kw)] == [k for k, _ in t.named_parameters(**kw)]
    assert [k for k, _ in d.named_modules(remove_duplicate=False)] == \
        [k for k, _ in t.named_modules(remove_duplicate=False)]
    assert len(list(d.parameters())) == len(list(t.parameters()))
    assert len(list(d.children())) == len(list(t.children()))


def test_shared_parameter_counted_once_and_tied():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model(dp.randn(2, 3)).sum().backward()
    assert model[0].weight.grad is model[2].weight.grad


def test_attribute_registration():
    block = Block_diffprog()
    assert list(block._parameters) == ["scale"]
    assert list(block._buffers) == ["mask", "scratch"]
    assert list(block._modules) == ["fc", "norm", "heads", "acts"]
    assert "plain" not in block.state_dict() and "scratch" not in block.state_dict()
    assert isinstance(block.scale, nn.Parameter) and block.scale.requires_grad
    assert "fc" in dir(block) and "scale" in dir(block) and "mask" in dir(block)
    block.mask = dp.zeros(4)                         # a buffer stays a buffer
    assert block._buffers["mask"] is block.mask
    del block.fc
    assert "fc" not in block._modules and not hasattr(block, "fc")
    block.fc = nn.Linear(4, 4)
    block.fc = None
    assert block._modules["fc"] is None and "fc.weight" not in block.state_dict()
    block.extra = nn.Buffer(dp.ones(2), persistent=False)
    assert "extra" in block._buffers and "extra" not in block.state_dict()
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        block.nothing


def test_registration_errors():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'diffprog.Tensor' as parameter 'weight'"):
        lin.weight = dp.ones(2, 2)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        lin.add_module("x", dp.ones(1))
    with pytest.raises(KeyError, match="contain"):
        lin.add_module("a.b", nn.ReLU())
    with pytest.raises(KeyError, match="already exists"):
        lin.register_buffer("weight", dp.ones(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        lin.register_buffer("b", [1, 2])
        lin.b = 3

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dp.ones(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_get_submodule_and_parameter():
    d = nested(dp)
    assert d.get_submodule("3.2") is d[3][2]
    assert d.get_submodule("") is d
    assert d.get_parameter("4.heads.1.bias") is d[4].heads[1].bias
    assert d.get_buffer("4.norm.running_mean") is d[4].norm.running_mean
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        d.get_submodule("3.nope")
    with pytest.raises(AttributeError, match="not an nn.Parameter"):
        d.get_parameter("4.mask")


def test_parameter_basics():
    p = nn.Parameter(dp.tensor([1.0, 2.0]))
    same_text(repr(torch.nn.Parameter(torch.tensor([1.0, 2.0]))), repr(p))
    assert p.is_leaf and p.requires_grad and not nn.Parameter(dp.ones(1), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    y = p * 2                                        # results of ops are plain tensors
    assert type(y) is dp.Tensor and type(p.detach()) is dp.Tensor
    data = dp.zeros(2)
    q = nn.Parameter(data)                           # shares storage with data
    data[0] = 5
    assert q[0].item() == 5
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and r.tolist() == [1.0, 2.0]


# --- state dict ------------------------------------------------------------------------------

def test_state_dict_detached_and_keep_vars():
    d = nested(dp)
    sd = d.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["0.weight"].requires_grad
    assert np.shares_memory(sd["0.weight"].numpy(), d[0].weight.detach().numpy())
    assert d.state_dict(keep_vars=True)["0.weight"] is d[0].weight
    assert list(d.state_dict(prefix="m.")) == ["m." + k for k in sd]


def test_load_state_dict_from_torch_gives_same_outputs():
    t, d = both(nested)
    t.eval(), d.eval()
    assert repr(d.load_state_dict(to_dp_state(t))) == "<All keys matched successfully>"
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(d(dp.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # NumPy arrays are accepted as values too
    d2 = nested(dp).eval()
    d2.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    np.testing.assert_array_equal(d2(dp.tensor(x)).detach().numpy(), d(dp.tensor(x)).detach().numpy())


def test_load_state_dict_copies_in_place():
    d = nn.Linear(2, 2)
    w = d.weight
    d.load_state_dict({"weight": dp.ones(2, 2), "bias": dp.zeros(2)})
    assert d.weight is w and w.tolist() == [[1, 1], [1, 1]] and w.requires_grad
    d.load_state_dict({"weight": dp.ones(2, 2, dtype=dp.float64) * 3, "bias": dp.zeros(2)})
    assert d.weight.dtype == dp.float32 and d.weight[0, 0].item() == 3
    d.load_state_dict({"weight": dp.ones(2, 2) * 4, "bias": dp.zeros(2)}, assign=True)
    assert d.weight is not w and isinstance(d.weight, nn.Parameter) and d.weight[0, 0].item() == 4


@pytest.mark.parametrize("case", ["missing", "unexpected", "size", "all", "nested"])
def test_load_state_dict_errors_match_torch(case):
    def build(lib):
        return lib.nn.Linear(2, 3) if case != "nested" else lib.nn.Sequential(lib.nn.Linear(2, 3))
    t, d = both(build)
    prefix = "0." if case == "nested" else ""
    state = {prefix + "weight": np.zeros((3, 2), np.float32), prefix + "bias": np.zeros(3, np.float32)}
    if case in ("missing", "all", "nested"):
        del state[prefix + "bias"]
    if case in ("unexpected", "all", "nested"):
        state[prefix + "extra"] = np.zeros(1, np.float32)
        state["0.extra" if case == "nested" else "sub.x"] = np.zeros(1, np.float32)
    if case in ("size", "all"):
        state[prefix + "weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(RuntimeError) as t_err:
        t.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    with pytest.raises(RuntimeError) as d_err:
        d.load_state_dict({k: dp.tensor(v) for k, v in state.items()})
    same_text(str(t_err.value), str(d_err.value))
    if case != "size":
        t_res = t.load_state_dict({k: torch.tensor(v) for k, v in state.items() if "weight" not in k},
                                  strict=False)
        d_res = d.load_state_dict({k: dp.tensor(v) for k, v in state.items() if "weight" not in k},
                                  strict=False)
        assert (d_res.missing_keys, d_res.unexpected_keys) == (t_res.missing_keys, t_res.unexpected_keys)
        assert repr(d_res) == repr(t_res)


def test_batchnorm_state_dict_roundtrip_and_num_batches_tracked():
    t, d = both(lambda lib: lib.nn.BatchNorm1d(3))
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    t(torch.tensor(x))
    d.load_state_dict(to_dp_state(t))
    assert d.num_batches_tracked.item() == 1 and d.num_batches_tracked.dtype == dp.int64
    np.testing.assert_allclose(d.running_var.numpy(), t.running_var.numpy(), rtol=1e-6)


def test_save_and_load_file(tmp_path):
    d = nested(dp).eval()
    dp.save(d.state_dict(), tmp_path / "m.pt")
    d2 = nested(dp).eval()
    d2.load_state_dict(dp.load(tmp_path / "m.pt"))
    x = dp.randn(3, 2)
    np.testing.assert_array_equal(d(x).detach().numpy(), d2(x).detach().numpy())


# --- calling and hooks ------------------------------------------------------------------------

def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(("post", out.shape)))
    h3 = lin.register_forward_hook(lambda m, args, out: out + 100)
    x = dp.ones(1, 2)
    out = lin(x)
    np.testing.assert_allclose(out.detach().numpy(), lin.bias.detach().numpy()[None] + 100, rtol=1e-6)
    assert calls == [("post", dp.Size([1, 2]))]
    for h in (h1, h2, h3):
        h.remove()
    np.testing.assert_allclose(lin(x).detach().numpy(), (x @ lin.weight.T + lin.bias).detach().numpy())
    assert len(calls) == 1


def test_hook_order_kwargs_and_context_manager():
    lin = nn.Identity()
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append("a"))
    lin.register_forward_hook(lambda m, a, o: order.append("b"), prepend=True)
    with lin.register_forward_pre_hook(lambda m, a, k: ((a[0] + 1,), k), with_kwargs=True):
        assert lin(dp.tensor(1.0)).item() == 2.0
    assert lin(dp.tensor(1.0)).item() == 1.0
    assert order == ["b", "a", "b", "a"]
    seen = []
    lin.register_forward_hook(lambda m, a, k, o: seen.append(k), with_kwargs=True)
    lin(input=dp.tensor(3.0))
    assert seen == [{"input": dp.tensor(3.0)}] or seen[0]["input"].item() == 3.0


def test_hooks_see_every_layer_of_a_sequential():
    model = nested(dp)
    shapes = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.register_forward_hook(lambda m, a, o: shapes.append(tuple(o.shape)))
    model.eval()(dp.randn(5, 2))
    assert shapes == [(5, 3), (5, 3), (5, 3), (5, 4), (5, 4), (5, 4), (5, 2), (5, 2)]


# --- modes, gradients, conversion ---------------------------------------------------------------

def test_train_eval_propagate():
    d = nested(dp)
    assert all(m.training for m in d.modules())
    assert d.eval() is d and not any(m.training for m in d.modules())
    d.train()
    assert all(m.training for m in d.modules())
    with pytest.raises(ValueError, match="boolean"):
        d.train("yes")


def test_train_calls_overridden_train_of_children():
    class FrozenNorm(nn.BatchNorm1d):
        def train(self, mode=True):
            return super().train(False)                 # stays in eval mode
    model = nn.Sequential(nn.Linear(2, 2), FrozenNorm(2))
    model.train()
    assert model.training and model[0].training and not model[1].training


def test_train_eval_switch_dropout_and_batchnorm():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5))
    x = dp.randn(16, 4)
    model.eval()
    a, b = model(x), model(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    model.train()
    before = model[1].running_mean.numpy().copy()
    c = model(x)
    assert (c.detach().numpy() == 0).mean() > 0.2               # dropout is active
    assert not np.array_equal(before, model[1].running_mean.numpy())


def test_zero_grad_and_requires_grad():
    d = nested(dp)
    d(dp.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in d.parameters())
    d.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in d.parameters())
    d.zero_grad()
    assert all(p.grad is None for p in d.parameters())
    d.requires_grad_(False)
    assert not any(p.requires_grad for p in d.parameters())


def test_apply_visits_like_torch():
    t, d = both(nested)
    t_seen, d_seen = [], []
    t.apply(lambda m: t_seen.append(type(m).__name__))
    assert d.apply(lambda m: d_seen.append(type(m).__name__)) is d
    assert d_seen == t_seen


def test_apply_for_custom_init():
    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    d = nested(dp).apply(init)
    assert all(not m.weight.detach().numpy().any() for m in d.modules() if isinstance(m, nn.Linear))


def test_to_double_float_keep_parameter_objects():
    d = nested(dp)
    params = list(d.parameters())
    d(dp.randn(3, 2)).sum().backward()
    assert d.double() is d
    assert all(p.dtype == dp.float64 and p.grad.dtype == dp.float64 for p in d.parameters())
    assert [id(p) for p in d.parameters()] == [id(p) for p in params]
    assert d[4].norm.running_mean.dtype == dp.float64
    assert d[4].norm.num_batches_tracked.dtype == dp.int64
    d.eval()(dp.randn(3, 2, dtype=dp.float64))
    d.to(dp.float32)
    assert all(p.dtype == dp.float32 for p in d.parameters())
    d.to("cpu"), d.cpu(), d.to(dp.device("cpu"), dp.float32)
    d.half()
    assert d[0].weight.dtype == dp.float16
    d.float()
    assert d.to(dp.zeros(1, dtype=dp.float64))[0].weight.dtype == dp.float64
    with pytest.raises(TypeError, match="floating point"):
        d.to(dp.int64)


@pytest.mark.skipif(dp.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_is_a_clear_error():
    d = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="not available"):
        d.cuda()
    with pytest.raises(RuntimeError, match="not available"):
        d.to("cuda")


def test_deepcopy_and_pickle():
    d = nested(dp).eval()
    x = dp.randn(3, 2)
    c = copy.deepcopy(d)
    np.testing.assert_array_equal(c(x).detach().numpy(), d(x).detach().numpy())
    assert c[2].inner.weight is c[2].again.weight and c[2].inner.weight is not d[2].inner.weight
    with dp.no_grad():
        c[0].weight.fill_(0)
    assert d[0].weight.abs().sum().item() > 0
    p = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(p(x).detach().numpy(), d(x).detach().numpy())


def test_repr_matches_torch():
    t, d = both(nested)
    same_text(repr(t), repr(d))
    t, d = both(lambda lib: lib.nn.Linear(3, 4, bias=False))
    same_text(repr(t), repr(d))


# --- containers ---------------------------------------------------------------------------------

def test_sequential_list_operations():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b and list(s) == [a, b]
    s.append(c)
    assert s[2] is c
    s.insert(0, nn.Identity())
    assert list(s._modules) == ["0", "1", "2", "3"] and s[1] is a
    sl = s[1:3]
    assert isinstance(sl, nn.Sequential) and list(sl._modules) == ["1", "2"] and sl[0] is a
    del s[0]
    assert list(s._modules) == ["0", "1", "2"] and s[0] is a
    assert s.pop(1) is b and len(s) == 2
    s.extend([b])
    s[1] = nn.Sigmoid()
    assert isinstance(s[1], nn.Sigmoid)
    assert len(s + nn.Sequential(nn.ReLU())) == 4 and len(s * 2) == 6
    with pytest.raises(IndexError):
        s[7]
    named = nn.Sequential(OrderedDict(first=nn.Linear(2, 2), act=nn.ReLU()))
    assert list(named.state_dict()) == ["first.weight", "first.bias"] and named.act is named[1]


def test_sequential_forward():
    s = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    x = dp.randn(4, 3)
    np.testing.assert_allclose(s(x).detach().numpy(), s[1](s[0](x)).detach().numpy())


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(ml) == 3 and isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 2
    ml.append(nn.ReLU())
    ml.insert(1, nn.Tanh())
    assert isinstance(ml[1], nn.Tanh) and list(ml._modules) == [str(i) for i in range(5)]
    del ml[1]
    assert isinstance(ml[1], nn.Linear) and len(ml) == 4
    ml += [nn.Sigmoid()]
    assert len(ml) == 5 and len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert list(md.keys()) == ["a", "b", "c"] and md.pop("b") is not None and "b" not in md
    assert list(md.state_dict()) == ["a.weight", "a.bias"]


def test_container_reprs_match_torch():
    def build(lib):
        n = lib.nn
        return n.Sequential(n.ModuleList([n.ReLU(), n.ReLU(), n.ReLU(), n.Linear(2, 2), n.Linear(2, 2)]),
                            n.ModuleList(), n.ModuleDict({"x": n.Tanh()}),
                            n.ParameterList([n.Parameter(lib.zeros(2, 3)), lib.ones(4)]),
                            n.ParameterDict({"a": n.Parameter(lib.zeros(2))}))
    t, d = both(build)
    same_text(repr(t), repr(d))
    assert list(d.state_dict()) == list(t.state_dict())


def test_parameter_list_and_dict():
    pl = nn.ParameterList([dp.ones(2), nn.Parameter(dp.zeros(3))])
    assert len(pl) == 2 and isinstance(pl[0], nn.Parameter) and len(list(pl.parameters())) == 2
    pl.append(dp.ones(1))
    assert [p.shape[0] for p in pl] == [2, 3, 1]
    pd = nn.ParameterDict({"w": dp.ones(2)})
    pd["b"] = dp.zeros(1)
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert [k for k, _ in pd.named_parameters()] == ["w", "b"]
    del pd["w"]
    assert "w" not in pd and len(pd) == 1
