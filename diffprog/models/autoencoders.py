"""Autoencoders for 28 x 28 images: a fully connected one, a convolutional one, and the
corruption that turns either into a denoising autoencoder.

Both decoders return *logits*; `reconstruct` applies the sigmoid.  Train with
`F.binary_cross_entropy_with_logits(model(x), x)` (pixels in [0, 1]) or MSE on
`model.reconstruct(x)`.  For a denoising autoencoder train on `model(corrupt(x, ...))`
against the clean `x` (examples/autoencoder.py does all three).
"""
from .. import nn
from ..random import rand_like, randn_like

__all__ = ["Autoencoder", "ConvAutoencoder", "corrupt"]


def corrupt(x, noise_std=0.0, mask_prob=0.0, generator=None):
    """A corrupted copy of images `x` in [0, 1]: each pixel zeroed with probability
    `mask_prob` (masking noise), then Gaussian noise of `noise_std` added, clipped to [0, 1]."""
    if mask_prob:
        x = x * (rand_like(x) >= mask_prob)
    if noise_std:
        x = (x + noise_std * randn_like(x)).clamp(0.0, 1.0)
    return x


class _Autoencoder(nn.Module):
    """What both autoencoders share: `encoder` and `decoder` submodules, the decoder giving
    pixel logits."""

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        """Logits of the pixels."""
        return self.decoder(z)

    def forward(self, x):
        """Logits of the reconstruction, shaped as `x`."""
        return self.decode(self.encode(x)).view(x.shape)

    def reconstruct(self, x):
        return self(x).sigmoid()


class Autoencoder(_Autoencoder):
    """784 -> hidden -> code -> hidden -> 784 with ReLUs; the code layer is linear."""

    def __init__(self, in_features=784, hidden=256, code=32):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(),
                                     nn.Linear(hidden, code))
        self.decoder = nn.Sequential(nn.Linear(code, hidden), nn.ReLU(),
                                     nn.Linear(hidden, in_features))


class ConvAutoencoder(_Autoencoder):
    """1x28x28 -> conv(s2) 16x14x14 -> conv(s2) 32x7x7 -> code; the decoder mirrors it with
    transposed convolutions back to 1x28x28 logits."""

    def __init__(self, code=32, channels=(16, 32)):
        super().__init__()
        c1, c2 = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),          # 14 x 14
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),         # 7 x 7
            nn.Flatten(), nn.Linear(c2 * 49, code))
        self.decoder = nn.Sequential(
            nn.Linear(code, c2 * 49), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 3, stride=2, padding=1, output_padding=1))

    def encode(self, x):
        return self.encoder(x.view(-1, 1, 28, 28))
