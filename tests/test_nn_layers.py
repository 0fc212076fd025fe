"""Layers and nn.functional against torch: each layer loaded with torch's weights gives
torch's outputs and input/parameter gradients; the fused ops (linear, layer norm, batch
norm, embedding) also pass the oracle's double-backward/JVP/finite-difference checks."""
import numpy as np
import pytest

from oracle import check, const, rand, torch

import diffprog as dp
import diffprog.nn.functional as F
from diffprog import nn

TF = torch.nn.functional if torch else None


def pair(name, *args, **kwargs):
    """The layer built by torch.nn and by diffprog.nn, torch's parameters randomised and
    copied over (so that e.g. norm layers are not at their trivial init)."""
    t = getattr(torch.nn, name)(*args, **kwargs)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for p in t.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
    d = getattr(nn, name)(*args, **kwargs)
    d.load_state_dict({k: dp.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return t, d


def compare(t, d, inputs, dtype=np.float64, tol=None, grad=True):
    """Forward values, then input and parameter gradients for a random cotangent."""
    tol = tol or (dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5))
    t.to(getattr(torch, np.dtype(dtype).name)), d.to(getattr(dp, np.dtype(dtype).name))
    floats = [a.dtype.kind == "f" for a in inputs]
    t_in = [torch.tensor(a.astype(dtype) if f else a).requires_grad_(f and grad) for a, f in zip(inputs, floats)]
    d_in = [dp.tensor(a.astype(dtype) if f else a).requires_grad_(f and grad) for a, f in zip(inputs, floats)]
    t_out, d_out = t(*t_in), d(*d_in)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), **tol, err_msg="forward")
    assert d_out.dtype.name == str(t_out.dtype).replace("torch.", "")
    if not grad:
        return
    cot = np.random.default_rng(1).standard_normal(tuple(t_out.shape)).astype(dtype)
    t_out.backward(torch.tensor(cot))
    d_out.backward(dp.tensor(cot))
    for i, (a, b) in enumerate(zip(d_in, t_in)):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol, err_msg=f"input {i} grad")
    for (name, a), (_, b) in zip(d.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol, err_msg=f"{name} grad")


LAYERS = [
    ("Linear", (3, 4), {}, [(5, 3)]),
    ("Linear", (3, 4), {"bias": False}, [(2, 5, 3)]),
    ("Linear", (3, 2), {}, [(3,)]),
    ("Bilinear", (3, 2, 4), {}, [(5, 3), (5, 2)]),
    ("Identity", (), {}, [(2, 3)]),
    ("Flatten", (), {}, [(2, 3, 4)]),
    ("Flatten", (0, 1), {}, [(2, 3, 4)]),
    ("Unflatten", (1, (2, 3)), {}, [(4, 6)]),
    ("ReLU", (), {}, [(4, 5)]),
    ("ReLU6", (), {}, [(4, 5)]),
    ("LeakyReLU", (0.2,), {}, [(4, 5)]),
    ("PReLU", (), {}, [(4, 5)]),
    ("PReLU", (3,), {}, [(4, 3, 5)]),
    ("ELU", (0.5,), {}, [(4, 5)]),
    ("SELU", (), {}, [(4, 5)]),
    ("CELU", (0.5,), {}, [(4, 5)]),
    ("GELU", (), {}, [(4, 5)]),
    ("GELU", ("tanh",), {}, [(4, 5)]),
    ("SiLU", (), {}, [(4, 5)]),
    ("Mish", (), {}, [(4, 5)]),
    ("Sigmoid", (), {}, [(4, 5)]),
    ("Tanh", (), {}, [(4, 5)]),
    ("Softmax", (1,), {}, [(4, 5)]),
    ("Softmax", (0,), {}, [(4, 5)]),
    ("LogSoftmax", (1,), {}, [(4, 5)]),
    ("Softmin", (1,), {}, [(4, 5)]),
    ("Softmax2d", (), {}, [(2, 3, 2, 2)]),
    ("Softplus", (2.0, 1.0), {}, [(4, 5)]),
    ("Softsign", (), {}, [(4, 5)]),
    ("Hardtanh", (-0.5, 0.7), {}, [(4, 5)]),
    ("Hardswish", (), {}, [(4, 5)]),
    ("Hardsigmoid", (), {}, [(4, 5)]),
    ("LogSigmoid", (), {}, [(4, 5)]),
    ("Tanhshrink", (), {}, [(4, 5)]),
    ("Threshold", (0.1, 20.0), {}, [(4, 5)]),
    ("GLU", (), {}, [(4, 6)]),
    ("Hardshrink", (0.3,), {}, [(4, 5)]),
    ("Softshrink", (0.3,), {}, [(4, 5)]),
    ("LayerNorm", (5,), {}, [(4, 5)]),
    ("LayerNorm", ((3, 5),), {}, [(2, 3, 5)]),
    ("LayerNorm", (5,), {"elementwise_affine": False}, [(4, 5)]),
    ("LayerNorm", (5,), {"bias": False}, [(4, 5)]),
    ("RMSNorm", (5,), {}, [(4, 5)]),
    ("RMSNorm", ((2, 5),), {"eps": 1e-3}, [(3, 2, 5)]),
    ("GroupNorm", (2, 4), {}, [(3, 4, 5)]),
    ("GroupNorm", (1, 4), {"affine": False}, [(3, 4)]),
    ("BatchNorm1d", (3,), {}, [(6, 3)]),
    ("BatchNorm1d", (3,), {}, [(4, 3, 5)]),
    ("BatchNorm1d", (3,), {"affine": False}, [(6, 3)]),
    ("BatchNorm1d", (3,), {"track_running_stats": False}, [(6, 3)]),
    ("BatchNorm2d", (3,), {}, [(2, 3, 2, 2)]),
    ("Dropout", (0.0,), {}, [(4, 5)]),
]


