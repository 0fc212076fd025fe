"""The fused whole-sequence LSTM, GRU and RNN ops against PyTorch and against the per-step
path, and the errors sequence layers give for badly shaped inputs and masks."""
import warnings

import numpy as np
import pytest
from oracle import check, rand, torch

import diffprog as dp
from diffprog import nn
from diffprog.nn import functional as F
from diffprog.nn.utils import rnn as dp_rnn
from diffprog.ops.rnn import GRULayer, LSTMLayer, RNNLayer


# --- the whole-layer ops: forward, VJP, double VJP, JVP vs a per-step PyTorch loop ------

def _torch_cell(kind, a_x, a_h, state):
    """One step from the two projections (x @ w_ih.T + b_ih, h @ w_hh.T + b_hh), in torch."""
    h = state[0]
    H = h.shape[-1]
    if kind == "lstm":
        a = a_x + a_h
        i, f, g, o = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid(), a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
        c = f * state[1] + i * g
        return o * c.tanh(), c
    if kind == "gru":
        r, z = (a_x[:, :2 * H] + a_h[:, :2 * H]).sigmoid().split(H, 1)
        n = (a_x[:, 2 * H:] + r * a_h[:, 2 * H:]).tanh()
        return ((1 - z) * n + z * h,)
    return ((a_x + a_h).tanh() if kind == "rnn_tanh" else (a_x + a_h).relu(),)


def _torch_layer(kind, x, *args, reverse=False):
    """The same layer written with torch ops, one step at a time."""
    k = 2 if kind == "lstm" else 1
    state, (w_ih, w_hh), bias = args[:k], args[k:k + 2], args[k + 2:]
    hs = [None] * x.shape[0]
    for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
        a_x, a_h = x[t] @ w_ih.T, state[0] @ w_hh.T
        if bias:
            a_x, a_h = a_x + bias[0], a_h + bias[1]
        state = _torch_cell(kind, a_x, a_h, state)
        hs[t] = state[0]
    return (torch.stack(hs),) + tuple(state)


KINDS = {"lstm": (LSTMLayer, {}, 4), "gru": (GRULayer, {}, 3),
         "rnn_tanh": (RNNLayer, {"nonlinearity": "tanh"}, 1), "rnn_relu": (RNNLayer, {"nonlinearity": "relu"}, 1)}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_op(kind, reverse, bias, dtype):
    op, options, G = KINDS[kind]
    T, B, I, H = 4, 2, 5, 3
    states = [rand(B, H, seed=2 + j, dtype=dtype) for j in range(2 if kind == "lstm" else 1)]
    args = [rand(T, B, I, seed=1, dtype=dtype), *states, rand(G * H, I, seed=4, dtype=dtype),
            rand(G * H, H, seed=5, dtype=dtype)]
    if bias:
        args += [rand(G * H, seed=6, dtype=dtype), rand(G * H, seed=7, dtype=dtype)]
    check(lambda *a: op.apply(*a, reverse=reverse, **options),
          lambda *a: _torch_layer(kind, *a, reverse=reverse), *args, fd=dtype == np.float64)


CELLS = {"LSTM": dp.lstm_cell, "GRU": dp.gru_cell, "RNN": dp.rnn_tanh_cell}


def _per_step(module, x, *state):
    """A single-layer module's forward written with its cell function, one step at a time."""
    cell, hs = CELLS[type(module).__name__], []
    for t in range(x.shape[0]):
        out = cell(x[t], state if len(state) == 2 else state[0], module.weight_ih_l0, module.weight_hh_l0,
                   module.bias_ih_l0, module.bias_hh_l0)
        state = out if isinstance(out, tuple) else (out,)
        hs.append(state[0])
    return (dp.stack(hs),) + state


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("dtype,tol", [(dp.float64, 1e-12), (dp.float32, 2e-6)])
def test_fused_layer_equals_per_step_path(name, dtype, tol):
    """Outputs and every gradient of the module (fused path) equal the cell loop."""
    dp.manual_seed(0)
    module = getattr(nn, name)(3, 5, dtype=dtype)
    n_state = 2 if name == "LSTM" else 1
    x = dp.randn(6, 2, 3, dtype=dtype)
    state = [dp.randn(1, 2, 5, dtype=dtype) for _ in range(n_state)]
    cots = [dp.randn(6, 2, 5, dtype=dtype)] + [dp.randn(2, 5, dtype=dtype) for _ in range(n_state)]
    results = []
    for fused in (True, False):
        leaves = [t.detach().requires_grad_() for t in [x] + state]
        if fused:
            out, final = module(leaves[0], tuple(leaves[1:]) if n_state == 2 else leaves[1])
            outs = (out,) + tuple(f[0] for f in (final if n_state == 2 else (final,)))
            assert type(out.grad_fn).__name__ == f"{name}Layer"
        else:
            outs = _per_step(module, leaves[0], *(s[0] for s in leaves[1:]))
        loss = sum((o * g).sum() for o, g in zip(outs, cots))
        grads = dp.autograd.grad(loss, leaves + list(module.parameters()))
        results.append([o.detach().numpy() for o in outs] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", list(CELLS))
def test_fused_layer_double_backward_equals_per_step_path(name):
    """create_graph through the fused op (its differentiable fallback) equals the cell loop."""
    dp.manual_seed(1)
    module = getattr(nn, name)(2, 3, dtype=dp.float64)
    x = dp.randn(4, 2, 2, dtype=dp.float64)
    zeros = [dp.zeros(2, 3, dtype=dp.float64)] * (2 if name == "LSTM" else 1)
    second = []
    for fused in (True, False):
        xs = x.detach().requires_grad_()
        out = module(xs)[0] if fused else _per_step(module, xs, *zeros)[0]
        (g,) = dp.autograd.grad(out.tanh().sum(), xs, create_graph=True)
        second.append([s.numpy() for s in dp.autograd.grad(g.square().sum(), [xs] + list(module.parameters()))])
    for a, b in zip(*second):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


MODULES = [("LSTM", {}), ("GRU", {}), ("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"})]


