"""A denoising diffusion model (DDPM) on MNIST with a small U-Net.

    python examples/ddpm.py [--steps 3000] [--T 500] [--schedule linear|cosine] [--width 16]
                            [--out runs/ddpm]

Trains ε_θ(x_t, t) to predict the noise added to images scaled to [-1, 1] (the simple DDPM
loss), with Adam and an exponential moving average of the weights, then draws samples by
ancestral sampling from pure noise. Writes `<out>/samples.png` (64 samples),
`<out>/trajectory.png` (one row per sample: x_T ... x_0) and `<out>/noising.png` (the
forward process on test images). Reports the training loss and the test loss (the same
objective on held-out images, with fixed noise).

Full run with the defaults, `python examples/ddpm.py` (U-Net of width 16, 139k parameters;
T = 500 linear-schedule steps; 3,000 Adam steps of batch 64 under a one-cycle schedule to lr
2e-3, EMA 0.995; all 60,000 training images; seed 0; 1 BLAS thread), on the 2-core
development machine while other jobs ran (460 ms per step, 23 min; sampling 64 images
through the 500 reverse steps took 72 s): training loss (mean over 100 steps) 0.569 at step
100, 0.168 at 200, 0.046 at 700, 0.030 at 1,800, 0.028 at 3,000; test loss (the same
objective on 1,000 test images with fixed t and noise) 1.263 before training, 0.0281 after.
In `samples.png` the 64 samples are clean white strokes on black, many of them readable
digits (0, 2, 3, 5, 6, 7, 9), the rest digit-like curls; `trajectory.png` shows each sample
emerge from pure noise in the last third of the reverse process.
"""
import argparse
import copy
import os
import time

import diffprog as dp
from diffprog.models import DDPM, UNet
from diffprog.utils.data import DataLoader, TensorDataset
from diffprog.vision.utils import save_image

from gan import mnist_tensor


def ema_update(ema, model, decay):
    with dp.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.mul_(decay).add_(p, alpha=1 - decay)


@dp.no_grad()
def test_loss(ddpm, images, seed=123):
    """The training objective on held-out images with fixed t and noise (comparable across runs)."""
    g = dp.Generator().manual_seed(seed)
    t = dp.randint(0, ddpm.steps, (images.shape[0],), generator=g)
    noise = dp.randn(tuple(images.shape), generator=g)
    return dp.nn.functional.mse_loss(ddpm.model(ddpm.q_sample(images, t, noise), t), noise).item()


def main(steps=3000, T=500, schedule="linear", width=16, batch_size=64, lr=2e-3, train_size=None,
         test_size=1000, n_samples=64, root=None, out="runs/ddpm", seed=0, ema_decay=0.995, verbose=True):
    dp.manual_seed(seed)
    os.makedirs(out, exist_ok=True)
    train, test = mnist_tensor(root, True, train_size), mnist_tensor(root, False, test_size)
    ddpm = DDPM(UNet(width=width), steps=T, schedule=schedule)
    ema = copy.deepcopy(ddpm)
    opt = dp.optim.Adam(ddpm.parameters(), lr=lr)
    sched = dp.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loader = DataLoader(TensorDataset(train), batch_size=batch_size, shuffle=True, drop_last=True)
    first_test = test_loss(ddpm, test)
    losses, step, start = [], 0, time.time()
    while step < steps:
        for (x,) in loader:
            loss = ddpm.loss(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            ema_update(ema, ddpm, ema_decay)
            losses.append(loss.item())
            step += 1
            if verbose and (step % 100 == 0 or step == steps):
                print(f"step {step}: loss {sum(losses[-100:]) / len(losses[-100:]):.4f} "
                      f"({(time.time() - start) / step * 1000:.0f} ms/step)", flush=True)
            if step == steps:
                break
    ema.eval()
    result = {"first_test_loss": first_test, "test_loss": test_loss(ema, test),
              "train_loss": sum(losses[-100:]) / len(losses[-100:]), "seconds": time.time() - start,
              "model": ema}
    if n_samples:
        start = time.time()
        samples, trajectory = ema.sample(n_samples, (1, 28, 28), return_trajectory=True)
        result["sample_seconds"] = time.time() - start
        result["samples"] = samples
        save_image(samples.clamp(-1, 1) * 0.5 + 0.5, os.path.join(out, "samples.png"), nrow=8)
        rows = dp.stack([s[:8] for s in trajectory], 1).reshape(-1, 1, 28, 28)   # 8 samples x 10 times
        save_image(rows.clamp(-1, 1) * 0.5 + 0.5, os.path.join(out, "trajectory.png"), nrow=len(trajectory))
        x0 = test[:8]
        ts = [int(i * (T - 1) / 9) for i in range(10)]
        noisy = dp.stack([ema.q_sample(x0, dp.tensor([t] * 8), dp.randn_like(x0)) for t in ts], 1)
        save_image(noisy.reshape(-1, 1, 28, 28).clamp(-1, 1) * 0.5 + 0.5, os.path.join(out, "noising.png"), nrow=10)
    if verbose:
        print({k: v for k, v in result.items() if k not in ("samples", "model")})
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--T", type=int, default=500)
    p.add_argument("--schedule", choices=["linear", "cosine"], default="linear")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--train-size", type=int, default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default="runs/ddpm")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.steps, a.T, a.schedule, a.width, a.batch_size, a.lr, a.train_size, root=a.data_root, out=a.out,
         seed=a.seed)
