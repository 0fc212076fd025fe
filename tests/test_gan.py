"""GANs (diffprog.models.gan, examples/gan.py): a GAN that learns a 1-D Gaussian, the
WGAN-GP penalty and its gradients against PyTorch, and short MNIST runs."""
import os
import sys

import numpy as np
import pytest

from oracle import torch

import diffprog as dp
from diffprog.models import gan

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import gan as gan_example  # noqa: E402
from data import mnist_root  # noqa: E402


def test_mlp_gan_learns_a_gaussian():
    """The generator's samples move from N(0, small) to the data's N(3, 0.5)."""
    dp.manual_seed(0)
    data = dp.randn(4096, 1) * 0.5 + 3.0
    G = gan.MLPGenerator(latent_dim=4, hidden=32, image_shape=(1,))
    before = G(dp.randn(2000, 4)).detach().numpy()
    # tanh caps the output at 1: model the data divided by 4, as images are scaled to [-1, 1]
    out = gan_example.train((data / 4).reshape(4096, 1), "gan", epochs=8, batch_size=64, latent_dim=4,
                            verbose=False, models=(G, gan.MLPDiscriminator(hidden=32, image_shape=(1,), dropout=0.0)), lr=1e-3)
    after = 4 * out["generator"](dp.randn(4000, 4)).detach().numpy()
    assert abs(before.mean() * 4 - 3.0) > 2.0
    assert abs(after.mean() - 3.0) < 0.5, after.mean()       # GAN training oscillates by ~0.3 here
    assert 0.15 < after.std() < 1.0, after.std()


def test_dcgan_shapes_and_range():
    G, D = gan.DCGANGenerator(16, width=8), gan.DCGANDiscriminator(width=8)
    x = G(dp.randn(5, 16))
    assert tuple(x.shape) == (5, 1, 28, 28) and float(x.abs().max()) <= 1.0
    assert tuple(D(x).shape) == (5,)
    assert tuple(gan.DCGANDiscriminator(width=8, norm=None)(x).shape) == (5,)


def _torch_critic(critic):
    """The same DCGAN critic (norm='layer') in plain torch, with the same weights."""
    tn = torch.nn
    net = tn.Sequential(tn.Conv2d(1, 4, 4, 2, 1), tn.LeakyReLU(0.2), tn.Conv2d(4, 8, 4, 2, 1, bias=False),
                        tn.GroupNorm(1, 8), tn.LeakyReLU(0.2), tn.Conv2d(8, 1, 7, 1, 0)).double()
    net.load_state_dict({k.removeprefix("net."): torch.tensor(v.numpy()) for k, v in critic.state_dict().items()})
    return lambda x: net(x).flatten(), net


def test_gradient_penalty_and_its_gradient_match_torch():
    """The penalty differentiates a gradient: double backward through conv and group norm."""
    dp.manual_seed(1)
    critic = gan.DCGANDiscriminator(width=4, norm="layer").double()
    real, fake = dp.randn(3, 1, 28, 28, dtype=dp.float64), dp.randn(3, 1, 28, 28, dtype=dp.float64)
    dp.manual_seed(7)
    gp = gan.gradient_penalty(critic, real, fake)
    gp.backward()
    dp.manual_seed(7)
    eps = torch.tensor(dp.rand((3, 1, 1, 1), dtype=dp.float64).numpy())
    t_critic, net = _torch_critic(critic)
    x = (eps * torch.tensor(real.numpy()) + (1 - eps) * torch.tensor(fake.numpy())).requires_grad_(True)
    (g,) = torch.autograd.grad(t_critic(x).sum(), x, create_graph=True)
    t_gp = 10 * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    t_gp.backward()
    np.testing.assert_allclose(gp.item(), t_gp.item(), rtol=1e-10)
    for (name, p), tp in zip(critic.named_parameters(), net.parameters()):
        # (biases that only shift a piecewise-linear kink get no gradient: None or zeros)
        d, t = [np.zeros(tuple(q.shape)) if q.grad is None else q.grad.numpy() for q in (p, tp)]
        np.testing.assert_allclose(d, t, rtol=1e-8, atol=1e-12, err_msg=name)


def test_losses_match_their_definitions():
    r, f = dp.tensor([2.0, -1.0]), dp.tensor([0.5, -3.0])
    sp = lambda t: np.log1p(np.exp(t))  # noqa: E731  softplus
    expected = (sp(-r.numpy()) * 0.9 + sp(r.numpy()) * 0.1).mean() + sp(f.numpy()).mean()
    np.testing.assert_allclose(gan.discriminator_loss(r, f, real_label=0.9).item(), expected, rtol=1e-6)
    np.testing.assert_allclose(gan.generator_loss(f).item(), sp(-f.numpy()).mean(), rtol=1e-6)
    np.testing.assert_allclose(gan.discriminator_loss(r, f, "wgan").item(), f.numpy().mean() - r.numpy().mean())
    np.testing.assert_allclose(gan.generator_loss(f, "wgan").item(), -f.numpy().mean())


@pytest.mark.parametrize("model", ["gan", "dcgan", "wgan-gp"])
def test_short_mnist_run_writes_samples(model, tmp_path):
    """A few steps on 128 images run end to end: finite losses and a sample grid. (That the
    adversarial game learns is shown on the 1-D problem above and in the documented runs.)"""
    images = gan_example.mnist_tensor(mnist_root(), size=128)
    out = gan_example.train(images, model, epochs=1, batch_size=32, width=8, out=str(tmp_path),
                            verbose=False, n_critic=2)
    assert all(np.isfinite(h["d_loss"]) and np.isfinite(h["g_loss"]) for h in out["history"])
    assert (tmp_path / f"{model}_epoch1.png").stat().st_size > 1000
    assert tuple(out["samples"].shape) == (64, 1, 28, 28)