def _padded_and_packed(module, x, hx):
    """The module on a padded batch (fused layers) and on the same batch packed with equal
    lengths (the per-step path): outputs, final states and gradients of all inputs."""
    results = []
    for packed in (False, True):
        leaves = [t.detach().requires_grad_() for t in (x,) + hx]
        inp = dp_rnn.pack_padded_sequence(leaves[0], [x.shape[1]] * x.shape[0], batch_first=True) \
            if packed else leaves[0]
        dp.manual_seed(3)                         # the same dropout masks on both paths
        out, state = module(inp, None if not hx else tuple(leaves[1:]) if len(hx) == 2 else leaves[1])
        out = out.data.reshape(x.shape[1], x.shape[0], -1).transpose(0, 1) if packed else out
        outs = [out] + list(state if isinstance(state, tuple) else (state,))
        loss = sum((o * o.detach().cos()).sum() for o in outs)
        grads = dp.autograd.grad(loss, leaves + list(module.parameters()))
        results.append([o.detach().numpy() for o in outs] + [g.numpy() for g in grads])
    return results


@pytest.mark.parametrize("name,extra", MODULES, ids=["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("config", [dict(num_layers=2, bidirectional=True), dict(num_layers=3, bias=False),
                                    dict(num_layers=2, dropout=0.5, bidirectional=True)],
                         ids=["2-layer-bidirectional", "3-layer-no-bias", "dropout"])
@pytest.mark.parametrize("with_h0", [True, False])
def test_fused_modules_equal_per_step_path(name, extra, config, with_h0):
    """Every configuration of the modules: the fused layers equal the per-step cells."""
    dp.manual_seed(0)
    module = getattr(nn, name)(3, 4, batch_first=True, dtype=dp.float64, **extra, **config)
    L = config["num_layers"] * (2 if config.get("bidirectional") else 1)
    x = dp.randn(2, 5, 3, dtype=dp.float64)
    hx = tuple(dp.randn(L, 2, 4, dtype=dp.float64) for _ in range(2 if name == "LSTM" else 1)) if with_h0 else ()
    fused, per_step = _padded_and_packed(module, x, hx)
    assert len(fused) == len(per_step)
    for i, (a, b) in enumerate(zip(fused, per_step)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=str(i))


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_fused_layer_is_one_node_per_layer_and_direction(name):
    out, _ = getattr(nn, name)(3, 4, num_layers=2, bidirectional=True)(dp.randn(9, 2, 3))
    nodes = _nodes(out)
    assert sum(type(n).__name__ == f"{name}Layer" for n in nodes) == 4
    assert len(nodes) < 30, len(nodes)        # independent of the sequence length (9)


def _nodes(out):
    """The graph nodes behind out."""
    seen, todo, nodes = set(), [out.grad_fn], []
    while todo:
        node = todo.pop()
        if node is not None and id(node) not in seen and hasattr(node, "edges"):
            seen.add(id(node))
            nodes.append(node)
            todo.extend(n for n, _ in node.next_functions)
    return nodes


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_vmap_over_sequences_folds_into_one_layer(name, monkeypatch):
    """vmap over inputs and states (weights shared) runs each layer once on the folded
    batch, and equals running the module once per element, gradients included."""
    dp.manual_seed(2)
    module = getattr(nn, name)(3, 4, num_layers=2, bidirectional=True, dtype=dp.float64)
    xs, h0 = dp.randn(3, 5, 2, 3, dtype=dp.float64), dp.randn(3, 4, 2, 4, dtype=dp.float64)

    def f(x, h):
        out, _ = module(x, (h, h) if name == "LSTM" else h)
        return out.tanh().sum()
    op, runs = {"LSTM": LSTMLayer, "GRU": GRULayer, "RNN": RNNLayer}[name], []
    run = op._run
    monkeypatch.setattr(op, "_run", lambda ctx, *a: runs.append(1) or run(ctx, *a))
    got = dp.func.vmap(dp.func.grad(f, argnums=(0, 1)))(xs, h0)
    values = dp.func.vmap(f)(xs, h0)
    assert len(runs) == 8                      # 2 layers x 2 directions, twice (not per element)
    for i in range(3):
        want = dp.func.grad(f, argnums=(0, 1))(xs[i], h0[i])
        np.testing.assert_allclose(values[i].detach().numpy(), f(xs[i], h0[i]).detach().numpy(), rtol=1e-12)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a[i].detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)