def _inputs(shapes):
    return [rand(*s, seed=i) for i, s in enumerate(shapes)]


@pytest.mark.parametrize("name,args,kwargs,shapes", LAYERS, ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYERS)])
def test_layer_matches_torch(name, args, kwargs, shapes):
    compare(*pair(name, *args, **kwargs), _inputs(shapes), tol=_LOOSE.get(name))


# torch's hardsigmoid backward multiplies by the float32 constant 1/6, even in float64
_LOOSE = {"Hardsigmoid": dict(rtol=1e-7, atol=1e-9)}


@pytest.mark.parametrize("name,args,kwargs,shapes", [c for c in LAYERS if c[0] in
                         ("Linear", "LayerNorm", "BatchNorm1d", "GELU", "Softmax", "RMSNorm")])
def test_layer_matches_torch_float32(name, args, kwargs, shapes):
    compare(*pair(name, *args, **kwargs), _inputs(shapes), dtype=np.float32)


@pytest.mark.parametrize("name,args,kwargs,shapes", [c for c in LAYERS if c[0] in
                         ("BatchNorm1d", "BatchNorm2d", "Dropout")])
def test_layer_matches_torch_in_eval_mode(name, args, kwargs, shapes):
    t, d = pair(name, *args, **kwargs)
    compare(t, d, _inputs(shapes))                      # one training step: running stats move
    t.eval(), d.eval()
    compare(t, d, _inputs(shapes))


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.1,)), ("ELU", ()),
                                       ("SELU", ()), ("CELU", ()), ("SiLU", ()), ("Mish", ()),
                                       ("Hardtanh", ()), ("Hardswish", ()), ("Hardsigmoid", ()),
                                       ("Threshold", (0.1, 2.0))])
def test_inplace_activations(name, args):
    t, d = getattr(torch.nn, name)(*args, inplace=True), getattr(nn, name)(*args, inplace=True)
    x = rand(4, 5)
    tx, dx = torch.tensor(x, requires_grad=True), dp.tensor(x, requires_grad=True)
    th, dh = tx * 2, dx * 2
    t_out, d_out = t(th), d(dh)
    assert d_out is dh
    np.testing.assert_allclose(dh.detach().numpy(), th.detach().numpy(), rtol=1e-12)
    t_out.sum().backward(), d_out.sum().backward()
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), **_LOOSE.get(name, dict(rtol=1e-12)))


# --- the fused ops: oracle check (forward, VJP, double VJP, JVP, finite differences) ----------

