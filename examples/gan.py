"""GANs on MNIST: a fully-connected GAN, a DCGAN, and a WGAN-GP (DCGAN-shaped critic with a
gradient penalty, which needs gradients of gradients through convolutions).

    python examples/gan.py --model dcgan [--epochs 5] [--train-size 60000] [--out runs/gan]
    python examples/gan.py --model gan
    python examples/gan.py --model wgan-gp

The standard tricks: images scaled to [-1, 1] and a tanh generator; Adam with lr 2e-4 and
beta1 = 0.5 (WGAN-GP: lr 1e-4, betas (0, 0.9), 5 critic steps per generator step, penalty
weight 10); the non-saturating generator loss; one-sided label smoothing (real label 0.9);
DCGAN's N(0, 0.02) initialisation, batch norm in the generator, LeakyReLU(0.2) and strided
convolutions instead of pooling in the discriminator. A grid of 64 samples from a fixed
batch of latent vectors is written after every epoch (`<out>/<model>_epoch<k>.png`).

Full runs (seed 0, 1 BLAS thread, on the 2-core development machine, mostly shared with
other jobs, so the epoch times are upper bounds):

* `--model dcgan --epochs 5 --train-size 20000`: D/G loss per epoch 0.57/2.97, 0.72/2.04,
  0.66/2.12, 0.67/2.19, 0.74/2.08 (300-760 s per epoch under load).  After epoch 1 the
  samples are digit-shaped blobs; after epoch 5 most are readable digits (0, 1, 3, 6, 7,
  8, 9) with some broken strokes.
* `--model gan --epochs 10` (all 60,000 images; 20 s per epoch when the machine was
  free): D/G loss 0.92/1.74 in epoch 1, 0.78/2.57 in epoch 4, 1.06/1.48 in epoch 10.  The
  epoch-10 samples are recognisable digits (1, 3, 4, 7, 8, 9) with the salt-and-pepper
  speckle typical of a fully connected generator.
* `--model wgan-gp --epochs 4` (all 60,000 images: 3,748 critic and 748 generator steps,
  about 300 s per epoch): critic loss -16.0, -6.7, -4.3, -3.8 (the Wasserstein estimate
  shrinks as the generator improves).  After epoch 4 the samples are digit-shaped strokes,
  many readable (2, 3, 7, 8, 9), thinner and more broken than the DCGAN's; a shorter run
  (`--epochs 5 --train-size 20000`, 312 generator steps) gave mostly stroke-like shapes.
"""
import argparse
import os
import time

import diffprog as dp
from diffprog.models import gan
from diffprog.utils.data import DataLoader, TensorDataset
from diffprog.vision.utils import save_image

from autoencoder import load_mnist


def mnist_tensor(root=None, train=True, size=None):
    """MNIST images as one float32 tensor N x 1 x 28 x 28 scaled to [-1, 1] (tanh's range)."""
    return load_mnist(root, train, size) * 2 - 1


def make_models(model, latent_dim, width=64):
    """(generator, discriminator) for `model`; `width` scales the DCGAN's channels."""
    if model == "gan":
        return gan.MLPGenerator(latent_dim, hidden=4 * width), gan.MLPDiscriminator(hidden=4 * width)
    norm = "layer" if model == "wgan-gp" else "batch"
    return (gan.dcgan_init_(gan.DCGANGenerator(latent_dim, width)),
            gan.dcgan_init_(gan.DCGANDiscriminator(width, norm=norm)))


def train(images, model="dcgan", epochs=1, batch_size=64, latent_dim=None, seed=0, out=None,
          n_critic=5, gp_weight=10.0, verbose=True, models=None, lr=None, width=64):
    """Train on `images` (N x C x H x W in [-1, 1]); returns the per-epoch mean losses, the
    models and a final batch of samples. `models` = (G, D) replaces the default pair."""
    dp.manual_seed(seed)
    latent_dim = latent_dim or (100 if model == "dcgan" else 64)
    G, D = models or make_models(model, latent_dim, width)
    wgan = model == "wgan-gp"
    default_lr, betas = (1e-4, (0.0, 0.9)) if wgan else (2e-4, (0.5, 0.999))
    lr = lr or default_lr
    opt_g = dp.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = dp.optim.Adam(D.parameters(), lr=lr, betas=betas)
    loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True, drop_last=True)
    fixed_z = dp.randn(64, latent_dim)
    history = []
    for epoch in range(1, epochs + 1):
        start, d_sum, g_sum, g_steps = time.time(), 0.0, 0.0, 0
        for i, (real,) in enumerate(loader):
            # discriminator / critic step on a real and a generated batch
            fake = G(dp.randn(real.shape[0], latent_dim)).detach()
            if wgan:
                d_loss = (gan.discriminator_loss(D(real), D(fake), "wgan")
                          + gan.gradient_penalty(D, real, fake, gp_weight))
            else:
                d_loss = gan.discriminator_loss(D(real), D(fake), real_label=0.9)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            d_sum += d_loss.item()
            if wgan and i % n_critic != n_critic - 1:
                continue
            # generator step
            g_loss = gan.generator_loss(D(G(dp.randn(real.shape[0], latent_dim))), "wgan" if wgan else "gan")
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            g_sum, g_steps = g_sum + g_loss.item(), g_steps + 1
        history.append({"d_loss": d_sum / (i + 1), "g_loss": g_sum / max(g_steps, 1),
                        "seconds": time.time() - start})
        if verbose:
            print(f"epoch {epoch}: D loss {history[-1]['d_loss']:.3f}  G loss {history[-1]['g_loss']:.3f}"
                  f"  ({history[-1]['seconds']:.0f} s)", flush=True)
        if out:
            G.eval()
            with dp.no_grad():
                save_image(G(fixed_z) * 0.5 + 0.5, os.path.join(out, f"{model}_epoch{epoch}.png"), nrow=8)
            G.train()
    G.eval()
    with dp.no_grad():
        samples = G(fixed_z)
    return {"history": history, "generator": G, "discriminator": D, "samples": samples}


def main(model="dcgan", epochs=5, train_size=None, batch_size=64, root=None, out="runs/gan", seed=0,
         verbose=True):
    os.makedirs(out, exist_ok=True)
    images = mnist_tensor(root, size=train_size)
    return train(images, model, epochs, batch_size, seed=seed, out=out, verbose=verbose)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["gan", "dcgan", "wgan-gp"], default="dcgan")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default="runs/gan")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.model, a.epochs, a.train_size, a.batch_size, a.data_root, a.out, a.seed)
