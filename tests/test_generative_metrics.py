"""FID and Inception score: the Frechet distance against its closed form and scipy's matrix
square root (the pytorch-fid formula), the Inception score at its extremes, and the features
a classifier yields."""
import math

import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from diffprog.models import classifier_outputs, fid, frechet_distance, inception_score


def random_cov(d, rng):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_distance_matches_scipy_sqrtm_formula():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    for d in (1, 3, 16):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = random_cov(d, rng), random_cov(d, rng)
        covmean = linalg.sqrtm(s1 @ s2).real
        ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8, abs=1e-10)


def test_frechet_distance_closed_forms():
    assert frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 1) ** 2)
    rng = np.random.default_rng(1)
    s = random_cov(5, rng)
    assert abs(frechet_distance(np.zeros(5), s, np.zeros(5), s)) < 1e-9
    assert frechet_distance(np.zeros(5), s, np.full(5, 2.0), s) == pytest.approx(20.0)


def test_fid_from_samples():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5000, 4)), rng.standard_normal((5000, 4))
    assert fid(dp.tensor(a), dp.tensor(b)) < 0.02
    assert fid(a, b + 1.0) == pytest.approx(4.0, abs=0.1)
    assert fid(a, 2 * b) == pytest.approx(4 * (2 - 1) ** 2, abs=0.15)     # Tr(S1 + S2 - 2 sqrt(S1 S2)) = 4 (1 - 2)^2


def test_inception_score_extremes_and_formula():
    k = 10
    assert inception_score(np.full((100, k), 1 / k))[0] == pytest.approx(1.0)
    confident = np.eye(k)[np.arange(200) % k]
    assert inception_score(confident, splits=2)[0] == pytest.approx(k, rel=1e-6)
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(k) * 0.3, size=300)
    mean, std = inception_score(dp.tensor(p), splits=3)
    parts = np.array_split(p, 3)
    ref = [math.exp(np.mean(np.sum(q * (np.log(q) - np.log(q.mean(0))), 1))) for q in parts]
    assert mean == pytest.approx(np.mean(ref), rel=1e-9) and std == pytest.approx(np.std(ref), rel=1e-9)


def test_classifier_outputs_hooks_the_feature_layer():
    dp.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    x = dp.randn(7, 1, 4, 4)
    feats, probs = classifier_outputs(model.train(), x, "2", batch_size=3)
    assert model.training                                      # mode restored
    np.testing.assert_allclose(feats.numpy(), model[:3](x).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(probs.numpy(), model(x).softmax(-1).detach().numpy(), rtol=1e-6)
    assert feats.shape == (7, 8) and probs.shape == (7, 3)
