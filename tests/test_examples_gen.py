"""Generative models: autoencoders, VAEs and the Gumbel-softmax VAE (diffprog.models), and
short runs of examples/autoencoder.py, vae.py and gumbel_vae.py that must clearly learn."""
import math
import os
import sys

import numpy as np
import pytest
import torch

import diffprog as dp
from diffprog import distributions as D
from oracle import check
from diffprog.models import (VAE, Autoencoder, ConvAutoencoder, ConvVAE, GumbelVAE, corrupt,
                             kl_categorical_uniform, kl_normal_std, reparameterize)

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import autoencoder  # noqa: E402
import gumbel_vae  # noqa: E402
import vae  # noqa: E402
from data import mnist_root  # noqa: E402


# --- the models ----------------------------------------------------------------------

def test_kl_normal_closed_form_matches_distributions_and_torch():
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    ours = kl_normal_std(dp.tensor(mu), dp.tensor(logvar)).numpy()
    std = np.exp(0.5 * logvar)
    lib = D.kl_divergence(D.Normal(dp.tensor(mu), dp.tensor(std)), D.Normal(0.0, 1.0)).sum(-1)
    th = torch.distributions.kl_divergence(torch.distributions.Normal(torch.tensor(mu), torch.tensor(std)),
                                           torch.distributions.Normal(0.0, 1.0)).sum(-1)
    assert ours.shape == (5,)
    np.testing.assert_allclose(ours, lib.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours, th.numpy(), rtol=1e-12)
    assert (ours > 0).all()


def test_kl_categorical_uniform_matches_distributions_and_torch():
    logits = np.random.default_rng(1).normal(size=(4, 3, 6)) * 2
    ours = kl_categorical_uniform(dp.tensor(logits)).numpy()
    uniform = np.zeros_like(logits)
    lib = D.kl_divergence(D.Categorical(logits=dp.tensor(logits)),
                          D.Categorical(logits=dp.tensor(uniform))).sum(-1)
    th = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=torch.tensor(logits)),
                                           torch.distributions.Categorical(logits=torch.tensor(uniform))).sum(-1)
    np.testing.assert_allclose(ours, lib.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours, th.numpy(), rtol=1e-10, atol=1e-12)
    # uniform posteriors have zero KL; one-hot-ish ones approach 3 log 6
    assert abs(kl_categorical_uniform(dp.zeros(1, 3, 6)).item()) < 1e-6
    assert kl_categorical_uniform(dp.eye(6)[:3][None] * 100).item() == pytest.approx(3 * math.log(6))


