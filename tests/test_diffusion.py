"""DDPM (diffprog.models.diffusion, examples/ddpm.py): schedules, the forward process, the
U-Net, an exact check of the sampler, and a short training run."""
import math
import os
import sys

import numpy as np
import pytest

import diffprog as dp
from diffprog.models import DDPM, UNet, cosine_beta_schedule, linear_beta_schedule, timestep_embedding

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import ddpm as ddpm_example  # noqa: E402
from data import mnist_root  # noqa: E402


def test_schedules():
    b = linear_beta_schedule(1000)
    assert math.isclose(b[0], 1e-4) and math.isclose(b[-1], 0.02) and all(x < y for x, y in zip(b, b[1:]))
    c = cosine_beta_schedule(100)
    alpha_bar = np.cumprod(1 - np.array(c))
    f = lambda t: math.cos((t / 100 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    np.testing.assert_allclose(alpha_bar[:90], [f(t + 1) / f(0) for t in range(90)], rtol=1e-10)
    assert max(c) <= 0.999
    short = linear_beta_schedule(5)             # rescaled by 200: capped below 1
    assert max(short) == 0.999 and short[0] == pytest.approx(0.02)


def test_forward_process_moments():
    dp.manual_seed(0)
    d = DDPM(lambda x, t: x, steps=100)
    x0 = dp.full((20000, 1), 2.0)
    t = dp.full((20000,), 30, dtype=dp.int64)
    xt = d.q_sample(x0, t, dp.randn(20000, 1)).numpy()
    ab = d.alpha_bar[30].item()
    assert abs(xt.mean() - 2 * math.sqrt(ab)) < 0.03 and abs(xt.var() - (1 - ab)) < 0.03


def test_sampler_recovers_the_data_point_with_the_exact_noise_predictor():
    """If all data is one image x0, ε*(x_t, t) = (x_t - sqrt(ᾱ_t) x0) / sqrt(1 - ᾱ_t) is the
    optimal predictor, and ancestral sampling with it must end exactly at x0."""
    dp.manual_seed(0)
    x0 = dp.rand(1, 3, 4) * 2 - 1
    d = DDPM(lambda x, t: None, steps=50, schedule="cosine")
    d.model = lambda x, t: (x - d.alpha_bar[t].sqrt().reshape(-1, 1, 1, 1) * x0) / \
        (1 - d.alpha_bar[t]).sqrt().reshape(-1, 1, 1, 1)
    samples = d.sample(5, (1, 3, 4))
    np.testing.assert_allclose(samples.numpy(), np.broadcast_to(x0.numpy(), (5, 1, 3, 4)), atol=1e-4)


def test_unet_shapes_and_time_conditioning():
    dp.manual_seed(0)
    net = UNet(width=8, t_dim=16)
    x = dp.randn(2, 1, 28, 28)
    y1, y2 = net(x, dp.tensor([3, 3])), net(x, dp.tensor([300, 300]))
    assert tuple(y1.shape) == (2, 1, 28, 28)
    assert not np.allclose(y1.detach().numpy(), y2.detach().numpy())
    emb = timestep_embedding(dp.tensor([0, 7]), 16)
    np.testing.assert_allclose(emb[1, :8].numpy(), np.sin(7 * np.exp(-np.log(1e4) * np.arange(8) / 8)), rtol=1e-5)
    y1.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_short_training_lowers_the_test_loss(tmp_path):
    root = mnist_root()
    r = ddpm_example.main(steps=40, T=50, width=8, batch_size=32, train_size=512, test_size=128, n_samples=16,
                          root=root, out=str(tmp_path), verbose=False)
    assert r["test_loss"] < 0.9 * r["first_test_loss"]
    assert tuple(r["samples"].shape) == (16, 1, 28, 28)
    for name in ("samples.png", "trajectory.png", "noising.png"):
        assert (tmp_path / name).stat().st_size > 500
