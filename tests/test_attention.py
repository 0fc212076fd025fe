"""Scaled dot-product attention, MultiheadAttention and the Transformer stacks vs PyTorch."""
import numpy as np
import pytest
from oracle import DEVICE, check, const, rand, torch

import diffprog as dp
from diffprog import nn
from diffprog.nn import functional as F

TF = torch.nn.functional
TOL = dict(rtol=1e-10, atol=1e-10)
pytestmark = pytest.mark.filterwarnings("ignore:.*(mismatched|enable_nested_tensor):UserWarning")


# --- scaled_dot_product_attention: forward, VJP, double VJP, JVP, finite differences ------

def _bool_mask(*shape, seed=0):
    """A random bool mask whose rows all keep position 0 (no fully masked rows)."""
    m = np.random.default_rng(seed).random(shape) > 0.4
    m[..., 0] = True
    return m


SDPA_CASES = [
    # (q shape, k shape, v shape, kwargs, mask)
    ((3, 4), (5, 4), (5, 2), {}, None),
    ((2, 3, 4), (2, 5, 4), (2, 5, 3), {}, None),
    ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3), {"scale": 0.3}, None),
    ((2, 3, 4), (2, 5, 4), (2, 5, 3), {}, "bool"),
    ((2, 3, 4), (2, 5, 4), (2, 5, 3), {}, "float"),
    ((2, 2, 3, 4), (2, 5, 4), (2, 5, 3), {}, "float4d"),
    ((2, 3, 4), (2, 4, 4), (2, 4, 3), {"is_causal": True}, None),
    ((2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3), {"enable_gqa": True}, None),
]


@pytest.mark.parametrize("qs,ks,vs,kw,mask", SDPA_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sdpa(qs, ks, vs, kw, mask, dtype):
    args = [rand(*qs, seed=1, dtype=dtype), rand(*ks, seed=2, dtype=dtype), rand(*vs, seed=3, dtype=dtype)]
    L, S = qs[-2], ks[-2]
    if mask == "bool":
        args.append(const(_bool_mask(L, S)))
    elif mask == "float":
        args.append(rand(L, S, seed=4, dtype=dtype))                 # differentiated too
    elif mask == "float4d":
        args.append(rand(2, 1, L, S, seed=4, dtype=dtype))
    check(lambda *a: F.scaled_dot_product_attention(*a, **kw),
          lambda *a: TF.scaled_dot_product_attention(*a, **kw), *args, fd=dtype == np.float64)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros(kind):
    """As PyTorch's scaled_dot_product_attention (issue 15): 0, not NaN, with 0 gradients;
    MultiheadAttention keeps NaN there (as PyTorch's)."""
    m = _bool_mask(3, 5)
    m[1] = False
    mask = const(m) if kind == "bool" else const(np.where(m, 0.0, -np.inf))
    check(F.scaled_dot_product_attention, TF.scaled_dot_product_attention,
          rand(2, 3, 4, seed=1), rand(2, 5, 4, seed=2), rand(2, 5, 3, seed=3), mask, fd=False)
    x = dp.ones(1, 2, 4)
    out, _ = nn.MultiheadAttention(4, 1, batch_first=True)(x, x, x, key_padding_mask=dp.tensor([[True, True]]))
    assert bool(out.isnan().all())


def test_sdpa_dropout():
    q = dp.randn(2, 3, 4)
    assert (F.scaled_dot_product_attention(q, q, q, dropout_p=1.0) == 0).all()
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert not np.allclose(out.numpy(), F.scaled_dot_product_attention(q, q, q).numpy())


def test_sdpa_dropout_derivatives():
    """With dropout, the fused op equals the composite (softmax(q k^T / sqrt(E)) * keep) @ v
    using the same dropout draw: forward, VJP, double VJP and JVP."""
    from diffprog.autograd import forward_ad as fwAD
    from diffprog.random import dropout_mask
    q, k, v = (dp.tensor(rand(2, 3, 4, seed=i), requires_grad=True) for i in (1, 2, 3))
    dq, dk, dv = (dp.tensor(rand(2, 3, 4, seed=i)) for i in (4, 5, 6))

    def fused():
        dp.manual_seed(7)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)

    def composite():
        dp.manual_seed(7)
        keep = dropout_mask(q, 0.4, (2, 3, 3))
        return ((q @ k.mT / 2).softmax(-1) * keep) @ v

    results = []
    for fn in (fused, composite):
        out = fn()
        g = dp.autograd.grad(out, (q, k, v), dp.tensor(rand(2, 3, 4, seed=8)), create_graph=True)
        gg = dp.autograd.grad(sum((x * x).sum() for x in g), (q, k, v))
        with fwAD.dual_level():
            qd, kd, vd = (fwAD.make_dual(a.detach(), t) for a, t in ((q, dq), (k, dk), (v, dv)))
            dp.manual_seed(7)
            tangent = fwAD.unpack_dual(F.scaled_dot_product_attention(qd, kd, vd, dropout_p=0.4)
                                       if fn is fused else
                                       ((qd @ kd.mT / 2).softmax(-1) * dropout_mask(q, 0.4, (2, 3, 3))) @ vd
                                       ).tangent
        results.append([out, *g, *gg, tangent])
    assert not np.allclose(results[0][0].detach().numpy(),
                           F.scaled_dot_product_attention(q, k, v).detach().numpy())
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL)