def test_reparameterized_sample_gradient_flows_to_mu_and_logvar():
    dp.manual_seed(0)
    mu = dp.tensor([[0.5, -1.0, 2.0]], dtype=dp.float64, requires_grad=True)
    logvar = dp.tensor([[0.0, 1.0, -2.0]], dtype=dp.float64, requires_grad=True)
    z = reparameterize(mu, logvar)
    (z * dp.tensor([1.0, 2.0, 3.0], dtype=dp.float64)).sum().backward()
    std = np.exp(0.5 * logvar.detach().numpy())
    eps = (z.detach().numpy() - mu.detach().numpy()) / std
    np.testing.assert_allclose(mu.grad.numpy(), [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(logvar.grad.numpy(), np.array([1.0, 2.0, 3.0]) * 0.5 * eps * std)
    assert np.abs(logvar.grad.numpy()).min() > 0


def test_reparameterized_samples_have_the_posterior_moments():
    dp.manual_seed(0)
    mu, logvar = dp.full((20000, 2), 1.5), dp.tensor([0.0, math.log(4.0)]).expand(20000, 2)
    z = reparameterize(mu, logvar).numpy()
    np.testing.assert_allclose(z.mean(0), [1.5, 1.5], atol=0.05)
    np.testing.assert_allclose(z.std(0), [1.0, 2.0], rtol=0.03)


def test_vae_loss_is_bce_plus_kl_as_in_torch():
    """The ELBO terms equal torch's BCE-with-logits + closed-form KL on the same network."""
    dp.manual_seed(0)
    model = VAE(hidden=16, latent_dim=3).double()
    x = dp.rand(4, 1, 28, 28, dtype=dp.float64)
    mu, logvar = model.encode(x)
    dp.manual_seed(1)
    rec, kl = model.elbo_terms(x)
    dp.manual_seed(1)                                 # the same posterior sample z
    z = reparameterize(mu, logvar)
    logits = torch.tensor(model.decode(z).detach().numpy())
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.tensor(x.numpy()).flatten(1), reduction="none").sum(1)
    np.testing.assert_allclose(rec.detach().numpy(), bce.numpy(), rtol=1e-10)
    np.testing.assert_allclose(kl.detach().numpy(), kl_normal_std(mu, logvar).detach().numpy())
    np.testing.assert_allclose(model.elbo(x).shape, (4,))
    assert model.loss(x).item() > 0


@pytest.mark.parametrize("cls", [VAE, ConvVAE, GumbelVAE])
def test_vae_shapes_and_backward(cls):
    dp.manual_seed(0)
    model = cls()
    x = dp.rand(3, 1, 28, 28)
    model.loss(x).backward()
    assert all(p.grad is not None and p.grad.abs().sum().item() > 0 for p in model.parameters())
    assert model.elbo(x).shape == (3,)
    samples = model.sample(5)
    assert samples.shape == (5, 1, 28, 28)
    assert 0 <= samples.min().item() and samples.max().item() <= 1
    assert model.reconstruct(x).shape == x.shape


def test_gumbel_vae_hard_samples_are_one_hot_with_gradient():
    dp.manual_seed(0)
    model = GumbelVAE(n_vars=4, n_classes=5, hidden=(16, 8), hard=True, tau=0.7)
    logits = dp.randn(6, 4, 5, requires_grad=True)
    z = model.latent_sample(logits)
    zn = z.detach().numpy()
    assert set(np.unique(zn)) <= {0.0, 1.0}
    np.testing.assert_array_equal(zn.sum(-1), np.ones((6, 4)))
    (z * dp.randn(6, 4, 5)).sum().backward()          # straight-through: gradient reaches logits
    assert logits.grad.abs().sum().item() > 0
    model.hard = False                                # relaxed: not one-hot, rows sum to one
    soft = model.latent_sample(logits).detach().numpy()
    assert not set(np.unique(soft)) <= {0.0, 1.0}
    np.testing.assert_allclose(soft.sum(-1), 1, rtol=1e-5)
    model.eval()                                      # eval decodes exact one-hot samples
    assert set(np.unique(model.latent_sample(logits).detach().numpy())) <= {0.0, 1.0}
    prior = model.prior(7).numpy()
    assert prior.shape == (7, 4, 5)
    np.testing.assert_array_equal(prior.sum(-1), np.ones((7, 4)))


def test_autoencoders_shapes_and_corrupt():
    dp.manual_seed(0)
    x = dp.rand(2, 1, 28, 28)
    for model in (Autoencoder(code=8), ConvAutoencoder(code=8)):
        assert model(x).shape == x.shape and model.encode(x).shape == (2, 8)
    x = dp.full((200, 784), 0.5)
    masked = corrupt(x, mask_prob=0.3).numpy()
    assert set(np.unique(masked)) == {0.0, 0.5}
    assert abs((masked == 0).mean() - 0.3) < 0.02
    noisy = corrupt(x, noise_std=1.0).numpy()
    assert noisy.min() == 0 and noisy.max() == 1 and 0.2 < noisy.std() < 0.5
    assert corrupt(x) is x


# --- the examples, tiny runs -----------------------------------------------------------

def test_autoencoder_example_learns(tmp_path):
    out = autoencoder.main(mnist_root(), epochs=3, train_size=512, test_size=200,
                           out=str(tmp_path), verbose=False)
    for kind in ("fc", "conv", "denoise"):
        r = out[kind]
        assert r["test_bce"] < r["first_loss"] - 60, (kind, r)
    assert out["fc"]["test_bce"] < 0.75 * out["fc"]["first_loss"]
    for name in ("fc_reconstructions.png", "conv_reconstructions.png", "denoising.png"):
        assert (tmp_path / name).stat().st_size > 500


def test_vae_example_learns(tmp_path):
    out = vae.main(mnist_root(), epochs=2, train_size=512, test_size=200, kinds=("mlp",),
                   map_epochs=1, out=str(tmp_path), verbose=False)
    first, elbo = out["mlp"]["first_elbo"], out["mlp"]["test_elbo"]
    assert first < -500 and elbo[-1] > first + 150, out
    assert out["map"]["test_elbo"][-1] > out["map"]["first_elbo"] + 50
    for name in ("mlp_reconstructions.png", "mlp_samples.png", "latent_map.png"):
        assert (tmp_path / name).stat().st_size > 500


def test_gumbel_vae_example_learns(tmp_path):
    out = gumbel_vae.main(mnist_root(), epochs=2, train_size=512, test_size=200,
                          out=str(tmp_path), verbose=False)
    assert out["test_elbo"][-1] > out["first_elbo"] + 120, out
    assert (tmp_path / "samples.png").stat().st_size > 500
    assert gumbel_vae.temperature(0) == 1.0 and gumbel_vae.temperature(10**6) == 0.5


# --- the fused binary cross entropy with logits (the VAEs' reconstruction loss) ----------

@pytest.mark.parametrize("shape", [(4, 5), (), (0, 3), (2, 3, 4)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_fused_bce_with_logits_matches_torch(shape, reduction):
    """One op, forward/VJP/double VJP/JVP in both the logits and the targets, incl. 0 and
    saturated logits (+-40)."""
    x = np.asarray(np.random.default_rng(0).normal(size=shape) * 3)
    x.flat[:3] = [0.0, 40.0, -40.0][:x.size]
    t = np.asarray(np.random.default_rng(1).random(shape))
    check(lambda a, b: dp.nn.functional.binary_cross_entropy_with_logits(a, b, reduction=reduction),
          lambda a, b: torch.nn.functional.binary_cross_entropy_with_logits(a, b, reduction=reduction),
          x, t)


def test_fused_bce_with_logits_float32_large_logits():
    x = np.random.default_rng(0).normal(size=(3, 50)).astype(np.float32) * 50
    t = np.random.default_rng(1).random((3, 50)).astype(np.float32)
    xd = dp.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ours = dp.nn.functional.binary_cross_entropy_with_logits(xd, dp.tensor(t), reduction="sum")
    th = torch.nn.functional.binary_cross_entropy_with_logits(xt, torch.tensor(t), reduction="sum")
    ours.backward(), th.backward()
    assert ours.dtype == dp.float32
    np.testing.assert_allclose(ours.item(), th.item(), rtol=1e-5)
    np.testing.assert_allclose(xd.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)
