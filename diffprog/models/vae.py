"""Variational autoencoders for 28 x 28 images with pixels in [0, 1] (Bernoulli decoder).

`VAE` (MLP, Kingma & Welling 2014) and `ConvVAE` have a diagonal Gaussian posterior
q(z|x) = N(mu, exp(logvar)) and a standard normal prior; `GumbelVAE` has N categorical
latents of K classes each, relaxed with Gumbel-softmax (Jang et al. 2017), and a uniform
prior.  All three return decoder *logits* from `forward` and share:

    model.loss(x)   the negative ELBO averaged over the batch (nats per image): BCE + KL
    model.elbo(x)   per-example ELBO, a tensor (N,)
    model.sample(n) n images decoded from prior samples, probabilities (n, 1, 28, 28)

examples/vae.py and examples/gumbel_vae.py train them on MNIST.
"""
import math

from .. import nn
from ..nn import functional as F
from ..random import randint, randn, randn_like

__all__ = ["VAE", "ConvVAE", "GumbelVAE", "reparameterize", "kl_normal_std", "kl_categorical_uniform"]


def reparameterize(mu, logvar):
    """z = mu + eps * exp(logvar / 2), eps ~ N(0, I): a sample of N(mu, exp(logvar)) that is
    differentiable in mu and logvar."""
    return mu + randn_like(mu) * (0.5 * logvar).exp()


def kl_normal_std(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per example, closed form, summed over the last dim:
    -1/2 sum(1 + logvar - mu^2 - exp(logvar))."""
    return -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(-1)


def kl_categorical_uniform(logits):
    """KL(Categorical(logits) || uniform over K) summed over all but the batch dim, for
    logits (N, ..., K): sum q log q + log K per categorical variable."""
    log_q = logits.log_softmax(-1)
    n_vars = math.prod(logits.shape[1:-1])
    return (log_q.exp() * log_q).flatten(1).sum(1) + n_vars * math.log(logits.shape[-1])


def _bce_per_example(logits, x):
    """-log p(x|z) of a Bernoulli decoder, summed over the pixels: (N,)."""
    return F.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape),
                                              reduction="none").flatten(1).sum(1)


class _VAEBase(nn.Module):
    """The ELBO of a Bernoulli decoder; subclasses define `forward(x) -> (logits, *q)`,
    `kl(*q)` and `prior(n)`."""

    def elbo_terms(self, x):
        """(reconstruction -log p(x|z), KL(q(z|x) || p(z))), each per example (N,)."""
        logits, *q = self(x)
        return _bce_per_example(logits, x), self.kl(*q)

    def elbo(self, x):
        """The evidence lower bound per example, in nats: (N,)."""
        rec, kl = self.elbo_terms(x)
        return -(rec + kl)

    def loss(self, x):
        """The negative ELBO averaged over the batch (what to minimise)."""
        rec, kl = self.elbo_terms(x)
        return (rec + kl).mean()

    def sample(self, n, generator=None):
        """n images from the model: decoder probabilities for prior samples, (n, 1, 28, 28)."""
        return self.decode(self.prior(n, generator)).sigmoid().view(n, 1, 28, 28)

    def reconstruct(self, x):
        """Decoder probabilities for a posterior sample, shaped as x."""
        return self(x)[0].sigmoid().view(x.shape)


class _GaussianVAE(_VAEBase):
    def forward(self, x):
        """(decoder logits (N, 784) for a posterior sample z, mu, logvar); z is sampled in
        eval mode too, so that `elbo` is a Monte Carlo estimate of the ELBO."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)).flatten(1), mu, logvar

    def reconstruct(self, x):
        """Decoder probabilities at the posterior mean, shaped as x."""
        return self.decode(self.encode(x)[0]).sigmoid().view(x.shape)

    def kl(self, mu, logvar):
        return kl_normal_std(mu, logvar)

    def prior(self, n, generator=None):
        return randn(n, self.latent_dim, generator=generator)


class VAE(_GaussianVAE):
    """MLP VAE: encoder 784-hidden-(latent mu, latent logvar), decoder latent-hidden-784."""

    def __init__(self, in_features=784, hidden=400, latent_dim=20):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc_mu = nn.Linear(hidden, latent_dim)
        self.fc_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, in_features))

    def encode(self, x):
        """(mu, logvar) of q(z|x)."""
        h = self.fc1(x.flatten(1)).relu()
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        """Pixel logits (N, 784)."""
        return self.decoder(z)


class ConvVAE(_GaussianVAE):
    """Convolutional VAE: 1x28x28 -conv s2-> 32x14x14 -conv s2-> 64x7x7 -> (mu, logvar);
    the decoder mirrors it with transposed convolutions."""

    def __init__(self, latent_dim=20, channels=(32, 64)):
        super().__init__()
        c1, c2 = channels
        self.latent_dim = latent_dim
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.fc_mu = nn.Linear(c2 * 49, latent_dim)
        self.fc_logvar = nn.Linear(c2 * 49, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, c2 * 49), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1))

    def encode(self, x):
        h = self.features(x.view(-1, 1, 28, 28))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        """Pixel logits (N, 1, 28, 28)."""
        return self.decoder(z)


class GumbelVAE(_VAEBase):
    """Discrete VAE: `n_vars` categorical latents of `n_classes` classes each.  The encoder
    (784-512-256-n_vars*n_classes) gives their logits; training decodes a Gumbel-softmax
    relaxed one-hot sample at temperature `self.tau` (anneal it from outside, e.g.
    `model.tau = max(0.5, exp(-3e-5 * step))`); `hard=True` decodes the one-hot argmax with
    the straight-through gradient.  The prior is uniform; in eval mode the decoder gets an
    exact one-hot sample, so `elbo` is the ELBO of the discrete model."""

    def __init__(self, in_features=784, n_vars=30, n_classes=10, hidden=(512, 256), tau=1.0,
                 hard=False):
        super().__init__()
        h1, h2 = hidden
        self.n_vars, self.n_classes, self.tau, self.hard = n_vars, n_classes, tau, hard
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(in_features, h1), nn.ReLU(),
                                     nn.Linear(h1, h2), nn.ReLU(),
                                     nn.Linear(h2, n_vars * n_classes))
        self.decoder = nn.Sequential(nn.Linear(n_vars * n_classes, h2), nn.ReLU(),
                                     nn.Linear(h2, h1), nn.ReLU(), nn.Linear(h1, in_features))

    def encode(self, x):
        """Logits of q(z|x): (N, n_vars, n_classes)."""
        return self.encoder(x).view(-1, self.n_vars, self.n_classes)

    def latent_sample(self, logits):
        """A (relaxed, in training) one-hot sample (N, n_vars, n_classes) of q(z|x)."""
        hard = self.hard or not self.training
        return F.gumbel_softmax(logits, tau=self.tau, hard=hard)

    def decode(self, z):
        """Pixel logits (N, 784) from one-hot codes (N, n_vars, n_classes)."""
        return self.decoder(z.flatten(1))

    def forward(self, x):
        """(decoder logits (N, 784), encoder logits)."""
        logits = self.encode(x)
        return self.decode(self.latent_sample(logits)), logits

    def kl(self, logits):
        return kl_categorical_uniform(logits)

    def prior(self, n, generator=None):
        classes = randint(0, self.n_classes, (n, self.n_vars), generator=generator)
        return F.one_hot(classes, self.n_classes).float()
