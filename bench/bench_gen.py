"""Generative-model benchmarks, diffprog vs PyTorch:

1. one Adam training step of the MLP VAE on 784 pixels (encoder 784-400-(20, 20), decoder
   20-400-784, Bernoulli BCE-with-logits + closed-form KL, reparameterised sample,
   batch 128): `diffprog.models.VAE.loss` against the same network written in PyTorch.

    python bench/bench_gen.py [--threads 1]

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
from runner import compare, pin_threads  # noqa: E402


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    print(pin_threads(args.threads), flush=True)
    vae_step()


if __name__ == "__main__":
    main()