FUSED = [
    ("linear", F.linear, TF.linear, (rand(5, 3), rand(4, 3, seed=1), rand(4, seed=2))),
    ("linear-batch", F.linear, TF.linear, (rand(2, 5, 3), rand(4, 3, seed=1), rand(4, seed=2))),
    ("linear-vector", F.linear, TF.linear, (rand(3), rand(4, 3, seed=1))),
    ("linear-empty", F.linear, TF.linear, (rand(0, 3), rand(4, 3, seed=1), rand(4, seed=2))),
    ("linear-f32", F.linear, TF.linear, (rand(5, 3, dtype=np.float32), rand(4, 3, seed=1, dtype=np.float32),
                                         rand(4, seed=2, dtype=np.float32))),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b), lambda x, w, b: TF.layer_norm(x, (3,), w, b),
     (rand(5, 3), rand(3, seed=1), rand(3, seed=2))),
    ("layer_norm-2d", lambda x, w, b: F.layer_norm(x, (2, 3), w, b),
     lambda x, w, b: TF.layer_norm(x, (2, 3), w, b), (rand(4, 2, 3), rand(2, 3, seed=1), rand(2, 3, seed=2))),
    ("layer_norm-plain", lambda x: F.layer_norm(x, (4,), eps=1e-3), lambda x: TF.layer_norm(x, (4,), eps=1e-3),
     (rand(2, 3, 4),)),
    ("layer_norm-weight", lambda x, w: F.layer_norm(x, (4,), w), lambda x, w: TF.layer_norm(x, (4,), w),
     (rand(3, 4), rand(4, seed=1))),
    ("layer_norm-f32", lambda x, w, b: F.layer_norm(x, (3,), w, b), lambda x, w, b: TF.layer_norm(x, (3,), w, b),
     (rand(5, 3, dtype=np.float32), rand(3, seed=1, dtype=np.float32), rand(3, seed=2, dtype=np.float32))),
    ("batch_norm-train", lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, True), (rand(5, 3), rand(3, seed=1), rand(3, seed=2))),
    ("batch_norm-train-3d", lambda x, w, b: F.batch_norm(x, None, None, w, b, True, eps=1e-3),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, True, eps=1e-3),
     (rand(5, 3, 4), rand(3, seed=1), rand(3, seed=2))),
    ("batch_norm-train-plain", lambda x: F.batch_norm(x, None, None, training=True),
     lambda x: TF.batch_norm(x, None, None, training=True), (rand(4, 2, 2, 3),)),
    ("batch_norm-eval", lambda x, w, b, m, v: F.batch_norm(x, m, v, w, b, False),
     lambda x, w, b, m, v: TF.batch_norm(x, m, v, w, b, False),
     (rand(5, 3, 4), rand(3, seed=1), rand(3, seed=2), const(rand(3, seed=3)),
      const(rand(3, seed=4, low=0.5, high=2)))),
    ("batch_norm-f32", lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
     lambda x, w, b: TF.batch_norm(x, None, None, w, b, True),
     (rand(6, 3, dtype=np.float32), rand(3, seed=1, dtype=np.float32), rand(3, seed=2, dtype=np.float32))),
    ("rms_norm", lambda x, w: F.rms_norm(x, (3,), w), lambda x, w: TF.rms_norm(x, (3,), w),
     (rand(5, 3), rand(3, seed=1))),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), lambda x, w, b: TF.group_norm(x, 2, w, b),
     (rand(3, 4, 5), rand(4, seed=1), rand(4, seed=2))),
    ("bilinear", F.bilinear, TF.bilinear, (rand(5, 3), rand(5, 2, seed=3), rand(4, 3, 2, seed=1), rand(4, seed=2))),
    ("embedding", lambda w: F.embedding(dp.tensor([[1, 2], [2, 0]], device=w.device), w),
     lambda w: TF.embedding(torch.tensor([[1, 2], [2, 0]]), w), (rand(4, 3),)),
    ("cosine_similarity", F.cosine_similarity, TF.cosine_similarity, (rand(5, 3), rand(5, 3, seed=1))),
    ("cosine_similarity-bcast", lambda a, b: F.cosine_similarity(a, b, dim=-1),
     lambda a, b: TF.cosine_similarity(a, b, dim=-1), (rand(5, 3), rand(3, seed=1))),
    ("pairwise_distance", F.pairwise_distance, TF.pairwise_distance, (rand(5, 3), rand(5, 3, seed=1))),
    ("pairwise_distance-p1", lambda a, b: F.pairwise_distance(a, b, 1.0, keepdim=True),
     lambda a, b: TF.pairwise_distance(a, b, 1.0, keepdim=True), (rand(5, 3), rand(5, 3, seed=1))),
    ("normalize", F.normalize, TF.normalize, (rand(5, 3),)),
    ("normalize-p1", lambda x: F.normalize(x, 1.0, 0), lambda x: TF.normalize(x, 1.0, 0), (rand(5, 3),)),
    ("prelu", F.prelu, TF.prelu, (rand(5, 3), rand(3, seed=1))),
    ("glu", F.glu, TF.glu, (rand(5, 4),)),
    ("softmin", lambda x: F.softmin(x, 1), lambda x: TF.softmin(x, 1), (rand(5, 4),)),
    ("hardshrink", F.hardshrink, TF.hardshrink, (rand(5, 4),)),
    ("softshrink", lambda x: F.softshrink(x, 0.2), lambda x: TF.softshrink(x, 0.2), (rand(5, 4),)),
]


