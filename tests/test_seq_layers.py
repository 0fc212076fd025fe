"""Sequence layers: EmbeddingBag, Embedding extras (padding, max_norm, pretrained vectors,
bad ids), minGRU/minLSTM (sequential vs log-space parallel scan), positional encodings, ViT."""
import os

import numpy as np
import pytest

import diffprog as dp
import diffprog.nn as nn
import diffprog.nn.functional as F
from oracle import _check_jvp, check, const, rand, torch

TF = torch.nn.functional if torch is not None else None

# --- embedding_bag ---------------------------------------------------------------------------

IDS1 = np.array([1, 2, 4, 5, 4, 3, 2, 0, 2])
OFFS = np.array([0, 2, 2, 5, 9])          # bag 1 and the last bag are empty

BAG_CASES = [  # (input, offsets, kwargs)
    (np.array([[0, 2, 5], [3, 3, 1]]), None, {}),
    (np.array([[0, 2, 5, 2], [2, 2, 2, 2]]), None, dict(padding_idx=2)),   # an all-padding bag
    (np.zeros(0, dtype=np.int64), np.array([0, 0, 0]), {}),                # empty bags
    (IDS1, OFFS, {}),
    (IDS1, OFFS, dict(padding_idx=2)),
    (IDS1, np.array([0, 3, 3, 9]), dict(include_last_offset=True)),
    (np.arange(45) % 6, np.array([0, 40, 41]), {}),                        # a long bag
]


def bag_reference(i, w, offsets=None, mode="mean", per_sample_weights=None, padding_idx=None,
                  include_last_offset=False, **_):
    """torch's embedding_bag as a loop of embedding + reduction per bag: torch has no forward
    mode for embedding_bag itself, so the JVPs are compared with this."""
    if i.ndim == 2:
        spans = [(r * i.shape[1], (r + 1) * i.shape[1]) for r in range(i.shape[0])]
        i = i.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    else:
        offs = offsets.tolist()
        spans = list(zip(offs, offs[1:] if include_last_offset else offs[1:] + [len(i)]))
        psw = per_sample_weights
    rows = []
    for a, b in spans:
        keep = [k for k in range(a, b) if i[k] != padding_idx]
        e = TF.embedding(i[keep], w)
        if psw is not None:
            e = e * psw[keep, None]
        rows.append(w.new_zeros(w.shape[1]) if not keep else
                    {"sum": e.sum, "mean": e.mean, "max": e.amax}[mode](0))
    return torch.stack(rows) if rows else w.new_zeros((0, w.shape[1]))


def check_bag(dp_fn, torch_fn, ref_fn, *args, **kw):
    """The oracle on embedding_bag (JVP off, torch has none), then the JVP against the loop."""
    check(dp_fn, torch_fn, *args, jvp=False, **kw)
    tol = dict(rtol=1e-10, atol=1e-10) if args[0].dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    tangents = [rand(*a.shape, seed=11, dtype=a.dtype) for a in args if isinstance(a, np.ndarray)]
    _check_jvp(dp_fn, ref_fn, args, tangents, tol)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("ids,offsets,kw", BAG_CASES)
def test_embedding_bag_matches_torch(mode, ids, offsets, kw):
    extra = () if offsets is None else (const(offsets),)
    check_bag(lambda w, i, *o: F.embedding_bag(i, w, *o, mode=mode, **kw),
              lambda w, i, *o: TF.embedding_bag(i, w, *o, mode=mode, **kw),
              lambda w, i, *o: bag_reference(i, w, *o, mode=mode, **kw),
              rand(6, 3, seed=1), const(ids), *extra)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ids,offsets,kw", [BAG_CASES[0], BAG_CASES[1], BAG_CASES[3], BAG_CASES[4]])