# --- bad inputs: the layer, the expected layout and the shapes in the message -----------

@pytest.mark.parametrize("make,shape,msg", [
    (lambda: nn.LSTM(10, 20, batch_first=True), (4, 7, 3),
     r"LSTM\(10, 20, batch_first=True\): expected input of shape \(batch, seq, 10\), got \(4, 7, 3\)"),
    (lambda: nn.LSTM(10, 20), (4, 7, 3),
     r"LSTM\(10, 20\): expected input of shape \(seq, batch, 10\), got \(4, 7, 3\)"),
    (lambda: nn.GRU(10, 20, num_layers=2), (7, 3),
     r"GRU\(10, 20, num_layers=2\): expected input of shape \(seq, 10\), got \(7, 3\)"),
    (lambda: nn.RNN(4, 5, batch_first=True), (2, 3, 4, 4),
     r"RNN\(4, 5, batch_first=True\): expected input of shape \(batch, seq, 4\) or unbatched \(seq, 4\), "
     r"got \(2, 3, 4, 4\)"),
])
def test_recurrent_input_errors(make, shape, msg):
    with pytest.raises((RuntimeError, ValueError), match=msg):
        make()(dp.randn(*shape))


def test_attention_input_errors():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = dp.randn(4, 7, 8)
    with pytest.raises(RuntimeError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2, batch_first=True\): "
                                           r"expected query of shape \(batch, seq, 8\) or unbatched \(seq, 8\), "
                                           r"got \(4, 7, 3\)"):
        mha(dp.randn(4, 7, 3), x, x)
    with pytest.raises(RuntimeError, match=r"expected key of shape \(batch, seq, 8\).*got \(4, 7\)"):
        mha(x, dp.randn(4, 7), x)
    with pytest.raises(RuntimeError, match=r"same batch size"):
        mha(x, dp.randn(3, 7, 8), dp.randn(3, 7, 8))
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    with pytest.raises(RuntimeError, match=r"TransformerEncoderLayer\(d_model=8, nhead=2, batch_first=True\): "
                                           r"expected src of shape \(batch, seq, 8\) or unbatched \(seq, 8\), "
                                           r"got \(4, 7, 6\)"):
        layer(dp.randn(4, 7, 6))
    dec = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
    with pytest.raises(RuntimeError, match=r"TransformerDecoderLayer\(d_model=8, nhead=2\): expected memory of "
                                           r"shape \(seq, batch, 8\)"):
        dec(dp.randn(7, 4, 8), dp.randn(5, 4, 3))


def test_mask_errors_name_both_shapes():
    x = dp.randn(4, 7, 8)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    with pytest.raises(RuntimeError, match=r"MultiheadAttention.*attn_mask of shape \(6, 6\).*\(7, 7\).*"
                                           r"\(8, 7, 7\)"):
        mha(x, x, x, attn_mask=dp.zeros(6, 6))
    with pytest.raises(RuntimeError, match=r"key_padding_mask of shape \(batch, source seq\) = \(4, 7\), "
                                           r"got \(7, 4\)"):
        mha(x, x, x, key_padding_mask=dp.zeros(7, 4, dtype=dp.bool))
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True), 2)
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(5, 5\).*\(7, 7\)"):
        enc(x, mask=nn.Transformer.generate_square_subsequent_mask(5))
    with pytest.raises(RuntimeError, match=r"key_padding_mask.*\(4, 7\), got \(4, 5\)"):
        enc(x, src_key_padding_mask=dp.zeros(4, 5, dtype=dp.bool))
    q = dp.randn(2, 3, 5, 4)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: attn_mask of shape \(5, 6\).*"
                                           r"\(2, 3, 5, 5\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dp.zeros(5, 6))


def test_dtype_mismatch():
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): input dtype float64 does not match weight dtype "
                                         r"float32"):
        nn.LSTM(3, 4)(dp.randn(5, 2, 3, dtype=dp.float64))
    x, w = dp.randn(5, 2, 3, dtype=dp.float64), dp.randn(16, 3)
    with pytest.raises(RuntimeError, match="lstm_layer: expected input, states and weights of the same dtype"):
        LSTMLayer.apply(x, dp.zeros(2, 4), dp.zeros(2, 4), w, dp.randn(16, 4))