@pytest.mark.parametrize("name,dp_fn,torch_fn,args", FUSED, ids=[c[0] for c in FUSED])
def test_functional_matches_torch(name, dp_fn, torch_fn, args):
    check(dp_fn, torch_fn, *args)


@pytest.mark.parametrize("kwargs", [dict(padding_idx=2), dict(scale_grad_by_freq=True),
                                    dict(padding_idx=0, scale_grad_by_freq=True)])
def test_embedding_gradient_options(kwargs):
    ids = [[1, 2, 2], [2, 0, 3]]
    check(lambda w: F.embedding(dp.tensor(ids, device=w.device), w, **kwargs),
          lambda w: TF.embedding(torch.tensor(ids), w, **kwargs), rand(4, 3), fd=False)


def test_fused_ops_record_one_node():
    x, w, b = dp.randn(4, 3), dp.randn(2, 3, requires_grad=True), dp.randn(2, requires_grad=True)
    assert type(F.linear(x, w, b).grad_fn).__name__ == "Linear"
    assert type(F.layer_norm(x.requires_grad_(), (3,)).grad_fn).__name__ == "LayerNorm"
    assert type(F.batch_norm(x, None, None, training=True).grad_fn).__name__ == "BatchNorm"
    assert dp.layer_norm is F.layer_norm


def test_fused_linear_and_layer_norm_equal_composites():
    x = dp.tensor(rand(4, 3), requires_grad=True)
    w, b = dp.tensor(rand(5, 3, seed=1), requires_grad=True), dp.tensor(rand(5, seed=2), requires_grad=True)
    for fused, composite in [
            (lambda: F.linear(x, w, b), lambda: x @ w.T + b),
            (lambda: F.layer_norm(x, (3,)), lambda: (x - x.mean(1, keepdim=True))
             / (x.var(1, unbiased=False, keepdim=True) + 1e-5).sqrt())]:
        a, c = fused(), composite()
        np.testing.assert_allclose(a.detach().numpy(), c.detach().numpy(), rtol=1e-12)
        ga = dp.autograd.grad(a.sin().sum(), x, create_graph=True)[0]
        gc = dp.autograd.grad(c.sin().sum(), x, create_graph=True)[0]
        np.testing.assert_allclose(ga.detach().numpy(), gc.detach().numpy(), rtol=1e-10, atol=1e-12)
        hx_a = dp.autograd.grad(ga.sum(), x)[0]
        hx_c = dp.autograd.grad(gc.sum(), x)[0]
        np.testing.assert_allclose(hx_a.numpy(), hx_c.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("norm", [
    lambda x, w, b: F.batch_norm(x, None, None, w[:, 0, 0], b[:, 0, 0], training=True),
    lambda x, w, b: F.batch_norm(x, None, None, None, b[:, 0, 0], training=True),
    lambda x, w, b: F.batch_norm(x, None, None, training=True),           # xhat is the output
    lambda x, w, b: F.layer_norm(x, (4, 5), w[0], None),
    lambda x, w, b: F.group_norm(x, 3, w[:, 0, 0], b[:, 0, 0]),
])
def test_norm_plain_backward_equals_differentiable(norm):
    """A plain backward of batch/layer/group norm runs on arrays (`Normalize._plain_vjp`):
    the same gradients as the differentiable VJP that create_graph=True takes."""
    args = [dp.tensor(rand(*shape, seed=i), requires_grad=True)
            for i, shape in enumerate([(3, 6, 4, 5), (6, 4, 5), (6, 1, 1)])]
    y, gy = norm(*args), dp.tensor(rand(3, 6, 4, 5, seed=4))
    plain = dp.autograd.grad(y, args, gy, retain_graph=True, allow_unused=True)
    graph = dp.autograd.grad(y, args, gy, create_graph=True, allow_unused=True)
    for p, q in zip(plain, graph):
        assert (p is None) == (q is None)
        if p is not None:
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-13)


