"""SimCLR: the NT-Xent loss against a direct PyTorch transcription of its formula, its
minimum at matched views, the batched augmentation, a tiny pretraining run and the probe."""
import os
import sys

import numpy as np
import pytest

import diffprog as dp
from diffprog.models import (CifarEncoder, SimCLR, extract_features, linear_probe, nt_xent_loss,
                             simclr_augment)
from oracle import check, rand, torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))


def torch_nt_xent(z1, z2, temperature=0.5):
    """The formula written out: for view i with partner p(i), -s_ip + log sum_{k != i} exp(s_ik)."""
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True)
    sim = z @ z.T / temperature
    n2 = len(z)
    terms = []
    for i in range(n2):
        others = [k for k in range(n2) if k != i]
        terms.append(torch.logsumexp(sim[i, others], 0) - sim[i, (i + n2 // 2) % n2])
    return torch.stack(terms).mean()


@pytest.mark.parametrize("n, d, temperature, dtype", [
    (2, 3, 0.5, np.float64), (4, 5, 0.5, np.float64), (5, 8, 0.1, np.float64),
    (3, 1, 1.0, np.float64), (6, 4, 0.5, np.float32)])
def test_nt_xent_matches_torch(n, d, temperature, dtype):
    check(lambda a, b: nt_xent_loss(a, b, temperature), lambda a, b: torch_nt_xent(a, b, temperature),
          rand(n, d, dtype=dtype, seed=1), rand(n, d, dtype=dtype, seed=2))


def test_nt_xent_rejects_mismatched_shapes():
    with pytest.raises(RuntimeError, match="nt_xent_loss"):
        nt_xent_loss(dp.randn(4, 3), dp.randn(5, 3))


def test_nt_xent_lowest_for_matched_views():
    """Views that are noisy copies of each other give a lower loss than any shuffled pairing."""
    dp.manual_seed(0)
    z1 = dp.randn(16, 8)
    z2 = z1 + 0.1 * dp.randn(16, 8)
    matched = nt_xent_loss(z1, z2).item()
    for _ in range(20):
        assert matched < nt_xent_loss(z1, z2[dp.randperm(16)]).item() - 0.5


def test_simclr_forward_shapes():
    enc = CifarEncoder(width=4)
    model = SimCLR(enc, enc.feature_dim, projection_dim=7)
    h, z = model(dp.rand(3, 3, 32, 32))
    assert enc.feature_dim == 32 and tuple(h.shape) == (3, 32) and tuple(z.shape) == (3, 7)


def test_augment_shapes_range_and_randomness():
    dp.manual_seed(0)
    x = dp.rand(6, 3, 32, 32)
    a, b = simclr_augment(x), simclr_augment(x)
    assert a.shape == x.shape and a.dtype == x.dtype and not a.requires_grad
    assert 0 <= a.min().item() and a.max().item() <= 1
    assert (a - b).abs().max().item() > 0.1
    assert simclr_augment(x.double()).dtype == dp.float64
    # with no crop, flip, jitter or grayscale the view is the image itself
    same = simclr_augment(x, scale=(1, 1), ratio=(1, 1), flip_p=0, jitter_p=0, gray_p=0)
    np.testing.assert_allclose(same.numpy(), x.numpy(), atol=1e-5)
    # always flipped, always gray
    flipped = simclr_augment(x, scale=(1, 1), ratio=(1, 1), flip_p=1, jitter_p=0, gray_p=0)
    np.testing.assert_allclose(flipped.numpy(), x.numpy()[..., ::-1], atol=1e-5)
    gray = simclr_augment(x, jitter_p=0, gray_p=1).numpy()
    np.testing.assert_allclose(gray[:, 0], gray[:, 2], atol=1e-6)


def test_pretraining_lowers_the_loss():
    dp.manual_seed(0)
    x = dp.rand(64, 3, 32, 32) * 0.2 + dp.rand(64, 3, 1, 1) * 0.8   # images of distinct colours
    enc = CifarEncoder(width=4)
    model = SimCLR(enc, enc.feature_dim, projection_dim=16)
    opt = dp.optim.Adam(model.parameters(), lr=1e-2)

    def loss_on(views):
        return nt_xent_loss(*model(views)[1].chunk(2))

    fixed = dp.cat([simclr_augment(x), simclr_augment(x)])
    with dp.no_grad():
        before = loss_on(fixed).item()
    for _ in range(15):
        loss = loss_on(dp.cat([simclr_augment(x), simclr_augment(x)]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with dp.no_grad():
        after = loss_on(fixed).item()
    assert after < before - 0.3, (before, after)


def test_linear_probe_separates_classes():
    dp.manual_seed(0)
    y, yt = dp.randint(0, 3, (120,)), dp.randint(0, 3, (60,))
    centres = dp.randn(3, 10) * 3
    x, xt = centres[y] + dp.randn(120, 10), centres[yt] + dp.randn(60, 10)
    train_acc, test_acc = linear_probe(x, y, xt, yt, steps=100)
    assert train_acc > 0.9 and test_acc > 0.85
    assert linear_probe(x, y[dp.randperm(120)], xt, yt, steps=100)[1] < 0.6   # shuffled labels


def test_extract_features_eval_mode_and_batches():
    enc = CifarEncoder(width=4)
    x = dp.rand(7, 3, 32, 32)
    f = extract_features(enc, x, batch_size=3)
    assert enc.training and tuple(f.shape) == (7, 32) and not f.requires_grad
    enc.eval()
    np.testing.assert_allclose(f.numpy(), enc(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_example_pretrains_and_probes(tmp_path):
    root = os.environ.get("DIFFPROG_DATA")
    if not root or not os.path.isfile(os.path.join(root, "cifar10", "cifar10_subset.npz")):
        pytest.skip("DIFFPROG_DATA with cifar10/cifar10_subset.npz not available")
    import simclr
    r = simclr.main(root, epochs=2, width=4, batch_size=64, train_size=256, test_size=100,
                    probe_steps=50, out=str(tmp_path), verbose=0)
    assert r["losses"][-1] < r["losses"][0]
    for name in ("pixels_probe", "random_probe", "simclr_probe"):
        assert 0.15 < r[name][1] <= 1                      # above chance (10 %) on 100 images
    assert (tmp_path / "simclr_w4.pt").is_file() and (tmp_path / "views.png").is_file()
    state = dp.load(str(tmp_path / "simclr_w4.pt"))
    assert "projector.2.weight" in state and "encoder.features.0.weight" in state