def test_sdpa_errors():
    q = dp.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"\(4, 4\).*\(2, 3, 3\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dp.zeros(4, 4))
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dp.zeros(3, 3), is_causal=True)
    with pytest.raises(RuntimeError, match="do not match"):
        F.scaled_dot_product_attention(q, dp.randn(2, 3, 5), q)


# --- modules: weights copied from torch, eval mode ------------------------------------------

def _pair(cls, *args, **kw):
    """The same module in torch (float64, eval) and diffprog, diffprog holding torch's weights."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(*args, **kw, dtype=torch.float64).eval()
    dm = getattr(nn, cls)(*args, **kw, dtype=dp.float64).eval()
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict({k: dp.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return tm, dm


def _compare(tm, dm, inputs, kwargs=None, n_out=1):
    """Forward outputs, and gradients of a random linear function of them w.r.t. the float
    inputs and every parameter."""
    kwargs = kwargs or {}
    res = {}
    for lib, m in ((torch, tm), (dp, dm)):
        xs = [lib.tensor(x, requires_grad=True) for x in inputs]
        kw = {k: (lib.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
        outs = m(*xs, **kw)
        outs = [o for o in (outs if isinstance(outs, tuple) else (outs,)) if o is not None]
        rng = np.random.default_rng(0)
        loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs)
        loss.backward()
        res[lib] = ([o.detach().numpy() for o in outs],
                    [x.grad.numpy() for x in xs if getattr(x, "requires_grad", False)],
                    {k: p.grad.numpy() for k, p in m.named_parameters() if p.grad is not None})
    (to, tg, tp), (do, dg, dpg) = res[torch], res[dp]
    assert len(do) == len(to) == n_out
    for a, b in zip(do, to):
        np.testing.assert_allclose(a, b, **TOL, err_msg="forward")
    assert len(dg) == len(tg) > 0
    for a, b in zip(dg, tg):
        np.testing.assert_allclose(a, b, **TOL, err_msg="input grad")
    assert sorted(dpg) == sorted(tp) and tp
    for k in tp:
        np.testing.assert_allclose(dpg[k], tp[k], **TOL, err_msg=f"grad of {k}")


N, L, S, E, H = 2, 3, 4, 6, 2

MHA_CASES = [
    # (constructor kwargs, self-attention?, forward kwargs)
    ({}, True, {}),
    ({}, False, {}),
    ({"batch_first": True}, False, {}),
    ({"bias": False}, True, {"average_attn_weights": False}),
    ({"kdim": 5, "vdim": 3}, False, {}),
    ({"add_bias_kv": True}, False, {"key_padding_mask": "bool"}),
    ({"add_zero_attn": True}, False, {"attn_mask": "float"}),
    ({"add_bias_kv": True, "add_zero_attn": True}, False,
     {"attn_mask": "bool3d", "key_padding_mask": "float"}),
    ({}, False, {"key_padding_mask": "bool", "attn_mask": "bool"}),
    ({}, True, {"attn_mask": "causal", "is_causal": True, "need_weights": False}),
    ({"batch_first": True}, True, {"key_padding_mask": "bool"}),
    ({"dropout": 0.5}, False, {"unbatched": True, "key_padding_mask": "bool"}),
]


def _masks(fkw, L, S):
    """Turn the mask names of a case into arrays (True = masked out in MHA)."""
    kw = dict(fkw)
    unbatched = kw.pop("unbatched", False)
    kpm = kw.get("key_padding_mask")
    if kpm == "bool":
        kw["key_padding_mask"] = ~_bool_mask(S, seed=5) if unbatched else ~_bool_mask(N, S, seed=5)
    elif kpm == "float":
        kw["key_padding_mask"] = rand(N, S, seed=6)
    am = kw.get("attn_mask")
    if am == "bool":
        kw["attn_mask"] = ~_bool_mask(L, S, seed=7)
    elif am == "bool3d":
        kw["attn_mask"] = ~_bool_mask(N * H, L, S, seed=7)
    elif am == "float":
        kw["attn_mask"] = rand(L, S, seed=8)
    elif am == "causal":
        kw["attn_mask"] = np.triu(np.full((L, S), -np.inf), 1)
    return kw, unbatched


@pytest.mark.parametrize("ckw,self_attn,fkw", MHA_CASES)
def test_multihead_attention(ckw, self_attn, fkw):
    tm, dm = _pair("MultiheadAttention", E, H, **ckw)
    Lk = L if self_attn else S
    kw, unbatched = _masks(fkw, L, Lk)
    lead = (L,) if unbatched else (N, L) if ckw.get("batch_first") else (L, N)
    klead = (Lk,) if unbatched else (N, Lk) if ckw.get("batch_first") else (Lk, N)
    q = rand(*lead, E, seed=1)
    k = rand(*klead, ckw.get("kdim", E), seed=2)
    v = rand(*klead, ckw.get("vdim", E), seed=3)
    if self_attn:
        # the same tensor as query, key and value: torch's packed projection path
        res = {}
        for lib, m in ((torch, tm), (dp, dm)):
            x = lib.tensor(q, requires_grad=True)
            masks = {a: (lib.tensor(b) if isinstance(b, np.ndarray) else b) for a, b in kw.items()}
            out = m(x, x, x, **masks)
            assert (out[1] is None) == (kw.get("need_weights") is False)
            loss = sum((o * lib.tensor(rand(*o.shape, seed=9))).sum() for o in out if o is not None)
            loss.backward()
            res[lib] = [o.detach().numpy() for o in out if o is not None] + [x.grad.numpy()] + \
                [p.grad.numpy() for _, p in m.named_parameters()]
        for a, b in zip(res[dp], res[torch], strict=True):
            np.testing.assert_allclose(a, b, **TOL)
        return
    _compare(tm, dm, [q, k, v], kw, n_out=1 if kw.get("need_weights") is False else 2)


def test_multihead_attention_higher_order():
    """Double VJP, JVP and finite differences through a module with fixed weights."""
    tm, dm = _pair("MultiheadAttention", E, H, kdim=5)
    dm.to(DEVICE)
    mask = ~_bool_mask(N, S, seed=5)
    check(lambda q, k, v, m: dm(q, k, v, key_padding_mask=m),
          lambda q, k, v, m: tm(q, k, v, key_padding_mask=m),
          rand(L, N, E, seed=1), rand(S, N, 5, seed=2), rand(S, N, E, seed=3), const(mask))


def test_multihead_attention_state_dict_and_errors():
    for kw in ({}, {"kdim": 5, "vdim": 3}, {"add_bias_kv": True, "bias": False}):
        tm, dm = _pair("MultiheadAttention", E, H, **kw)
        assert {k: tuple(v.shape) for k, v in dm.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in tm.state_dict().items()}
    x = dp.randn(L, N, E, dtype=dp.float64)
    with pytest.raises(RuntimeError, match=r"\(2, 2\).*\(3, 3\)"):
        dm(x, x, x, attn_mask=dp.zeros(2, 2))
    with pytest.raises(RuntimeError, match=r"\(3, 3, 3\).*\(4, 3, 3\)"):
        dm(x, x, x, attn_mask=dp.zeros(3, 3, 3))
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(2, 5\)"):
        dm(x, x, x, key_padding_mask=dp.zeros(2, 5, dtype=dp.bool))
    with pytest.raises(RuntimeError, match="attn_mask"):
        dm(x, x, x, is_causal=True)
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(5, 2)


# --- transformer layers -------------------------------------------------------------------

LAYER_CASES = [(nf, act, bf) for nf in (False, True) for act in ("relu", "gelu") for bf in (False, True)]


@pytest.mark.parametrize("norm_first,activation,batch_first", LAYER_CASES)
def test_encoder_layer(norm_first, activation, batch_first):
    tm, dm = _pair("TransformerEncoderLayer", E, H, dim_feedforward=8, norm_first=norm_first,
                   activation=activation, batch_first=batch_first)
    x = rand(*((N, L) if batch_first else (L, N)), E, seed=1)
    _compare(tm, dm, [x], {"src_mask": np.triu(np.full((L, L), -np.inf), 1),
                           "src_key_padding_mask": ~_bool_mask(N, L, seed=3)})


@pytest.mark.parametrize("norm_first,activation,batch_first", LAYER_CASES)
def test_decoder_layer(norm_first, activation, batch_first):
    tm, dm = _pair("TransformerDecoderLayer", E, H, dim_feedforward=8, norm_first=norm_first,
                   activation=activation, batch_first=batch_first)
    lead = (lambda n: (N, n)) if batch_first else (lambda n: (n, N))
    tgt, mem = rand(*lead(L), E, seed=1), rand(*lead(S), E, seed=2)
    _compare(tm, dm, [tgt, mem], {"tgt_mask": np.triu(np.full((L, L), -np.inf), 1), "tgt_is_causal": True,
                                  "memory_key_padding_mask": ~_bool_mask(N, S, seed=3)})


def test_encoder_decoder_stacks():
    te, de = _pair("TransformerEncoderLayer", E, H, dim_feedforward=8)
    torch.manual_seed(1)
    tenc = torch.nn.TransformerEncoder(te, 2, torch.nn.LayerNorm(E, dtype=torch.float64),
                                       enable_nested_tensor=False).eval()
    denc = nn.TransformerEncoder(de, 2, nn.LayerNorm(E, dtype=dp.float64)).eval()
    assert list(denc.state_dict()) == list(tenc.state_dict())
    assert denc.layers[0].linear1.weight is not denc.layers[1].linear1.weight      # deep copies
    denc.load_state_dict({k: dp.tensor(v.numpy()) for k, v in tenc.state_dict().items()})
    _compare(tenc, denc, [rand(L, N, E, seed=1)], {"src_key_padding_mask": ~_bool_mask(N, L, seed=2)})


@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
def test_transformer(batch_first, norm_first):
    tm, dm = _pair("Transformer", E, H, 2, 1, 8, batch_first=batch_first, norm_first=norm_first)
    lead = (lambda n: (N, n)) if batch_first else (lambda n: (n, N))
    mask = nn.Transformer.generate_square_subsequent_mask(L, dtype=dp.float64).numpy()
    _compare(tm, dm, [rand(*lead(S), E, seed=1), rand(*lead(L), E, seed=2)],
             {"tgt_mask": mask, "src_key_padding_mask": ~_bool_mask(N, S, seed=3),
              "memory_key_padding_mask": ~_bool_mask(N, S, seed=4)})
    with pytest.raises(RuntimeError, match="batch number"):
        src = dp.randn(1, S, E) if batch_first else dp.randn(S, 1, E)
        dm(src.double(), dp.randn(*lead(L), E, dtype=dp.float64))


def test_generate_square_subsequent_mask():
    for n in (0, 1, 4):
        np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(n).numpy(),
                                      torch.nn.Transformer.generate_square_subsequent_mask(n).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3).dtype == dp.float32


def test_training_dropout_changes_output():
    dm = nn.TransformerEncoderLayer(E, H, dim_feedforward=8, dropout=0.5)
    x = dp.randn(L, N, E)
    a, b = dm(x), dm.eval()(x)
    assert a.shape == b.shape == (L, N, E) and not np.allclose(a.detach().numpy(), b.detach().numpy())
    assert dm.activation is F.relu and "self_attn" in dict(dm.named_children())


def test_callable_activation():
    layer = nn.TransformerEncoderLayer(E, H, dim_feedforward=8, activation="gelu").eval()
    same = nn.TransformerEncoderLayer(E, H, dim_feedforward=8, activation=F.gelu).eval()
    same.load_state_dict(layer.state_dict())
    x = dp.randn(L, N, E)
    np.testing.assert_allclose(same(x).detach().numpy(), layer(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