# --- batch norm running statistics --------------------------------------------------------------

@pytest.mark.parametrize("kwargs,shape", [({}, (6, 3)), ({"momentum": None}, (6, 3)),
                                          ({"momentum": 0.3}, (4, 3, 5)), ({"affine": False}, (6, 3))])
def test_batchnorm_running_stats_match_torch(kwargs, shape):
    t, d = torch.nn.BatchNorm1d(3, **kwargs).double(), nn.BatchNorm1d(3, **kwargs).double()
    for step in range(4):
        x = rand(*shape, seed=10 + step) * (step + 1) + step
        t_out, d_out = t(torch.tensor(x)), d(dp.tensor(x))
        np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(d, name).numpy(), getattr(t, name).numpy(), rtol=1e-12)
    assert d.num_batches_tracked.item() == t.num_batches_tracked.item() == 4
    t.eval(), d.eval()
    x = rand(*shape, seed=99)
    np.testing.assert_allclose(d(dp.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_batchnorm_running_stats_are_not_tracked_by_autograd():
    bn = nn.BatchNorm1d(2)
    x = dp.randn(5, 2, requires_grad=True)
    bn(x).sum().backward()
    assert not bn.running_mean.requires_grad and bn.running_mean.grad_fn is None
    with dp.no_grad():
        bn(x)
    assert bn.num_batches_tracked.item() == 2


# --- dropout --------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_statistics_and_gradient(p):
    dp.manual_seed(0)
    x = dp.ones(200, 100, requires_grad=True)
    y = F.dropout(x, p)
    kept = y.detach().numpy() != 0
    assert abs(1 - kept.mean() - p) < 0.02
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())


def test_dropout_modes_seed_and_edge_cases():
    x = dp.randn(10, 10)
    layer = nn.Dropout(0.5)
    layer.eval()
    assert np.array_equal(layer(x).numpy(), x.numpy())
    layer.train()
    dp.manual_seed(3)
    a = layer(x)
    dp.manual_seed(3)
    b = layer(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not F.dropout(x, 1.0).numpy().any()
    assert F.dropout(x, 0.5, training=False) is x
    y = x.clone()
    assert F.dropout(y, 0.5, inplace=True) is y
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)


@pytest.mark.parametrize("fn,shape,mask_shape", [(F.dropout1d, (4, 6, 50), (4, 6, 1)),
                                                 (F.dropout1d, (6, 50), (6, 1)),
                                                 (F.dropout2d, (4, 6, 5, 5), (4, 6, 1, 1)),
                                                 (F.dropout3d, (2, 3, 2, 2, 2), (2, 3, 1, 1, 1))])
def test_channel_dropout_drops_whole_channels(fn, shape, mask_shape):
    y = fn(dp.ones(*shape), 0.5).numpy()
    lead = len(mask_shape) - mask_shape.count(1)                  # the (sample, channel) dims
    rows = y.reshape(int(np.prod(shape[:lead])), -1)
    assert all(len(set(row.tolist())) == 1 for row in rows)      # one draw per channel
    assert set(np.unique(y).tolist()) == {0.0, 2.0}


def test_alpha_dropout_keeps_mean_and_variance():
    dp.manual_seed(0)
    x = dp.randn(400, 500)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.03
    assert F.alpha_dropout(x, 0.2) is x                          # training=False by default
    values, counts = np.unique(y, return_counts=True)
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.2 + 1) * 0.8)
    assert np.isclose(values[counts.argmax()], -1.7580993408473766 * a * 0.8)   # the dropped value
    assert abs(counts.max() / y.size - 0.2) < 0.01


