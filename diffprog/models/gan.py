"""Generative adversarial networks: a fully-connected GAN, DCGAN (Radford et al. 2016) for
28x28 images, and the gradient penalty of WGAN-GP (Gulrajani et al. 2017).

The generators end in tanh, so they model images scaled to [-1, 1]. The discriminators
return one logit (or critic score) per image; the losses below turn scores into the
standard objectives.
"""
from .. import autograd
from .. import nn
from ..nn import functional as F
from ..random import rand

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator",
           "dcgan_init_", "discriminator_loss", "generator_loss", "gradient_penalty"]


class MLPGenerator(nn.Module):
    """z -> image: two LeakyReLU hidden layers, tanh output."""

    def __init__(self, latent_dim=64, hidden=256, image_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        n = 1
        for s in image_shape:
            n *= s
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 2 * hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(2 * hidden, n), nn.Tanh())

    def forward(self, z):
        return self.net(z).reshape((-1,) + self.image_shape)


class MLPDiscriminator(nn.Module):
    """image -> logit, with LeakyReLU and dropout (which keeps D from winning too early)."""

    def __init__(self, hidden=256, image_shape=(1, 28, 28), dropout=0.3):
        super().__init__()
        n = 1
        for s in image_shape:
            n *= s
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n, 2 * hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout),
                                 nn.Linear(2 * hidden, hidden), nn.LeakyReLU(0.2), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class DCGANGenerator(nn.Module):
    """z (latent_dim) -> 1x28x28: project to 7x7, then two stride-2 transposed convolutions,
    batch norm and ReLU in between, tanh at the end (the DCGAN recipe)."""

    def __init__(self, latent_dim=100, width=64, channels=1):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 2 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """1x28x28 -> one score: stride-2 convolutions with LeakyReLU(0.2), no pooling.
    `norm` is "batch" for the standard GAN; a WGAN-GP critic must not mix the examples of a
    batch (the penalty is per example), so it uses "layer" (or None)."""

    def __init__(self, width=64, channels=1, norm="batch"):
        super().__init__()
        norms = {"batch": lambda: nn.BatchNorm2d(2 * width), "layer": lambda: nn.GroupNorm(1, 2 * width),
                 None: nn.Identity}
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=norm is None), norms[norm](), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, 7, 1, 0))

    def forward(self, x):
        return self.net(x).flatten()


def dcgan_init_(module):
    """DCGAN's initialisation: conv weights N(0, 0.02), norm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def discriminator_loss(real_scores, fake_scores, kind="gan", real_label=1.0):
    """'gan': binary cross entropy on logits (`real_label` < 1 is one-sided label smoothing);
    'wgan': the critic's E[D(fake)] - E[D(real)]."""
    if kind == "wgan":
        return fake_scores.mean() - real_scores.mean()
    real = F.binary_cross_entropy_with_logits(real_scores, real_scores.new_full(tuple(real_scores.shape), real_label))
    fake = F.binary_cross_entropy_with_logits(fake_scores, fake_scores.new_zeros(tuple(fake_scores.shape)))
    return real + fake


def generator_loss(fake_scores, kind="gan"):
    """'gan': the non-saturating loss -log D(G(z)); 'wgan': -E[D(G(z))]."""
    if kind == "wgan":
        return -fake_scores.mean()
    return F.binary_cross_entropy_with_logits(fake_scores, fake_scores.new_ones(tuple(fake_scores.shape)))


def gradient_penalty(critic, real, fake, weight=10.0):
    """WGAN-GP: weight * E[(||∇_x D(x)||_2 - 1)^2] at random points x between real and fake
    examples. The penalty is differentiated again when the critic's loss is minimised, so
    this needs gradients of gradients (through convolutions, for a DCGAN critic)."""
    eps = rand((real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype)
    x = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = autograd.grad(critic(x).sum(), x, create_graph=True)
    return weight * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