def test_embedding_bag_per_sample_weights(dtype, ids, offsets, kw):
    """torch has no second derivative for per_sample_weights: first order and JVP here."""
    extra = () if offsets is None else (const(offsets),)
    check_bag(lambda w, p, i, *o: F.embedding_bag(i, w, *o, mode="sum", per_sample_weights=p, **kw),
              lambda w, p, i, *o: TF.embedding_bag(i, w, *o, mode="sum", per_sample_weights=p, **kw),
              lambda w, p, i, *o: bag_reference(i, w, *o, mode="sum", per_sample_weights=p, **kw),
              rand(6, 3, seed=2, dtype=dtype), rand(*ids.shape, seed=3, dtype=dtype), const(ids), *extra,
              gradgrad=False)


def test_embedding_bag_psw_second_order_matches_torch_composite():
    """torch's embedding_bag has no second derivative at all: compare with the loop."""
    w, p = rand(6, 3, seed=4), rand(9, seed=5)

    def gw(lib, fn):
        wt, pt = lib.tensor(w).requires_grad_(), lib.tensor(p).requires_grad_()
        y = fn(lib.tensor(IDS1), wt, lib.tensor(OFFS), mode="sum", per_sample_weights=pt, padding_idx=2)
        gw, gp = lib.autograd.grad((y * y).sum(), [wt, pt], create_graph=True)
        return lib.autograd.grad((gw * lib.tensor(w)).sum() + (gp * gp).sum(), [wt, pt])

    for a, b in zip(gw(dp, F.embedding_bag), gw(torch, bag_reference)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq(mode):
    """Each row's gradient divided by how often its id occurs in the input, as F.embedding
    does (torch's CPU embedding_bag divides by the count of the wrong id, so no oracle)."""
    grads = []
    for scale in (False, True):
        w = dp.tensor(rand(6, 3, seed=6), requires_grad=True)
        y = F.embedding_bag(dp.tensor(IDS1), w, dp.tensor(OFFS), mode=mode, scale_grad_by_freq=scale)
        y.backward(dp.tensor(rand(*y.shape, seed=7)))
        grads.append(w.grad.numpy())
    counts = np.bincount(IDS1, minlength=6)[:, None]
    np.testing.assert_allclose(grads[1], grads[0] / np.maximum(counts, 1), rtol=1e-12)
    with pytest.raises(ValueError, match="max mode"):
        F.embedding_bag(dp.tensor([[1]]), w, mode="max", scale_grad_by_freq=True)


def test_embedding_bag_equals_embedding_then_reduce():
    w = dp.tensor(rand(7, 4, seed=6), requires_grad=True)
    ids = dp.tensor([[1, 6, 6], [0, 2, 3]])
    for mode, red in (("sum", lambda e: e.sum(1)), ("mean", lambda e: e.mean(1)),
                      ("max", lambda e: e.amax(1))):
        np.testing.assert_allclose(F.embedding_bag(ids, w, mode=mode).detach().numpy(),
                                   red(F.embedding(ids, w)).detach().numpy(), rtol=1e-12)


def test_embedding_bag_module_matches_torch_and_from_pretrained():
    t = torch.nn.EmbeddingBag(10, 4, mode="sum", padding_idx=0)
    d = nn.EmbeddingBag(10, 4, mode="sum", padding_idx=0)
    assert not d.weight.detach().numpy()[0].any() and repr(d) == repr(t)
    d.load_state_dict({"weight": dp.tensor(t.weight.detach().numpy())})
    ids, offs = np.array([0, 3, 9, 9, 1]), np.array([0, 1, 4])
    yt, yd = t(torch.tensor(ids), torch.tensor(offs)), d(dp.tensor(ids), dp.tensor(offs))
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
    yt.pow(2).sum().backward()
    yd.pow(2).sum().backward()
    np.testing.assert_allclose(d.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert not d.weight.grad.numpy()[0].any()                # the padding row gets no gradient
    assert list(d.state_dict()) == list(t.state_dict()) == ["weight"]
    w = dp.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = nn.EmbeddingBag.from_pretrained(w, mode="max")
    assert not frozen.weight.requires_grad and frozen(dp.tensor([[0, 1]])).tolist() == [[3.0, 4.0]]
    assert nn.EmbeddingBag.from_pretrained(w, freeze=False).weight.requires_grad


def test_embedding_bag_max_norm_matches_torch():
    w = rand(6, 3, seed=7) * 3
    t, d = torch.tensor(w), dp.tensor(w)
    yt = TF.embedding_bag(torch.tensor(IDS1), t, torch.tensor(OFFS), max_norm=1.0, mode="sum")
    yd = F.embedding_bag(dp.tensor(IDS1), d, dp.tensor(OFFS), max_norm=1.0, mode="sum")
    np.testing.assert_allclose(yd.numpy(), yt.numpy(), rtol=1e-12)
    np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-12)          # renormalized in place


def test_embedding_bag_errors():
    w = dp.randn(65, 2)
    with pytest.raises(IndexError, match=r"embedding_bag: index 70 is out of range for a vocabulary "
                                         r"of 65 \(num_embeddings=65"):
        F.embedding_bag(dp.tensor([[1, 70]]), w)
    with pytest.raises(IndexError, match="index -1"):
        F.embedding_bag(dp.tensor([1, -1]), w, dp.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(dp.tensor([[1, 2]]), w, dp.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D"):
        F.embedding_bag(dp.tensor([1, 2]), w)
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0"):
        F.embedding_bag(dp.tensor([1, 2]), w, dp.tensor([1]))
    with pytest.raises(RuntimeError, match="can not be greater"):
        F.embedding_bag(dp.tensor([1, 2]), w, dp.tensor([0, 3]))
    with pytest.raises(RuntimeError, match="non-decreasing"):
        F.embedding_bag(dp.tensor([1, 2, 3]), w, dp.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match="mode has to be one of"):
        F.embedding_bag(dp.tensor([[1]]), w, mode="median")
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(dp.tensor([[1]]), w, per_sample_weights=dp.ones(1, 1))


# --- embedding extras ------------------------------------------------------------------------

def test_embedding_padding_idx_zero_grad_row_and_double_backward():
    check(lambda w, i: F.embedding(i, w, padding_idx=2), lambda w, i: TF.embedding(i, w, padding_idx=2),
          rand(5, 3, seed=8), const(np.array([[2, 0, 2], [4, 1, 2]])), fd=False)   # by design not d/dw
    w = dp.tensor(rand(5, 3, seed=8), requires_grad=True)
    F.embedding(dp.tensor([2, 2, 1]), w, padding_idx=2).sum().backward()
    assert not w.grad.numpy()[2].any() and w.grad.numpy()[1].all()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_renormalizes_like_torch(norm_type):
    w = rand(6, 3, seed=9) * 4
    ids = np.array([[0, 5, 5], [2, 3, 0]])
    t, d = torch.tensor(w, requires_grad=True), dp.tensor(w, requires_grad=True)
    yt = TF.embedding(torch.tensor(ids), t, max_norm=1.5, norm_type=norm_type)
    yd = F.embedding(dp.tensor(ids), d, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(yd.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), rtol=1e-12)
    untouched = [1, 4]                                                    # ids not looked up
    np.testing.assert_array_equal(d.detach().numpy()[untouched], w[untouched])
    norms = np.linalg.norm(d.detach().numpy()[[0, 2, 3, 5]], ord=norm_type, axis=1)
    assert (norms <= 1.5 + 1e-6).all()


def test_embedding_from_pretrained_freeze_and_padding():
    w = dp.tensor(rand(4, 2, seed=10))
    for freeze in (True, False):
        e = nn.Embedding.from_pretrained(w, freeze=freeze, padding_idx=1)
        assert e.weight.requires_grad is (not freeze) and e.padding_idx == 1
        np.testing.assert_array_equal(e(dp.tensor([3, 1])).detach().numpy(), w.numpy()[[3, 1]])
    e.weight.grad = None
    e(dp.tensor([1, 3, 1])).sum().backward()
    assert not e.weight.grad.numpy()[1].any() and e.weight.grad.numpy()[3].all()
    with pytest.raises(AssertionError, match="2-dimensional"):
        nn.Embedding.from_pretrained(dp.zeros(3))


def test_embedding_out_of_range_names_id_and_vocab_size():
    emb = nn.Embedding(65, 4)
    with pytest.raises(IndexError, match=r"embedding: index 70 is out of range for a vocabulary of 65 "
                                         r"\(num_embeddings=65"):
        emb(dp.tensor([[3, 70, 1]]))
    with pytest.raises(IndexError, match="index -2"):
        emb(dp.tensor([-2]))


def test_glove_vectors_into_embedding_aligned_with_vocab():
    root = os.environ.get("DIFFPROG_DATA")
    path = root and os.path.join(root, "glove", "glove.6B.50d.sample76.txt")
    if not path or not os.path.exists(path):
        pytest.skip("DIFFPROG_DATA glove sample not available")
    from diffprog.text import build_vocab_from_iterator, embedding_from_vectors, load_vectors
    itos, table = load_vectors(path)
    assert table.shape == (76, 50)
    words = [itos[5], itos[0], "qqqnotaword", itos[40]]
    vocab = build_vocab_from_iterator([words], specials=["<pad>"])
    emb = embedding_from_vectors(vocab, (itos, table), padding_idx=vocab["<pad>"])
    assert emb.weight.shape == (len(vocab), 50) and not emb.weight.requires_grad
    for w in (itos[5], itos[0], itos[40]):
        np.testing.assert_array_equal(emb(dp.tensor([vocab[w]])).numpy()[0], table.numpy()[itos.index(w)])
    assert not emb(dp.tensor([vocab["qqqnotaword"], vocab["<pad>"]])).numpy().any()
    with open(path, encoding="utf-8") as f:                     # the file's own first line
        first = f.readline().split()
    np.testing.assert_allclose(emb(dp.tensor([vocab[first[0]]])).numpy()[0],
                               np.array(first[1:], dtype=np.float32))



def test_word2vec_text_vectors_into_embedding(tmp_path):
    """word2vec's text format (a "count dim" header line), unknown words zero, trainable."""
    from diffprog.text import Vocab, embedding_from_vectors, load_vectors
    path = tmp_path / "w2v.txt"
    path.write_text("3 2\nthe 0.5 -1.0\ncat 2.0 3.0\nsat -0.25 0.125\n", encoding="utf-8")
    itos, table = load_vectors(path)
    assert itos == ["the", "cat", "sat"]
    emb = embedding_from_vectors(Vocab(["<unk>", "sat", "the", "dog"]), (itos, table), freeze=False)
    assert emb.weight.requires_grad
    np.testing.assert_array_equal(emb.weight.detach().numpy(),
                                  [[0, 0], [-0.25, 0.125], [0.5, -1.0], [0, 0]])

# --- minGRU / minLSTM ------------------------------------------------------------------------

from diffprog.models import LearnedPositionalEncoding, MinGRU, MinLSTM, SinusoidalPositionalEncoding  # noqa: E402
from diffprog import logcumsumexp  # noqa: E402
from diffprog.models.minrnn import g, log_g, parallel_scan_log  # noqa: E402


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((2, 5, 3), 1), ((4, 3), -1), ((3, 0), 0)])
def test_logcumsumexp_matches_torch(shape, dim):
    check(lambda x: logcumsumexp(x, dim), lambda x: torch.logcumsumexp(x, dim), rand(*shape) * 5)


def test_logcumsumexp_float32_large_and_minus_inf():
    big = rand(6, dtype=np.float32, seed=1) * 200                         # exp would overflow
    check(lambda x: logcumsumexp(x, 0), lambda x: torch.logcumsumexp(x, 0), big, jvp=False)
    with dp.autograd.forward_ad.dual_level():   # torch's JVP is off here (a global max shift)
        out = logcumsumexp(dp.autograd.forward_ad.make_dual(dp.tensor(big), dp.ones(6)), 0)
        tangent = dp.autograd.forward_ad.unpack_dual(out).tangent
    np.testing.assert_allclose(tangent.numpy(), np.ones(6), rtol=1e-6)   # softmax weights sum to 1
    x = rand(2, 6, seed=2) * 3
    x[:, :2] = -np.inf                                                      # as log(h0 = 0)
    xd, xt = dp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = logcumsumexp(xd, 1), torch.logcumsumexp(xt, 1)
    np.testing.assert_array_equal(yd.detach().numpy(), yt.detach().numpy())
    cot = rand(2, 6, seed=3)
    (gd,), (gt,) = dp.autograd.grad(yd, xd, dp.tensor(cot)), torch.autograd.grad(yt, xt, torch.tensor(cot))
    # torch gives nan where x = -inf; the derivative there is 0 (exp(-inf - y))
    np.testing.assert_array_equal(gd.numpy()[:, :2], 0.0)
    np.testing.assert_allclose(gd.numpy()[:, 2:], gt.numpy()[:, 2:], rtol=1e-12)


def test_parallel_scan_log_solves_the_recurrence():
    rng = np.random.default_rng(0)
    a, b, h0 = rng.uniform(0.1, 1, (2, 30, 3)), rng.uniform(0.1, 2, (2, 30, 3)), rng.uniform(0, 1, (2, 3))
    h, expect = h0, []
    for t in range(30):
        h = a[:, t] * h + b[:, t]
        expect.append(h)
    out = parallel_scan_log(dp.tensor(np.log(a)), dp.tensor(np.log(b)), dp.tensor(h0))
    np.testing.assert_allclose(out.numpy(), np.stack(expect, 1), rtol=1e-12)
    with pytest.raises(ValueError, match="h0 >= 0"):
        parallel_scan_log(dp.tensor(np.log(a)), dp.tensor(np.log(b)), dp.tensor(-h0))


def test_g_and_log_g():
    x = np.linspace(-4, 4, 17)
    expect = np.where(x >= 0, x + 0.5, 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(g(dp.tensor(x)).numpy(), expect, rtol=1e-14)
    np.testing.assert_allclose(log_g(dp.tensor(x)).numpy(), np.log(expect), rtol=1e-13)


RNNS = [MinGRU, MinLSTM]


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("dtype,tol", [(dp.float64, 1e-10), (dp.float32, 1e-5)])
@pytest.mark.parametrize("h0", [None, "rand", "zeros"])
def test_min_rnn_parallel_equals_sequential(cls, dtype, tol, h0):
    dp.manual_seed(0)
    m = cls(3, 4).to(dtype)
    x = dp.randn(2, 9, 3, dtype=dtype) * 2
    h0 = None if h0 is None else (dp.rand(2, 4, dtype=dtype) if h0 == "rand" else dp.zeros(2, 4, dtype=dtype))
    hs = [m(x, h0, mode=mode) for mode in ("parallel", "sequential")]
    for a, b in zip(hs[0], hs[1]):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)
    out, h_n = hs[0]
    assert out.shape == (2, 9, 4) and h_n.shape == (2, 4) and out.dtype == dtype
    assert (out.detach().numpy() > 0).all()                    # states stay positive
    cot = dp.randn(2, 9, 4, dtype=dtype)
    inputs = [x.requires_grad_()] + list(m.parameters())
    ga = dp.autograd.grad(m(x, h0, mode="parallel")[0], inputs, cot)
    gb = dp.autograd.grad(m(x, h0, mode="sequential")[0], inputs, cot)
    for a, b in zip(ga, gb):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_min_rnn_finite_differences(cls, mode):
    """The oracle's check with the plain recurrence written in torch as the reference."""
    dp.manual_seed(1)
    m = cls(2, 3, mode=mode).double()
    names = [n for n, _ in m.named_parameters()]

    def run_dp(x, h0, *params):
        for name, p in zip(names, params):                   # the module run on the given tensors
            sub, leaf = name.split(".")
            getattr(m, sub)._parameters[leaf] = p
        return m(x, h0)[0]

    def run_torch(x, h0, *params):
        p = dict(zip(names, params))
        lin = {k[: -len(".weight")]: (p[k], p[k[: -len("weight")] + "bias"]) for k in p if k.endswith("weight")}
        pre = {k: TF.linear(x, w, b) for k, (w, b) in lin.items()}
        gf = lambda v: torch.where(v >= 0, v + 0.5, torch.sigmoid(v))    # noqa: E731
        if cls is MinGRU:
            z = torch.sigmoid(pre["linear_z"])
            a, b = 1 - z, z * gf(pre["linear_h"])
        else:
            f, i = torch.sigmoid(pre["linear_f"]), torch.sigmoid(pre["linear_i"])
            a, b = f / (f + i), i / (f + i) * gf(pre["linear_h"])
        h, out = h0, []
        for t in range(x.shape[1]):
            h = a[:, t] * h + b[:, t]
            out.append(h)
        return torch.stack(out, 1)

    params = [p.detach().numpy().copy() for p in m.parameters()]
    check(run_dp, run_torch, rand(2, 5, 2, seed=4) * 2, rand(2, 3, seed=5, low=0.1), *params,
          gradgrad=True, jvp=True)


@pytest.mark.parametrize("cls", RNNS)
def test_min_rnn_learns_running_mean(cls):
    """Target: the running mean of the inputs so far (needs memory of the whole prefix);
    the loss must end far below that of the best constant-per-step guess."""
    dp.manual_seed(0)
    rng = np.random.default_rng(0)
    rnn, head = cls(1, 16), nn.Linear(16, 1)
    opt = dp.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=0.02)
    x = rng.uniform(0, 1, (64, 12, 1)).astype(np.float32)
    target = np.cumsum(x, 1) / np.arange(1, 13)[None, :, None]
    baseline = ((target - target.mean(0)) ** 2).mean()
    x, y = dp.tensor(x), dp.tensor(target)
    losses = []
    for _ in range(200):
        loss = F.mse_loss(head(rnn(x)[0]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * baseline and losses[-1] < 0.02 * losses[0], (baseline, losses[0], losses[-1])


def test_min_rnn_errors_and_repr():
    m = MinGRU(3, 4)
    assert list(dict(m.named_parameters())) == ["linear_z.weight", "linear_z.bias", "linear_h.weight",
                                                 "linear_h.bias"]
    assert "MinGRU(\n  3, 4, mode='parallel'" in repr(m)
    with pytest.raises(RuntimeError, match=r"expected input of shape \(batch, time, 3\)"):
        m(dp.zeros(2, 5, 2))
    with pytest.raises(RuntimeError, match="expected h0 of shape"):
        m(dp.zeros(2, 5, 3), dp.zeros(3, 4))
    with pytest.raises(ValueError, match="mode must be"):
        MinLSTM(3, 4, mode="scan")
    with pytest.raises(ValueError, match="h0 >= 0"):
        m(dp.zeros(2, 5, 3), -dp.ones(2, 4))
    out, h = m(dp.zeros(2, 5, 3), -dp.ones(2, 4), mode="sequential")       # any h0 in a loop
    assert out.shape == (2, 5, 4)


# --- positional encodings ---------------------------------------------------------------------

@pytest.mark.parametrize("d_model", [6, 7])
@pytest.mark.parametrize("batch_first", [False, True])
def test_sinusoidal_positional_encoding_formula(d_model, batch_first):
    pe = SinusoidalPositionalEncoding(d_model, max_len=50, dropout=0.0, batch_first=batch_first)
    assert list(pe.state_dict()) == ["pe"] and not list(pe.parameters())
    pos, i = np.arange(50)[:, None], np.arange(d_model)[None, :]
    angle = pos / 10000 ** ((i - i % 2) / d_model)
    expect = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    np.testing.assert_allclose(pe.pe.numpy(), expect, rtol=1e-5, atol=1e-6)
    x = rand(5, 3, d_model, seed=6).astype(np.float32)                 # (T, B, d)
    if batch_first:
        x = x.transpose(1, 0, 2).copy()
    out = pe(dp.tensor(x)).numpy()
    added = expect[:5, None] if not batch_first else expect[None, :5]
    np.testing.assert_allclose(out, x + added, rtol=1e-5, atol=1e-6)


def test_positional_encodings_dropout_learned_and_errors():
    pe = SinusoidalPositionalEncoding(8, max_len=10, dropout=0.5)
    x = dp.ones(4, 2, 8)
    pe.train()
    assert (pe(x).numpy() == 0).any()
    pe.eval()
    assert not (pe(x).numpy() == 0).all()
    lpe = LearnedPositionalEncoding(10, 8, batch_first=True)
    out = lpe(dp.zeros(2, 4, 8))
    table = lpe.embedding.weight.detach().numpy()
    np.testing.assert_array_equal(out.detach().numpy(), np.broadcast_to(table[:4], (2, 4, 8)))
    out.sum().backward()
    grad = lpe.embedding.weight.grad.numpy()
    assert (grad[:4] == 2).all() and not grad[4:].any()                  # trained per position
    assert lpe(dp.zeros(2, 4, 8)).shape == (2, 4, 8)
    assert LearnedPositionalEncoding(10, 8)(dp.zeros(4, 2, 8)).shape == (4, 2, 8)
    with pytest.raises(RuntimeError, match="max_len=10"):
        pe(dp.zeros(11, 2, 8))
    with pytest.raises(RuntimeError, match="d_model=8"):
        lpe(dp.zeros(2, 4, 6))


# --- vision transformer -----------------------------------------------------------------------

from diffprog.vision import models  # noqa: E402


def vit_param_count(image_size, patch_size, num_layers, hidden_dim, mlp_dim, num_classes=1000, **_):
    """torchvision's ViT parameter count, by layer."""
    h, m = hidden_dim, mlp_dim
    seq = (image_size // patch_size) ** 2 + 1
    block = 2 * 2 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * m + m) + (m * h + h)
    return 3 * patch_size ** 2 * h + h + h + seq * h + num_layers * block + 2 * h + h * num_classes + num_classes


SMALL = dict(image_size=8, patch_size=4, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=24, num_classes=5)


def test_vit_structure_state_dict_and_parameter_count():
    vit = models.VisionTransformer(**SMALL)
    assert sum(p.numel() for p in vit.parameters()) == vit_param_count(**SMALL)
    keys = list(vit.state_dict())
    assert keys[:4] == ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
    prefix = "encoder.layers.encoder_layer_1."
    for k in ("ln_1.weight", "self_attention.in_proj_weight", "self_attention.out_proj.bias",
              "ln_2.bias", "mlp.0.weight", "mlp.3.bias"):
        assert prefix + k in keys
    assert keys[-4:] == ["encoder.ln.weight", "encoder.ln.bias", "heads.head.weight", "heads.head.bias"]
    assert vit.encoder.pos_embedding.shape == (1, 5, 16) and vit.class_token.shape == (1, 1, 16)
    assert vit(dp.randn(3, 3, 8, 8)).shape == (3, 5)
    # ViT-B/16 as torchvision (86,567,656): counted by layer, the formula being checked above
    assert vit_param_count(224, 16, 12, 768, 3072) == 86_567_656
    with pytest.raises(RuntimeError, match="expected images of size 8x8"):
        vit(dp.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="pretrained"):
        models.vit_b_16(pretrained=True)
    tiny = models.vit_tiny_cifar()
    assert tiny.conv_proj.kernel_size == (4, 4) and tiny.seq_length == 65
    assert tiny.heads.head.out_features == 10


def test_vit_overfits_a_few_images():
    dp.manual_seed(0)
    vit = models.VisionTransformer(**SMALL)
    x = dp.randn(8, 3, 8, 8)
    y = dp.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    opt = dp.optim.Adam(vit.parameters(), lr=3e-3)
    for _ in range(100):
        loss = F.cross_entropy(vit(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    vit.eval()
    assert loss.item() < 0.1 and (vit(x).argmax(1) == y).all().item()