def test_gumbel_softmax():
    dp.manual_seed(0)
    logits = dp.tensor([[2.0, 0.0, -1.0]] * 2000, requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(soft.sum(1).detach().numpy(), 1.0, rtol=1e-6)
    hard = F.gumbel_softmax(logits, hard=True)
    values = hard.detach().numpy()
    assert set(np.unique(values).tolist()) == {0.0, 1.0} and (values.sum(1) == 1).all()
    freq = values.mean(0)                                    # samples follow softmax(logits)
    np.testing.assert_allclose(freq, F.softmax(logits[0], 0).detach().numpy(), atol=0.04)
    (hard * dp.arange(3.0)).sum().backward()                 # straight-through gradient
    assert logits.grad is not None and logits.grad.abs().sum().item() > 0


# --- embedding ------------------------------------------------------------------------------------

def test_embedding_layer_matches_torch():
    t, d = pair("Embedding", 6, 3, padding_idx=1)
    ids = np.array([[0, 1, 5], [1, 2, 2]])
    compare(t, d, [ids])
    assert not d.weight.grad.numpy()[1].any()


def test_embedding_padding_row_starts_at_zero_and_from_pretrained():
    emb = nn.Embedding(5, 2, padding_idx=-1)
    assert emb.padding_idx == 4 and not emb.weight.detach().numpy()[4].any()
    w = dp.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = nn.Embedding.from_pretrained(w)
    assert not frozen.weight.requires_grad and frozen(dp.tensor([1])).tolist() == [[3.0, 4.0]]
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad


def test_embedding_max_norm_matches_torch():
    w = rand(5, 3, seed=3) * 3
    t, d = torch.nn.Embedding(5, 3, max_norm=1.0), nn.Embedding(5, 3, max_norm=1.0)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w, dtype=torch.float32))
    d.load_state_dict({"weight": dp.tensor(w.astype(np.float32))})
    ids = [[0, 2], [2, 4]]
    np.testing.assert_allclose(d(dp.tensor(ids)).detach().numpy(), t(torch.tensor(ids)).detach().numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(d.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-6)


def test_embedding_errors():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"index 12 is out of range .* 10 entries"):
        emb(dp.tensor([1, 12]))
    with pytest.raises(IndexError, match="index -1"):
        emb(dp.tensor([-1]))
    with pytest.raises(RuntimeError, match="integer ids"):
        emb(dp.tensor([1.0]))


# --- shape errors name the layer ------------------------------------------------------------------

