"""SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
Representations"): an encoder learns features by making two random augmentations ("views") of
each image agree, against the other 2N - 2 views of the batch, under the NT-Xent loss.  A
linear probe on the frozen encoder features scores the representation.

    model = SimCLR(CifarEncoder(), CifarEncoder().feature_dim)
    _, z1 = model(simclr_augment(x)); _, z2 = model(simclr_augment(x))
    loss = nt_xent_loss(z1, z2)

examples/simclr.py pretrains on the CIFAR-10 subset and probes the features.
"""
import math

from .. import nn
from .. import optim
from ..autograd.grad_mode import no_grad
from ..creation import arange, eye, tensor
from ..nn import functional as F
from ..ops.selection import where
from ..ops.linalg import einsum
from ..ops.shape import cat, stack
from ..random import rand

__all__ = ["nt_xent_loss", "SimCLR", "CifarEncoder", "simclr_augment", "extract_features",
           "linear_probe"]


def nt_xent_loss(z1, z2, temperature=0.5):
    """Normalised temperature-scaled cross entropy of the 2N views z1 (N, d) and z2 (N, d).

    Each view's logits are its cosine similarities / temperature to the 2N - 1 other views
    (its own masked out); its target is the other view of the same image.  Returns the mean
    over the 2N views."""
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise RuntimeError(f"nt_xent_loss: z1 and z2 must both be (N, d), got "
                           f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.shape[0]
    z = F.normalize(cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).masked_fill(eye(2 * n, dtype=bool, device=z.device), float("-inf"))
    targets = cat([arange(n, 2 * n, device=z.device), arange(n, device=z.device)])
    return F.cross_entropy(logits, targets)


class SimCLR(nn.Module):
    """An encoder (images -> feature_dim features h) and the 2-layer MLP projection head
    (h -> projection_dim z) on which the contrastive loss acts; `forward(x)` is (h, z)."""

    def __init__(self, encoder, feature_dim, projection_dim=64):
        super().__init__()
        self.encoder = encoder
        self.projector = nn.Sequential(nn.Linear(feature_dim, feature_dim), nn.ReLU(inplace=True),
                                       nn.Linear(feature_dim, projection_dim))

    def forward(self, x):
        h = self.encoder(x)
        return h, self.projector(h)


class CifarEncoder(nn.Module):
    """A small CIFAR encoder: four 3x3 conv-BN-ReLU layers of widths w, 2w, 4w, 8w with 2x2
    max pools between them, then global average pooling to `feature_dim` = 8w features."""

    def __init__(self, width=32, in_channels=3):
        super().__init__()
        layers, cin = [], in_channels
        for i, cout in enumerate(width * m for m in (1, 2, 4, 8)):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = cin

    def forward(self, x):
        return self.pool(self.features(x)).flatten(1)


_GRAY = (0.299, 0.587, 0.114)
_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def _uniform(n, low, high):
    return rand(n) * (high - low) + low


def _gray(x):
    """Luma (N, 1, H, W) of RGB images (N, 3, H, W)."""
    return einsum("c,nchw->nhw", tensor(_GRAY, dtype=x.dtype), x).unsqueeze(1)


def _per_image(v):
    return v.reshape(-1, 1, 1, 1)


def simclr_augment(x, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), flip_p=0.5,
                   jitter=(0.4, 0.4, 0.4, 0.1), jitter_p=0.8, gray_p=0.2):
    """A random view of each image of the batch x (N, 3, H, W) in [0, 1], the whole batch at once:
    RandomResizedCrop(scale, ratio; sides clipped to the image) and horizontal flip (one affine
    bilinear grid_sample), then with probability jitter_p ColorJitter(brightness, contrast,
    saturation, hue) in that fixed order (hue as a rotation of the YIQ chroma plane), then
    RandomGrayscale(gray_p).  No gradient."""
    n = x.shape[0]
    b, c, s, hue = jitter
    with no_grad():
        area = _uniform(n, *scale)
        aspect = _uniform(n, math.log(ratio[0]), math.log(ratio[1])).exp()
        w, h = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
        cx, cy = _uniform(n, -1, 1) * (1 - w), _uniform(n, -1, 1) * (1 - h)
        w = where(rand(n) < flip_p, -w, w)
        zero = w * 0
        theta = stack([stack([w, zero, cx], 1), stack([zero, h, cy], 1)], 1).to(x.dtype)
        x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False),
                          mode="bilinear", padding_mode="border", align_corners=False)

        on = rand(n) < jitter_p

        def factor(r):                                # identity factors where jitter is off
            return _per_image(where(on, _uniform(n, 1 - r, 1 + r), 1.0))

        x = (x * factor(b)).clamp(0, 1)
        mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * factor(c) + mean).clamp(0, 1)
        g = _gray(x)
        x = ((x - g) * factor(s) + g).clamp(0, 1)
        angle = where(on, _uniform(n, -hue, hue), 0.0) * (2 * math.pi)
        one, cos, sin = zero + 1, angle.cos(), angle.sin()
        rot = stack([stack([one, zero, zero], 1), stack([zero, cos, -sin], 1),
                     stack([zero, sin, cos], 1)], 1)
        yiq = tensor(_YIQ, dtype=x.dtype)
        mix = yiq.inverse() @ rot.to(x.dtype) @ yiq  # RGB -> YIQ, rotate chroma, back
        x = einsum("nij,njhw->nihw", mix, x).clamp(0, 1)

        gray = _per_image(rand(n) < gray_p)
        return where(gray, _gray(x).expand_as(x), x)


def extract_features(encoder, images, batch_size=500):
    """The encoder's features of `images` (N, ...) in eval mode without gradient, (N, d)."""
    was_training = encoder.training
    encoder.eval()
    with no_grad():
        feats = cat([encoder(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    encoder.train(was_training)
    return feats


def linear_probe(train_x, train_y, test_x, test_y, num_classes=None, steps=300, lr=0.01,
                 weight_decay=1e-3):
    """Multinomial logistic regression on frozen features: standardise with the training
    mean/std, fit a linear layer by full-batch Adam on the cross entropy (+ L2 weight decay),
    and return (train accuracy, test accuracy)."""
    train_x, test_x = train_x.flatten(1).detach(), test_x.flatten(1).detach()
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    num_classes = num_classes or int(train_y.max().item()) + 1
    head = nn.Linear(train_x.shape[1], num_classes).to(train_x.dtype)
    opt = optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(train_x), train_y).backward()
        opt.step()
    with no_grad():
        return tuple((head(x).argmax(1) == y).float().mean().item()
                     for x, y in ((train_x, train_y), (test_x, test_y)))
