"""The fused whole-sequence LSTM op against PyTorch and against the per-step path, and the
errors sequence layers give for badly shaped inputs and masks."""
import numpy as np
import pytest
from oracle import check, rand, torch

import diffprog as dp
from diffprog import nn
from diffprog.nn import functional as F
from diffprog.ops.rnn import LSTMLayer


# --- LSTMLayer: forward, VJP, double VJP, JVP vs a per-step PyTorch loop --------------

def _torch_layer(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """The same layer written with torch ops, one step at a time."""
    H = h.shape[-1]
    hs = [None] * x.shape[0]
    for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
        a = x[t] @ w_ih.T + h @ w_hh.T + (0 if b_ih is None else b_ih + b_hh)
        i, f, g, o = a[:, :H].sigmoid(), a[:, H:2 * H].sigmoid(), a[:, 2 * H:3 * H].tanh(), a[:, 3 * H:].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        hs[t] = h
    return torch.stack(hs), h, c


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lstm_layer_op(reverse, bias, dtype):
    T, B, I, H = 4, 2, 5, 3
    args = [rand(T, B, I, seed=1, dtype=dtype), rand(B, H, seed=2, dtype=dtype),
            rand(B, H, seed=3, dtype=dtype), rand(4 * H, I, seed=4, dtype=dtype),
            rand(4 * H, H, seed=5, dtype=dtype)]
    if bias:
        args += [rand(4 * H, seed=6, dtype=dtype), rand(4 * H, seed=7, dtype=dtype)]
    check(lambda *a: LSTMLayer.apply(*a, reverse=reverse),
          lambda *a: _torch_layer(*a, reverse=reverse), *args, fd=dtype == np.float64)


def _per_step(lstm, x, h0, c0):
    """A single-layer LSTM module's forward written with dp.lstm_cell, one step at a time."""
    hs, h, c = [], h0, c0
    for t in range(x.shape[0]):
        h, c = dp.lstm_cell(x[t], (h, c), lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0,
                            lstm.bias_hh_l0)
        hs.append(h)
    return dp.stack(hs), h, c


@pytest.mark.parametrize("dtype,tol", [(dp.float64, 1e-12), (dp.float32, 2e-6)])
def test_fused_layer_equals_per_step_path(dtype, tol):
    """Outputs and every gradient of nn.LSTM (fused path) equal the lstm_cell loop."""
    dp.manual_seed(0)
    lstm = nn.LSTM(3, 5, dtype=dtype)
    x = dp.randn(6, 2, 3, dtype=dtype)
    h0, c0 = dp.randn(1, 2, 5, dtype=dtype), dp.randn(1, 2, 5, dtype=dtype)
    cots = [dp.randn(6, 2, 5, dtype=dtype), dp.randn(2, 5, dtype=dtype), dp.randn(2, 5, dtype=dtype)]
    results = []
    for fused in (True, False):
        leaves = [t.detach().requires_grad_() for t in (x, h0, c0)]
        if fused:
            out, (h, c) = lstm(leaves[0], (leaves[1], leaves[2]))
            outs = (out, h[0], c[0])
            assert type(out.grad_fn).__name__ == "LSTMLayer"
        else:
            outs = _per_step(lstm, leaves[0], leaves[1][0], leaves[2][0])
        loss = sum((o * g).sum() for o, g in zip(outs, cots))
        grads = dp.autograd.grad(loss, leaves + list(lstm.parameters()))
        results.append([o.detach().numpy() for o in outs] + [g.numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_fused_layer_double_backward_equals_per_step_path():
    """create_graph through the fused op (its differentiable fallback) equals the cell loop."""
    dp.manual_seed(1)
    lstm = nn.LSTM(2, 3, dtype=dp.float64)
    x = dp.randn(4, 2, 2, dtype=dp.float64)
    zeros = dp.zeros(2, 3, dtype=dp.float64)
    second = []
    for fused in (True, False):
        xs = x.detach().requires_grad_()
        out = lstm(xs)[0] if fused else _per_step(lstm, xs, zeros, zeros)[0]
        (g,) = dp.autograd.grad(out.tanh().sum(), xs, create_graph=True)
        second.append([s.numpy() for s in dp.autograd.grad(g.square().sum(), [xs] + list(lstm.parameters()))])
    for a, b in zip(*second):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fused_layer_is_one_node_per_layer_and_direction():
    out, _ = nn.LSTM(3, 4, num_layers=2, bidirectional=True)(dp.randn(9, 2, 3))
    nodes = _nodes(out)
    assert sum(type(n).__name__ == "LSTMLayer" for n in nodes) == 4
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
    with pytest.raises(RuntimeError, match="lstm: expected input, states and weights of the same dtype"):
        LSTMLayer.apply(x, dp.zeros(2, 4), dp.zeros(2, 4), w, dp.randn(16, 4))
