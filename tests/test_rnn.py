"""Recurrent layers, their fused cell ops and the packing utilities, against PyTorch."""
import warnings

import numpy as np
import pytest
from oracle import check, rand, torch

import diffprog as dp
from diffprog import nn
from diffprog.nn.utils import rnn as dp_rnn

trnn = torch.nn.utils.rnn
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


# --- the fused cell ops: forward, VJP, double VJP, JVP, finite differences -------------

def _cell_args(gates, B=3, I=5, H=4, dtype=np.float64, lstm=False):
    h = rand(B, H, seed=2, dtype=dtype)
    hx = (h, rand(B, H, seed=3, dtype=dtype)) if lstm else h
    return (rand(B, I, seed=1, dtype=dtype), hx, rand(gates * H, I, seed=4, dtype=dtype),
            rand(gates * H, H, seed=5, dtype=dtype), rand(gates * H, seed=6, dtype=dtype),
            rand(gates * H, seed=7, dtype=dtype))


@pytest.mark.parametrize("name,gates,lstm", [("lstm_cell", 4, True), ("gru_cell", 3, False),
                                             ("rnn_tanh_cell", 1, False), ("rnn_relu_cell", 1, False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cell_ops(name, gates, lstm, dtype):
    args = _cell_args(gates, dtype=dtype, lstm=lstm)
    # relu's second derivative is 0: torch returns zero tensors for the biases there, we
    # return None, which check() counts as a mismatch (see test_relu_cell_double_backward)
    check(getattr(dp, name), getattr(torch, name), *args, fd=dtype == np.float64,
          gradgrad=name != "rnn_relu_cell")


def test_relu_cell_double_backward():
    """Second derivatives of rnn_relu_cell, missing (None) ones counting as zeros."""
    results = []
    for lib in (dp, torch):
        args = [_leaf(a, lib) for a in _cell_args(1)[:1] + _cell_args(1)[2:]]
        h = _leaf(_cell_args(1)[1], lib)
        y = getattr(lib, "rnn_relu_cell")(args[0], h, *args[1:])
        inputs = [args[0], h] + args[1:]
        gs = lib.autograd.grad((y * y).sum(), inputs, create_graph=True)
        second = lib.autograd.grad(sum((g * g).sum() for g in gs), inputs, allow_unused=True)
        results.append([np.zeros(tuple(x.shape)) if s is None else s.detach().numpy()
                        for s, x in zip(second, inputs)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name,gates,lstm", [("lstm_cell", 4, True), ("gru_cell", 3, False)])
def test_cell_ops_without_bias_and_single_row(name, gates, lstm):
    args = _cell_args(gates, B=1, I=2, H=3, lstm=lstm)[:4]
    check(getattr(dp, name), getattr(torch, name), *args)


# --- modules vs torch ------------------------------------------------------------------

def _twins(name, dtype=np.float64, **kw):
    """A torch module and ours with the same weights."""
    t = getattr(torch.nn, name)(**kw).to(torch.float64 if dtype == np.float64 else torch.float32)
    d = getattr(nn, name)(**kw, dtype=dp.float64 if dtype == np.float64 else dp.float32)
    d.load_state_dict({k: dp.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return d, t


def _leaf(a, lib):
    return (dp.tensor(a) if lib is dp else torch.tensor(a)).requires_grad_(True)


def _compare(d_mod, t_mod, x, hx, dtype, packed=None):
    """Forward both, backward random cotangents on output and final states, compare
    outputs, states and gradients w.r.t. input, initial states and every weight."""
    tol = TOL[dtype]
    results = []
    for lib, mod in ((dp, d_mod), (torch, t_mod)):
        xs = _leaf(x, lib)
        hs = None if hx is None else tuple(_leaf(h, lib) for h in hx)
        inp = xs
        if packed is not None:
            utils = dp_rnn if lib is dp else trnn
            inp = utils.pack_padded_sequence(xs, packed, batch_first=mod.batch_first, enforce_sorted=False)
        out, state = mod(inp, None if hs is None else (hs if len(hs) == 2 else hs[0]))
        if packed is not None:
            out = out.data
        states = state if isinstance(state, tuple) else (state,)
        outs = (out,) + tuple(states)
        rng = np.random.default_rng(0)
        cots = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in outs]
        loss = sum((o * (dp.tensor(c) if lib is dp else torch.tensor(c))).sum() for o, c in zip(outs, cots))
        loss.backward()
        grads = [xs.grad] + ([h.grad for h in hs] if hs else []) + [p.grad for p in mod.parameters()]
        results.append(([o.detach().numpy() for o in outs], [g.numpy() for g in grads]))
    (d_outs, d_grads), (t_outs, t_grads) = results
    for i, (a, b) in enumerate(zip(d_outs, t_outs)):
        np.testing.assert_allclose(a, b, err_msg=f"output {i}", **tol)
    assert len(d_grads) == len(t_grads)
    for i, (a, b) in enumerate(zip(d_grads, t_grads)):
        np.testing.assert_allclose(a, b, err_msg=f"gradient {i}", **tol)


MODES = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]


@pytest.mark.parametrize("name,extra", MODES, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_layers_match_torch(name, extra, num_layers, bidirectional, batch_first):
    T, B, I, H = 4, 3, 5, 6
    d, t = _twins(name, input_size=I, hidden_size=H, num_layers=num_layers,
                  bidirectional=bidirectional, batch_first=batch_first, **extra)
    x = rand(*((B, T, I) if batch_first else (T, B, I)), seed=1)
    L = num_layers * (2 if bidirectional else 1)
    hx = (rand(L, B, H, seed=2),) + ((rand(L, B, H, seed=3),) if name == "LSTM" else ())
    _compare(d, t, x, hx, np.float64)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_batch_first_output_is_contiguous(name):
    """The layer op lays a batch-first output out batch-first, so the Linear after it
    copies nothing; a sequence-first one stays sequence-first."""
    for batch_first in (True, False):
        out = getattr(nn, name)(3, 4, batch_first=batch_first)(dp.randn(2, 5, 3))[0]
        assert tuple(out.shape) == (2, 5, 4) and out.is_contiguous()


@pytest.mark.parametrize("name,extra", MODES, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
def test_layers_float32_default_state(name, extra):
    d, t = _twins(name, np.float32, input_size=3, hidden_size=5, num_layers=2, bidirectional=True, **extra)
    _compare(d, t, rand(6, 2, 3, seed=4, dtype=np.float32), None, np.float32)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_proj_size(bidirectional):
    d, t = _twins("LSTM", input_size=4, hidden_size=6, proj_size=3, num_layers=2,
                  bidirectional=bidirectional, batch_first=True)
    L = 2 * (2 if bidirectional else 1)
    _compare(d, t, rand(2, 5, 4, seed=1), (rand(L, 2, 3, seed=2), rand(L, 2, 6, seed=3)), np.float64)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_unbatched_input(name):
    d, t = _twins(name, input_size=3, hidden_size=4, num_layers=2, batch_first=True)
    hx = (rand(2, 4, seed=2),) + ((rand(2, 4, seed=3),) if name == "LSTM" else ())
    _compare(d, t, rand(5, 3, seed=1), hx, np.float64)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_one_fused_op_per_step(name):
    """On the per-step path (here a packed sequence), a time step is two graph nodes (the
    w_hh product and the fused gate op), plus a few per sequence (input projection, split,
    cat, initial state)."""
    T = 7
    out, _ = getattr(nn, name)(3, 4)(dp_rnn.pack_padded_sequence(dp.randn(T, 2, 3), [T, T]))
    seen, todo = set(), [out.data.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and id(node) not in seen and type(node).__name__ != "_AccumulateGrad":
            seen.add(id(node))
            todo.extend(n for n, _ in node.next_functions)
    assert len(seen) <= 2 * T + 4, len(seen)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_layer_forward_mode_and_double_backward(name):
    """JVP through a whole layer against finite differences; the gradient of an input
    gradient's norm against PyTorch (the create_graph path of the fused cells)."""
    from diffprog.autograd import forward_ad as fwAD
    d, t = _twins(name, input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    x, v = rand(5, 2, 3, seed=1), rand(5, 2, 3, seed=2)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(d(fwAD.make_dual(dp.tensor(x), dp.tensor(v)))[0]).tangent
    eps = 1e-6
    fd = (d(dp.tensor(x + eps * v))[0] - d(dp.tensor(x - eps * v))[0]).detach().numpy() / (2 * eps)
    np.testing.assert_allclose(tangent.detach().numpy(), fd, rtol=1e-6, atol=1e-8)
    second = []
    for lib, mod in ((dp, d), (torch, t)):
        xs = _leaf(x, lib)
        (g,) = lib.autograd.grad(mod(xs)[0].square().sum(), xs, create_graph=True)
        (gg,) = lib.autograd.grad(g.square().sum(), xs)
        second.append(gg.numpy())
    np.testing.assert_allclose(*second, rtol=1e-10, atol=1e-10)


def test_no_bias():
    d, t = _twins("GRU", input_size=3, hidden_size=4, bias=False)
    assert [k for k in d.state_dict()] == ["weight_ih_l0", "weight_hh_l0"]
    _compare(d, t, rand(3, 2, 3, seed=1), None, np.float64)


@pytest.mark.parametrize("name,extra", MODES, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_input(name, extra, batch_first):
    lengths = [3, 5, 1, 4]
    d, t = _twins(name, input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                  batch_first=batch_first, **extra)
    x = rand(*((4, 5, 3) if batch_first else (5, 4, 3)), seed=1)
    hx = (rand(4, 4, 4, seed=2),) + ((rand(4, 4, 4, seed=3),) if name == "LSTM" else ())
    _compare(d, t, x, hx, np.float64, packed=lengths)


def test_dropout_between_layers():
    d, t = _twins("LSTM", input_size=3, hidden_size=4, num_layers=2, dropout=0.5)
    d.eval(), t.eval()
    _compare(d, t, rand(4, 2, 3, seed=1), None, np.float64)          # identity in eval mode
    x = dp.tensor(rand(4, 2, 3, seed=1))
    d.train()
    dp.manual_seed(0)
    a = d(x)[0]
    assert not np.allclose(a.detach().numpy(), d.eval()(x)[0].detach().numpy())
    with pytest.warns(UserWarning, match="dropout"):
        nn.GRU(3, 4, dropout=0.2)


def _state(hx, lib):
    return None if hx is None else tuple(map(lib.tensor, hx)) if isinstance(hx, tuple) else lib.tensor(hx)


@pytest.mark.parametrize("name,extra", [("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {}),
                                        ("LSTMCell", {}), ("GRUCell", {})])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_modules(name, extra, batched):
    d, t = _twins(name, input_size=3, hidden_size=4, **extra)
    shape = (2,) if batched else ()
    x, h, c = rand(*shape, 3, seed=1), rand(*shape, 4, seed=2), rand(*shape, 4, seed=3)
    for hx in (None, (h, c) if name == "LSTMCell" else h):
        dx, tx = _leaf(x, dp), _leaf(x, torch)
        dh, th = (_state(hx, lib) for lib in (dp, torch))
        do, to = d(dx, dh), t(tx, th)
        do, to = (do if isinstance(do, tuple) else (do,)), (to if isinstance(to, tuple) else (to,))
        for a, b in zip(do, to):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-10)
        sum(o.sum() for o in do).backward()
        sum(o.sum() for o in to).backward()
        np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        for (k, p), q in zip(d.named_parameters(), t.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=k)
            p.grad = q.grad = None


def test_names_shapes_init_and_repr():
    for kw in [dict(input_size=10, hidden_size=20, num_layers=2, batch_first=True, dropout=0.5,
                    bidirectional=True),
               dict(input_size=3, hidden_size=4, proj_size=2, bias=False)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")        # dropout with one layer
            t, d = torch.nn.LSTM(**kw), nn.LSTM(**kw)
        assert repr(d) == repr(t)
        assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in t.state_dict().items()}
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == repr(torch.nn.RNN(3, 4, nonlinearity="relu"))
    for name, kw in [("RNNCell", dict(bias=False, nonlinearity="relu")), ("LSTMCell", {}), ("GRUCell", {})]:
        assert repr(getattr(nn, name)(3, 4, **kw)) == repr(getattr(torch.nn, name)(3, 4, **kw))
        assert list(getattr(nn, name)(3, 4).state_dict()) == list(getattr(torch.nn, name)(3, 4).state_dict())
    w = np.concatenate([p.detach().numpy().ravel() for p in nn.GRU(5, 16, num_layers=2).parameters()])
    assert np.abs(w).max() <= 0.25 and np.abs(w).max() > 0.2 and abs(w.mean()) < 0.02


def test_errors():
    with pytest.raises(RuntimeError, match=r"LSTM\(10, 20, batch_first=True\): expected input of "
                                           r"shape \(batch, seq, 10\), got \(4, 7, 12\)"):
        nn.LSTM(10, 20, batch_first=True)(dp.randn(4, 7, 12))
    with pytest.raises(RuntimeError, match=r"GRU\(10, 20\): expected input of shape \(seq, batch, 10\)"):
        nn.GRU(10, 20)(dp.randn(4, 7, 12))
    with pytest.raises(ValueError, match=r"RNN\(3, 4\): expected input of shape \(seq, batch, 3\) or "
                                         r"unbatched \(seq, 3\), got \(1, 2, 3, 3\)"):
        nn.RNN(3, 4)(dp.randn(1, 2, 3, 3))
    with pytest.raises(RuntimeError, match=r"expected h0 of shape \(2, 2, 4\), got \(1, 2, 4\)"):
        nn.GRU(3, 4, num_layers=2)(dp.randn(5, 2, 3), dp.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match=r"expected c0 of shape \(1, 2, 4\), got \(1, 2, 5\)"):
        nn.LSTM(3, 4)(dp.randn(5, 2, 3), (dp.zeros(1, 2, 4), dp.zeros(1, 2, 5)))
    with pytest.raises(RuntimeError, match=r"LSTMCell\(3, 4\): expected input of shape \(batch, 3\)"):
        nn.LSTMCell(3, 4)(dp.randn(2, 5))
    with pytest.raises(RuntimeError, match=r"lstm_cell: input \(2, 5\)"):
        dp.lstm_cell(dp.randn(2, 5), (dp.randn(2, 4), dp.randn(2, 4)), dp.randn(16, 3), dp.randn(16, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)


# --- padding and packing utilities -----------------------------------------------------

def _seqs(lengths, lib, feat=(2,)):
    return [_leaf(rand(n, *feat, seed=n), lib) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value", [0.0, -1.5])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(batch_first, padding_value, padding_side):
    lengths = [2, 4, 1]
    ds, ts = _seqs(lengths, dp), _seqs(lengths, torch)
    a = dp_rnn.pad_sequence(ds, batch_first, padding_value, padding_side)
    b = trnn.pad_sequence(ts, batch_first, padding_value, padding_side)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    a.square().sum().backward(), b.square().sum().backward()
    for x, y in zip(ds, ts):
        np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 3, 3, 1], True), ([2, 4, 1, 3], False), ([3], True)])
def test_pack_pad_round_trip(batch_first, lengths, enforce_sorted):
    T, B = max(lengths), len(lengths)
    x = rand(*((B, T, 2) if batch_first else (T, B, 2)), seed=5)
    res = []
    for lib, utils in ((dp, dp_rnn), (torch, trnn)):
        xs = _leaf(x, lib)
        p = utils.pack_padded_sequence(xs, lib.tensor(lengths), batch_first, enforce_sorted)
        padded, lens = utils.pad_packed_sequence(p, batch_first, padding_value=7.0, total_length=T + 1)
        (padded * lib.tensor(rand(*padded.shape, seed=9))).sum().backward()
        res.append([p.data.detach().numpy(), p.batch_sizes.numpy(), padded.detach().numpy(),
                    lens.numpy(), xs.grad.numpy()] +
                   [None if s is None else s.numpy() for s in (p.sorted_indices, p.unsorted_indices)])
    for i, (a, b) in enumerate(zip(*res)):
        assert (a is None) == (b is None), i
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=str(i))
            assert a.dtype == b.dtype, i


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack(enforce_sorted):
    lengths = [4, 2, 1] if enforce_sorted else [1, 4, 2]
    d = dp_rnn.pack_sequence(_seqs(lengths, dp, (3,)), enforce_sorted)
    t = trnn.pack_sequence(_seqs(lengths, torch, (3,)), enforce_sorted)
    np.testing.assert_array_equal(d.data.detach().numpy(), t.data.detach().numpy())
    np.testing.assert_array_equal(d.batch_sizes.numpy(), t.batch_sizes.numpy())
    for a, b in zip(dp_rnn.unpack_sequence(d), trnn.unpack_sequence(t)):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert isinstance(d, tuple) and d._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")


def test_packing_errors():
    x = dp.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order when `enforce_sorted` is True"):
        dp_rnn.pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(RuntimeError, match=r"lengths must be in \[1, 4\]"):
        dp_rnn.pack_padded_sequence(x, [5, 4, 1])
    p = dp_rnn.pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="total_length=3 and max sequence length being 4"):
        dp_rnn.pad_packed_sequence(p, total_length=3)


# --- speed: a char-LSTM step, against PyTorch single-threaded -------------------------

def char_lstm_step_times(steps=5):
    """Seconds per forward+backward of a char-level LSTM (vocab 65, embedding 64, hidden
    256, seq 64, batch 32): (diffprog, torch with one thread)."""
    import time
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 65, size=(32, 64))
    times = []
    for lib in (dp, torch):
        emb, lstm = lib.nn.Embedding(65, 64), lib.nn.LSTM(64, 256, batch_first=True)
        head = lib.nn.Linear(256, 65)
        params = list(emb.parameters()) + list(lstm.parameters()) + list(head.parameters())
        x, y = lib.tensor(ids), lib.tensor(np.roll(ids, -1, 1))

        def step():
            out, _ = lstm(emb(x))
            loss = lib.nn.functional.cross_entropy(head(out).reshape(-1, 65), y.reshape(-1))
            for p in params:
                p.grad = None
            loss.backward()
        step()
        best = float("inf")
        for _ in range(steps):
            t0 = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - t0)
        times.append(best)
    return tuple(times)


if __name__ == "__main__":
    torch.set_num_threads(1)
    d, t = char_lstm_step_times()
    print(f"char-LSTM forward+backward: diffprog {d * 1e3:.1f} ms, torch (1 thread) {t * 1e3:.1f} ms, "
          f"ratio {d / t:.2f}")
