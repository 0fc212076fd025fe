"""Barlow Twins (Zbontar et al. 2021): self-supervised learning by redundancy reduction.  The
cross-correlation matrix of two views' embeddings, each standardised over the batch, is pushed
towards the identity: matching features agree (diagonal 1) and different features are
decorrelated (off-diagonal 0), so no negative pairs or momentum encoders are needed.

    model = BarlowTwins(CifarEncoder(), CifarEncoder().feature_dim)
    loss = barlow_twins_loss(model(simclr_augment(x))[1], model(simclr_augment(x))[1])
"""
from .. import nn
from ..creation import eye

__all__ = ["barlow_twins_loss", "BarlowTwins"]


def barlow_twins_loss(z1, z2, lambd=5e-3, eps=1e-5):
    """sum_i (1 - C_ii)^2 + lambd sum_{i != j} C_ij^2, where C (d, d) is the cross-correlation
    of z1 and z2 (N, d) standardised per feature over the batch (biased std, as batch norm)."""
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise RuntimeError(f"barlow_twins_loss: z1 and z2 must both be (N, d) with N >= 2, got "
                           f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    n, d = z1.shape
    a = (z1 - z1.mean(0)) / (z1.var(0, unbiased=False) + eps).sqrt()
    b = (z2 - z2.mean(0)) / (z2.var(0, unbiased=False) + eps).sqrt()
    c = a.T @ b / n
    diag = eye(d, dtype=bool, device=c.device)
    on = ((c.diagonal() - 1) ** 2).sum()
    off = (c.masked_fill(diag, 0.0) ** 2).sum()
    return on + lambd * off


class BarlowTwins(nn.Module):
    """An encoder (images -> feature_dim features h) and the paper's projector, Linear-BN-ReLU
    layers then a Linear (h -> projection_dim z); `forward(x)` is (h, z)."""

    def __init__(self, encoder, feature_dim, projection_dim=256, hidden_layers=2):
        super().__init__()
        self.encoder = encoder
        layers, d = [], feature_dim
        for _ in range(hidden_layers):
            layers += [nn.Linear(d, projection_dim, bias=False), nn.BatchNorm1d(projection_dim), nn.ReLU(inplace=True)]
            d = projection_dim
        layers.append(nn.Linear(d, projection_dim, bias=False))
        self.projector = nn.Sequential(*layers)

    def forward(self, x):
        h = self.encoder(x)
        return h, self.projector(h)
