"""Generative-model benchmarks, diffprog vs PyTorch:

1. one Adam training step of the MLP VAE on 784 pixels (encoder 784-400-(20, 20), decoder
   20-400-784, Bernoulli BCE-with-logits + closed-form KL, reparameterised sample,
   batch 128): `diffprog.models.VAE.loss` against the same network written in PyTorch.
2. one DCGAN step on 1x28x28 images, batch 64: a discriminator step on a real and a
   generated batch, then a generator step (diffprog.models.DCGANGenerator/Discriminator,
   width 64, Adam), against the same networks in PyTorch starting from the same weights.

    python bench/bench_gen.py [--threads 1,2] [--only vae|dcgan]

Measured 2026-11-23, 1 BLAS thread, on the 2-core development machine while ~8 other jobs
ran (absolute times 3-6x the idle ones; the ratio is what to read): diffprog 26-58 ms,
PyTorch 25-57 ms per step, ratio 0.94-1.01x (1.04-1.12x before the fused
binary_cross_entropy_with_logits op and the faster softplus/log-sigmoid).  About half of
the time is the five matrix products forward and nine backward (BLAS), a fifth Adam.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from runner import add_threads_option, compare, pin_threads  # noqa: E402


class TorchVAE:
    """diffprog.models.VAE's network and loss, in PyTorch."""

    def __init__(self):
        import torch.nn as nn
        self.fc1, self.fc_mu, self.fc_logvar = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.decoder = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))
        self.modules = nn.ModuleList([self.fc1, self.fc_mu, self.fc_logvar, self.decoder])

    def loss(self, x):
        import torch
        import torch.nn.functional as F
        h = self.fc1(x).relu()
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        rec = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").sum(1)
        kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(-1)
        return (rec + kl).mean()


def vae_step():
    import diffprog as dp
    import torch
    from diffprog.models import VAE
    x = np.random.default_rng(0).random((128, 784), dtype=np.float32)
    dp.manual_seed(0)
    torch.manual_seed(0)
    dp_model, th_model = VAE(), TorchVAE()
    dp_opt = dp.optim.Adam(dp_model.parameters(), lr=1e-3)
    th_opt = torch.optim.Adam(th_model.modules.parameters(), lr=1e-3)

    def step(model, opt, x):
        opt.zero_grad()
        loss = model.loss(x)
        loss.backward()
        opt.step()
        return loss
    xd, xt = dp.tensor(x), torch.tensor(x)
    return compare("MLP VAE 784-400-20 Adam step, batch 128", lambda: step(dp_model, dp_opt, xd),
                   lambda: step(th_model, th_opt, xt), number=20, rounds=9, unit="ms")


def torch_dcgan(latent_dim=100, width=64):
    """diffprog.models.gan's DCGAN generator and discriminator, in PyTorch (same names)."""
    import torch.nn as nn
    g, d = nn.Sequential(), nn.Sequential()        # containers, so that keys read "net.0.weight"
    g.net = nn.Sequential(
        nn.ConvTranspose2d(latent_dim, 2 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())
    d.net = nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 1, 7, 1, 0))
    return g, d


def dcgan_step():
    import diffprog as dp
    import torch
    import torch.nn.functional as TF
    from diffprog.models import gan
    dp.manual_seed(0)
    dp_g, dp_d = gan.dcgan_init_(gan.DCGANGenerator(100)), gan.dcgan_init_(gan.DCGANDiscriminator())
    th_g, th_d = torch_dcgan()
    for dst, src in ((th_g, dp_g), (th_d, dp_d)):
        dst.load_state_dict({k: torch.tensor(v.numpy()) for k, v in src.state_dict().items()})
    real = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32) * 2 - 1

    def make_step(lib, G, D, bce, x):
        opt_g = lib.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_d = lib.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        ones, zeros = lib.ones(64), lib.zeros(64)

        def step():
            fake = G(lib.randn(64, 100, 1, 1))
            d_loss = bce(D(x).flatten(), ones * 0.9) + bce(D(fake.detach()).flatten(), zeros)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = bce(D(fake).flatten(), ones)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
        return step
    return compare("DCGAN 28x28 D+G step, batch 64",
                   make_step(dp, dp_g, dp_d, dp.nn.functional.binary_cross_entropy_with_logits, dp.tensor(real)),
                   make_step(torch, th_g, th_d, TF.binary_cross_entropy_with_logits, torch.tensor(real)),
                   number=3, rounds=7, unit="ms")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_threads_option(parser)
    parser.add_argument("--only", choices=["vae", "dcgan"])
    args = parser.parse_args(argv)
    for threads in args.threads:
        print(pin_threads(threads), flush=True)
        if args.only in (None, "vae"):
            vae_step()
        if args.only in (None, "dcgan"):
            dcgan_step()


if __name__ == "__main__":
    main()
