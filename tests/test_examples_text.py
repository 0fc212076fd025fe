"""Text models and examples: the LSTM and Kim CNN sentence classifiers ignore padding and
learn sentence polarity; skip-gram word2vec learns and answers nearest-neighbour queries."""
import math
import os
import sys

import numpy as np
import pytest

import diffprog as dp
from diffprog.models import KimCNN, LSTMClassifier, SkipGram, noise_distribution, skipgram_pairs, subsample
from data import data_root  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)


# --- the classifiers ---------------------------------------------------------------------------

SENTENCES = dp.tensor([[5, 6, 7, 8, 9, 0, 0], [3, 4, 0, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4, 3]])
LENGTHS = dp.tensor([5, 2, 7])


@pytest.mark.parametrize("cls", [LSTMClassifier, KimCNN])
@dp.no_grad()
def test_classifier_ignores_padding(cls):
    dp.manual_seed(0)
    model = cls(12, 8, num_classes=3).eval()
    logits = model(SENTENCES, LENGTHS)
    assert tuple(logits.shape) == (3, 3)
    more_padding = dp.cat([SENTENCES, dp.zeros((3, 4), dtype=dp.int64)], 1)
    np.testing.assert_allclose(model(more_padding, LENGTHS).numpy(), logits.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(more_padding).numpy(), logits.numpy(), rtol=1e-5, atol=1e-6)
    alone = model(SENTENCES[1:2, :2])                   # the short sentence without any padding
    np.testing.assert_allclose(alone.numpy(), logits[1:2].numpy(), rtol=1e-5, atol=1e-6)
    # reading the padding as tokens changes the result: the check above can fail
    full = dp.full((3,), more_padding.shape[1], dtype=dp.int64)
    assert not np.allclose(model(more_padding, full).numpy()[:2], logits.numpy()[:2], atol=1e-4)


def test_classifier_backward_reaches_all_parameters():
    for model in (LSTMClassifier(12, 8, 6), KimCNN(12, 8, num_filters=4)):
        dp.nn.functional.cross_entropy(model(SENTENCES, LENGTHS), dp.tensor([0, 1, 1])).backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.abs().sum().item() > 0, name
        assert model.embedding.weight.grad[0].abs().sum().item() == 0     # padding row


def test_kim_cnn_shapes():
    model = KimCNN(20, 16, num_classes=4)
    assert [c.kernel_size for c in model.convs] == [(3,), (4,), (5,)]
    assert [c.out_channels for c in model.convs] == [100] * 3
    assert model.fc.in_features == 300 and model.dropout.p == 0.5
    assert tuple(model(dp.tensor([[1, 2]] * 6)).shape) == (6, 4)   # shorter than every filter


@dp.no_grad()
def test_kim_cnn_max_over_time_skips_padding():
    """One width-1 filter reading an embedding of 1 dim: the logit is max_t relu(e_t + b)."""
    model = KimCNN(10, 1, num_classes=1, kernel_sizes=(1,), num_filters=1, dropout=0.0).eval()
    model.embedding.weight.copy_(-dp.arange(10.0).reshape(10, 1))     # token i -> -i
    model.convs[0].weight.fill_(1.0)
    model.convs[0].bias.fill_(5.0)
    model.fc.weight.fill_(1.0)
    model.fc.bias.zero_()
    ids = dp.tensor([[2, 4, 0, 0], [8, 9, 0, 0], [7, 1, 9, 3]])
    # relu(5 - i) over the real tokens; the padding (embedding 0) would give relu(5) = 5
    assert model(ids).reshape(-1).tolist() == [3.0, 0.0, 4.0]


def test_pretrained_embeddings():
    table = dp.randn(12, 8)
    for freeze in (True, False):
        model = KimCNN(12, 8, pretrained=table, freeze=freeze)
        np.testing.assert_array_equal(model.embedding.weight.detach().numpy(), table.numpy())
        assert model.embedding.weight.requires_grad is not freeze
    with pytest.raises(ValueError, match="do not match"):
        LSTMClassifier(12, 6, pretrained=table)


# --- sentiment example --------------------------------------------------------------------------

@pytest.mark.parametrize("model, kw", [("cnn", dict(epochs=3, embed_dim=32, lr=1e-2)),
                                       ("lstm", dict(epochs=4, embed_dim=32, hidden=32, lr=1e-2, dropout=0.0))])
def test_sentiment_short_run_learns(model, kw, tmp_path):
    import sentiment
    out = sentiment.main(model, data_root("rt-polarity"), train_size=1000, patience=5,
                         out=str(tmp_path), verbose=False, **kw)
    losses = [h["train_loss"] for h in out["history"]]
    assert losses[-1] < losses[0] - 0.1
    assert out["train_acc"] > 0.8
    assert os.path.exists(tmp_path / f"{model}.pt")


# --- word2vec -----------------------------------------------------------------------------------

def test_skipgram_pairs_and_noise():
    centers, contexts = skipgram_pairs(np.array([10, 11, 12]), window=1)
    assert sorted(zip(centers.tolist(), contexts.tolist())) == [(10, 11), (11, 10), (11, 12), (12, 11)]
    centers, _ = skipgram_pairs(np.arange(1000), window=5, generator=np.random.default_rng(0))
    assert 1000 * 5 < len(centers) < 1000 * 7        # dynamic window: 2 * mean(1..5) = 6 per word
    np.testing.assert_allclose(noise_distribution([1, 16, 81]), np.array([1, 8, 27]) / 36)
    ids = np.array([0] * 900 + [1] * 100)
    kept = subsample(ids, [900, 100], t=0.1, generator=np.random.default_rng(0))
    assert (kept == 1).sum() == 100 and 250 < (kept == 0).sum() < 350   # keep sqrt(0.1 / 0.9)


def test_skipgram_loss_formula():
    dp.manual_seed(0)
    model = SkipGram(6, 4)
    dp.nn.init.normal_(model.out_embed.weight)
    c, o, neg = dp.tensor([1, 2]), dp.tensor([3, 4]), dp.tensor([[0, 5], [5, 5]])
    v, u = model.in_embed.weight.detach().numpy(), model.out_embed.weight.detach().numpy()

    def logsig(x):
        return -np.log1p(np.exp(-x))
    expected = -np.mean([logsig(u[o_] @ v[c_]) + sum(logsig(-u[k] @ v[c_]) for k in n_)
                         for c_, o_, n_ in zip([1, 2], [3, 4], [[0, 5], [5, 5]])])
    assert model(c, o, neg).item() == pytest.approx(expected, rel=1e-5)
    # word2vec starts with zero out-vectors: every pair costs (1 + K) log 2
    assert SkipGram(6, 4, num_negatives=3)(c, o).item() == pytest.approx(4 * math.log(2))


def test_word2vec_short_run_learns(tmp_path):
    import word2vec
    out = word2vec.main(data_root("tinyshakespeare"), epochs=3, dim=32, max_tokens=30000,
                        min_count=3, queries=("king", "thou", "lord"), k=5, out=str(tmp_path),
                        verbose=False)
    losses = out["losses"]
    assert losses[0] < 6 * math.log(2) and losses[-1] < losses[0] - 0.2
    for word, near in out["neighbours"].items():
        names = [w for w, _ in near]
        assert len(names) == 5 == len(set(names)) and word not in names
        sims = [s for _, s in near]
        assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1.0001 for s in sims)
    assert set(out["neighbours"]) == {"king", "thou", "lord"}
    assert (tmp_path / "word2vec.pt").exists()