def test_bad_input_shapes_name_the_layer():
    with pytest.raises(RuntimeError) as e:
        nn.Linear(784, 10)(dp.zeros(32, 100))
    assert str(e.value) == ("Linear(in_features=784, out_features=10, bias=True): expected input with "
                            "last dimension 784, got shape (32, 100)")
    with pytest.raises(RuntimeError, match=r"LayerNorm\(\(4,\).*expected input with shape \(\*, 4\), got shape \(2, 3\)"):
        nn.LayerNorm(4)(dp.zeros(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*expected 2D or 3D input, got shape \(2, 3, 4, 5\)"):
        nn.BatchNorm1d(3)(dp.zeros(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match=r"BatchNorm1d\(3.*3 channels .* got shape \(2, 4\)"):
        nn.BatchNorm1d(3)(dp.zeros(2, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(dp.zeros(1, 3))
    with pytest.raises(RuntimeError, match="GroupNorm"):
        nn.GroupNorm(2, 4)(dp.zeros(2, 3))
    with pytest.raises(RuntimeError, match=r"linear: input of shape \(2, 3\)"):
        F.linear(dp.zeros(2, 3), dp.zeros(4, 5))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(dp.zeros(2, 3), dp.zeros(4, 3, dtype=dp.float64))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(dp.zeros(2, 3), (4,))
    with pytest.raises(RuntimeError, match="layer_norm: expected weight of the input's dtype float64"):
        nn.LayerNorm(3)(dp.zeros(2, 3, dtype=dp.float64))


# --- an MLP trained the same way in both libraries ---------------------------------------------------

def test_mlp_training_matches_torch():
    def build(lib):
        n = lib.nn
        return n.Sequential(n.Flatten(), n.Linear(12, 16), n.ReLU(), n.LayerNorm(16), n.Linear(16, 16),
                            n.BatchNorm1d(16), n.Tanh(), n.Linear(16, 3))
    t, d = build(torch).double(), build(dp).double()
    d.load_state_dict({k: dp.tensor(v.numpy()) for k, v in t.state_dict().items()})
    t_opt, d_opt = torch.optim.SGD(t.parameters(), lr=0.1), dp.optim.SGD(d.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.standard_normal((8, 3, 4)), rng.standard_normal((8, 3))
        t_loss = ((t(torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        d_loss = ((d(dp.tensor(x)) - dp.tensor(y)) ** 2).mean()
        np.testing.assert_allclose(d_loss.item(), t_loss.item(), rtol=1e-10)
        t_opt.zero_grad(), d_opt.zero_grad()
        t_loss.backward(), d_loss.backward()
        t_opt.step(), d_opt.step()
    for (k, a), b in zip(d.state_dict().items(), t.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


# --- nn.utils ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = [rand(3, 4, seed=1), rand(5, seed=2), rand(2, 2, 2, seed=3)]
    t_params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    d_params = [dp.zeros(*g.shape, dtype=dp.float64, requires_grad=True) for g in grads]
    for tp, dq, g in zip(t_params, d_params, grads):
        tp.grad, dq.grad = torch.tensor(g), dp.tensor(g)
    t_total = torch.nn.utils.clip_grad_norm_(t_params, max_norm, norm_type)
    d_total = nn.utils.clip_grad_norm_(d_params, max_norm, norm_type)
    np.testing.assert_allclose(d_total.numpy(), t_total.numpy(), rtol=1e-12)
    assert d_total.dtype == dp.float64
    for tp, dq in zip(t_params, d_params):
        np.testing.assert_allclose(dq.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_edge_cases():
    p = dp.zeros(3, requires_grad=True)
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0           # no gradients
    p.grad = dp.tensor([float("nan"), 1.0, 2.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    model = nn.Linear(3, 2)
    model(dp.randn(4, 3)).sum().backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), 0.01)
    assert total.item() > 0.01
    assert abs(nn.utils.get_total_norm([q.grad for q in model.parameters()]).item() - 0.01) < 1e-6


def test_clip_grad_value():
    p = dp.zeros(4, requires_grad=True)
    p.grad = dp.tensor([-3.0, -0.5, 0.5, 3.0])
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, -0.5, 0.5, 1.0]


def test_parameters_vector_roundtrip():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (11,) and vec.requires_grad
    nn.utils.vector_to_parameters(dp.arange(11.0), model.parameters())
    assert model[0].weight.tolist() == [[0, 1, 2], [3, 4, 5]] and model[1].bias.tolist() == [10]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    with pytest.raises(TypeError, match="expected diffprog.Tensor"):
        nn.utils.vector_to_parameters([1.0], model.parameters())


# --- what a course lab writes -------------------------------------------------------------------------

def test_student_style_training_loop():
    torch_ = dp                                                    # `import diffprog as torch`
    F_ = torch_.nn.functional

    class Net(torch_.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch_.nn.Linear(4, 16)
            self.drop = torch_.nn.Dropout(0.1)
            self.fc2 = torch_.nn.Linear(16, 3)

        def forward(self, x):
            return self.fc2(self.drop(F_.relu(self.fc1(x))))

    torch_.manual_seed(0)
    model = Net()
    opt = torch_.optim.SGD(model.parameters(), lr=0.5)
    x = torch_.randn(64, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = F_.log_softmax(model(x), dim=1).gather(1, y[:, None]).mean().neg()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch_.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert losses[-1] < 0.5 * losses[0] and acc > 0.8


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(8, 512), (2, 4, 512)])
def test_linear_on_few_rows_takes_the_swapped_product_and_agrees_with_torch(x_shape, bias):
    """A few rows against many out-features: forward as (w @ x.T).T (nn._swapped_pays)."""
    from diffprog.ops import nn as fused
    x, w = rand(*x_shape, dtype=np.float32), rand(1024, 512, seed=1, dtype=np.float32)
    b = rand(1024, seed=2, dtype=np.float32) if bias else None
    assert fused._swapped_pays(x.reshape(-1, 512), w)
    assert not fused._swapped_pays(x.reshape(-1, 512)[:, :64], w[:, :64])     # a short sum
    args = [dp.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    targs = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    y, ty = F.linear(*args), TF.linear(*targs)
    assert y.detach().numpy().flags.c_contiguous
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rand(*ty.shape, seed=3, dtype=np.float32)
    y.backward(dp.tensor(g))
    ty.backward(torch.tensor(g))
    for a, ta in zip(args, targs):
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-4, atol=1e-4)
