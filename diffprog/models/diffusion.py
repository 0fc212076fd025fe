"""Denoising diffusion (DDPM, Ho et al. 2020) with a small U-Net.

The forward process adds Gaussian noise in T steps, q(x_t | x_0) = N(sqrt(ᾱ_t) x_0,
(1 - ᾱ_t) I); a network ε_θ(x_t, t) learns to predict the added noise (a mean squared
error), and ancestral sampling runs the learned reverse process from pure noise.
"""
import math

from .. import nn
from ..autograd.grad_mode import no_grad
from ..creation import arange, tensor
from ..dtypes import float32
from ..nn import functional as F
from ..ops.shape import cat
from ..random import randint, randn, randn_like

__all__ = ["linear_beta_schedule", "cosine_beta_schedule", "timestep_embedding", "UNet", "DDPM"]


def linear_beta_schedule(steps, beta_start=1e-4, beta_end=0.02):
    """Ho et al.'s schedule, rescaled so that any number of steps adds about the same noise;
    capped at 0.999 (as the cosine one) so that very short schedules stay valid."""
    scale = 1000 / steps
    return [min(beta_start * scale + (beta_end - beta_start) * scale * i / max(steps - 1, 1), 0.999)
            for i in range(steps)]


def cosine_beta_schedule(steps, s=0.008):
    """Nichol & Dhariwal's schedule: ᾱ_t = cos²((t/T + s) / (1 + s) · π/2), betas capped at 0.999."""
    f = [math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2 for t in range(steps + 1)]
    return [min(1 - f[t + 1] / f[t], 0.999) for t in range(steps)]


def timestep_embedding(t, dim):
    """Sinusoidal features of the (integer) time steps t: (N,) -> (N, dim)."""
    half = dim // 2
    freqs = (arange(half, dtype=float32) * (-math.log(10000.0) / half)).exp()
    angles = t.float().unsqueeze(1) * freqs.unsqueeze(0)
    return cat([angles.sin(), angles.cos()], 1)


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the time embedding added in between, plus a skip."""

    def __init__(self, c_in, c_out, t_dim, groups=8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(min(groups, c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(min(groups, c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, t_emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(t_emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """A two-level U-Net for small images (sides divisible by 4, e.g. 28x28): residual
    blocks conditioned on the time step, strided-conv downsampling, nearest upsampling, and
    skip connections that concatenate each encoder level with the decoder level of the
    same size."""

    def __init__(self, channels=1, width=32, t_dim=128):
        super().__init__()
        c = width
        self.t_dim = t_dim
        self.time_mlp = nn.Sequential(nn.Linear(t_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.conv_in = nn.Conv2d(channels, c, 3, padding=1)
        self.down1 = _ResBlock(c, c, t_dim)
        self.pool1 = nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.down2 = _ResBlock(c, 2 * c, t_dim)
        self.pool2 = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
        self.mid = _ResBlock(2 * c, 2 * c, t_dim)
        self.up2 = _ResBlock(4 * c, 2 * c, t_dim)
        self.up1 = _ResBlock(3 * c, c, t_dim)
        self.norm_out = nn.GroupNorm(min(8, c), c)
        self.conv_out = nn.Conv2d(c, channels, 3, padding=1)

    def forward(self, x, t):
        emb = self.time_mlp(timestep_embedding(t, self.t_dim))
        h1 = self.down1(self.conv_in(x), emb)                               # c,  H
        h2 = self.down2(self.pool1(h1), emb)                                # 2c, H/2
        h = self.mid(self.pool2(h2), emb)                                   # 2c, H/4
        h = self.up2(cat([F.interpolate(h, scale_factor=2), h2], 1), emb)   # 2c, H/2
        h = self.up1(cat([F.interpolate(h, scale_factor=2), h1], 1), emb)   # c,  H
        return self.conv_out(F.silu(self.norm_out(h)))


class DDPM(nn.Module):
    """The diffusion process around a noise-prediction network `model(x_t, t)`.

    `loss(x0)` is the simple objective E ||ε - ε_θ(x_t, t)||²; `sample(n, shape)` is
    ancestral sampling with σ_t² = β_t."""

    def __init__(self, model, steps=1000, schedule="linear"):
        super().__init__()
        self.model, self.steps = model, steps
        betas = {"linear": linear_beta_schedule, "cosine": cosine_beta_schedule}[schedule](steps)
        alpha_bar, prod = [], 1.0
        for b in betas:
            prod *= 1 - b
            alpha_bar.append(prod)
        self.register_buffer("betas", tensor(betas))
        self.register_buffer("alpha_bar", tensor(alpha_bar))

    def q_sample(self, x0, t, noise):
        """x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε."""
        ab = self.alpha_bar[t].reshape((-1,) + (1,) * (x0.ndim - 1))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def loss(self, x0):
        t = randint(0, self.steps, (x0.shape[0],))
        noise = randn_like(x0)
        return F.mse_loss(self.model(self.q_sample(x0, t, noise), t), noise)

    @no_grad()
    def sample(self, n, shape, return_trajectory=False):
        """Run the reverse process from x_T ~ N(0, I) to x_0; optionally keep ten snapshots."""
        x = randn((n,) + tuple(shape))
        snapshots = []
        for i in reversed(range(self.steps)):
            t = tensor([i] * n)
            beta, ab = self.betas[i].item(), self.alpha_bar[i].item()
            eps = self.model(x, t)
            x = (x - beta / math.sqrt(1 - ab) * eps) / math.sqrt(1 - beta)
            if i > 0:
                x = x + math.sqrt(beta) * randn_like(x)
            if return_trajectory and i % max(self.steps // 10, 1) == 0:
                snapshots.append(x)
        return (x, snapshots) if return_trajectory else x
