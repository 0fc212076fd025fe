"""Sequence models: diffprog.models.language (CharRNN, TransformerLM, generate) and the
examples char_lstm.py, transformer_lm.py and sine_rnn.py run on tiny configurations that
must clearly learn."""
import math
import os
import sys

import numpy as np
import pytest

import diffprog as dp
from diffprog.models import CharRNN, TransformerLM, generate

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import char_lstm  # noqa: E402
import sine_rnn  # noqa: E402
import transformer_lm  # noqa: E402


def shakespeare():
    root = os.environ.get("DIFFPROG_DATA")
    if not root or not os.path.isfile(os.path.join(root, "tinyshakespeare", "input.txt")):
        pytest.skip("needs DIFFPROG_DATA pointing at a folder with tinyshakespeare/input.txt")


def models(vocab=11):
    dp.manual_seed(0)
    return [CharRNN(vocab, 8, 16), CharRNN(vocab, 8, 16, num_layers=2, cell="gru"),
            TransformerLM(vocab, context=6, d_model=16, nhead=2, num_layers=1, dropout=0.0),
            TransformerLM(vocab, context=6, d_model=16, nhead=2, num_layers=2, dropout=0.0, positional="sinusoidal")]


def greedy(model, prompt, length):
    """Reference greedy decoding: re-run the model on the whole sequence, append the argmax."""
    ids = prompt
    for _ in range(length):
        window = ids if isinstance(model, CharRNN) else ids[:, -model.context:]
        out = model(window)
        logits = out[0] if isinstance(out, tuple) else out
        ids = dp.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return ids


@pytest.mark.parametrize("model", models(), ids=["lstm", "gru2", "transformer", "sinusoidal"])
def test_shapes_and_valid_ids(model):
    ids = dp.randint(0, 11, (3, 4))
    out = model(ids)
    logits = out[0] if isinstance(out, tuple) else out
    assert logits.shape == (3, 4, 11)
    seq = generate(model, ids, 9, temperature=1.3, top_k=5, generator=dp.Generator().manual_seed(1))
    assert seq.shape == (3, 13) and seq.dtype == dp.int64
    assert dp.equal(seq[:, :4], ids) and int(seq.min()) >= 0 and int(seq.max()) < 11
    one = generate(model, ids[0], 2)
    assert one.shape == (6,) and model.training  # 1-d prompt in, 1-d out; train mode restored


def test_charrnn_returns_state_that_continues_the_sequence():
    model = models()[0]
    ids = dp.randint(0, 11, (2, 7))
    full, _ = model(ids)
    first, h = model(ids[:, :3])
    rest, _ = model(ids[:, 3:], h)
    np.testing.assert_allclose(dp.cat([first, rest], 1).detach().numpy(), full.detach().numpy(), atol=1e-5)


def test_transformer_is_causal():
    model = models()[2].eval()
    a = dp.randint(0, 11, (1, 6))
    b = a.clone()
    b[0, 4:] = (a[0, 4:] + 1) % 11
    np.testing.assert_allclose(model(a)[:, :4].detach().numpy(), model(b)[:, :4].detach().numpy(), atol=1e-6)
    assert not np.allclose(model(a)[:, 4:].detach().numpy(), model(b)[:, 4:].detach().numpy())
    with pytest.raises(ValueError, match="context"):
        model(dp.randint(0, 11, (1, 7)))


@pytest.mark.parametrize("model", models(), ids=["lstm", "gru2", "transformer", "sinusoidal"])
def test_top_k_1_and_low_temperature_are_greedy(model):
    prompt = dp.randint(0, 11, (4, 3))
    model.eval()
    expected = greedy(model, prompt, 8)  # 11 tokens: more than the transformer's context of 6
    assert dp.equal(generate(model, prompt, 8, top_k=1), expected)
    assert dp.equal(generate(model, prompt, 8, temperature=1e-4, generator=dp.Generator().manual_seed(0)),
                    expected)


def test_top_k_only_samples_the_k_most_likely():
    model = models()[0].eval()
    prompt = dp.full((3000, 2), 3, dtype=dp.int64)
    logits = model(prompt[:1])[0][0, -1].detach()
    top3 = set(logits.topk(3).indices.tolist())
    drawn = generate(model, prompt, 1, top_k=3, generator=dp.Generator().manual_seed(0))[:, -1].numpy()
    assert set(np.unique(drawn).tolist()) == top3  # all of the top 3 appear, nothing else
    # Frequencies follow the renormalised softmax of the top 3.
    p = np.exp(logits.numpy()[sorted(top3)] - logits.numpy().max())
    freq = np.bincount(drawn, minlength=11)[sorted(top3)] / len(drawn)
    np.testing.assert_allclose(freq, p / p.sum(), atol=0.04)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, prompt, 1, temperature=0)


def test_char_lstm_learns(tmp_path):
    shakespeare()
    r = char_lstm.main(steps=150, batch=16, seq_len=32, hidden=64, lr=1e-2, eval_every=150, limit=100_000,
                       sample_len=40, out=str(tmp_path), verbose=False)
    assert r["val_loss"] < 0.65 * r["uniform_loss"], r["history"]
    text = r["samples"]["T=0.8, top_k=None"]
    assert text.startswith("ROMEO:") and len(text) == 46 and set(text) <= set(r["tokenizer"].decode(range(65)))
    assert (tmp_path / "model.pt").exists() and (tmp_path / "samples.txt").exists()


def test_transformer_lm_learns(tmp_path):
    shakespeare()
    r = transformer_lm.main(steps=150, batch=16, context=32, d_model=32, nhead=2, layers=1, dropout=0.0, lr=5e-3,
                            warmup=10, eval_every=150, limit=100_000, sample_len=40, out=str(tmp_path),
                            verbose=False)
    assert r["val_loss"] < 0.7 * r["uniform_loss"], r["history"]
    text = r["samples"]["T=1.0, top_k=10"]
    assert text.startswith("ROMEO:") and len(text) == 46


def test_sine_rnn_beats_last_value_baseline(tmp_path):
    pytest.importorskip("matplotlib")
    r = sine_rnn.main(steps=150, batch=32, hidden=16, out=str(tmp_path), verbose=False)
    assert r["test_mse"] < 0.5 * r["naive_mse"]
    assert os.path.getsize(r["plot"]) > 10_000
    assert math.isfinite(r["test_mse"])
