"""Feature visualisation by activation maximisation: gradient ascent on an input image to make
one unit (a class logit, a channel of a convolution) as active as possible (Erhan et al. 2009;
Simonyan et al. 2013), with the regularisers that turn adversarial-looking noise into
recognisable patterns (Yosinski et al. 2015; Mordvintsev et al. 2015; Olah et al. 2017):

  jitter        shift the image by a random offset of up to `jitter` pixels before each
                step, so no single-pixel pattern can be exploited;
  blur          every `blur_every` steps, blur the image with a Gaussian of `blur_sigma`;
  total variation (`tv_weight`), a frequency penalty: the mean absolute difference between
                neighbouring pixels, which high-frequency patterns pay for;
  L2 decay      (`l2_weight`): keeps the image's energy, hence its contrast, bounded.
"""
import math

from ..autograd.grad_mode import enable_grad, no_grad
from ..creation import arange, tensor
from ..random import randint, randn
from .. import optim
from ..vision.transforms.functional import gaussian_blur
from .features import _layer

__all__ = ["activation_maximization", "total_variation", "high_frequency_energy"]


def total_variation(x):
    """Anisotropic total variation of images (N, C, H, W): mean |x[i+1, j] - x[i, j]| plus mean
    |x[i, j+1] - x[i, j]|."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def high_frequency_energy(x):
    """The fraction of an image's energy (after removing its mean) that a Gaussian blur of
    sigma 1 removes: about 0 for smooth images, near 1 for pixel noise.  One number per image."""
    x = x.detach()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    smooth = gaussian_blur(x, 7, 1.0)
    total = (x ** 2).sum(dim=(-3, -2, -1))
    return ((x - smooth) ** 2).sum(dim=(-3, -2, -1)) / total.clamp(min=1e-12)


def _unit_activation(out, unit):
    """The mean activation of `unit` (an int, or one per sample) per sample: out[:, unit],
    averaged over spatial dims."""
    a = out[:, unit] if isinstance(unit, int) else out[arange(out.shape[0]), tensor(unit)]
    return a.flatten(1).mean(1) if a.ndim > 1 else a


def activation_maximization(model, layer, unit, shape, steps=200, lr=0.05, jitter=0, blur_every=0,
                            blur_sigma=0.5, tv_weight=0.0, l2_weight=0.0, init_std=0.01, clamp=None,
                            generator=None):
    """Images that maximise the mean activation of channel `unit` (an int, or one per image)
    of submodule `layer` (a module or dotted name; None for the model's output, e.g. a class
    logit).

    Args:
        shape: (N, C, H, W) of the images optimised (N independent restarts).
        steps, lr: Adam steps on the images, and their learning rate.
        jitter, blur_every, blur_sigma, tv_weight, l2_weight: the regularisers (see above;
            0 turns one off).
        init_std: the images start as Gaussian noise of this scale.
        clamp: (low, high) bounds the pixels are kept in after each step, or None.

    Returns (images (N, C, H, W), the activations (N,) of the final images, unjittered).
    """
    was_training = model.training
    model.eval()
    target = None if layer is None else _layer(model, layer)
    got = []
    handle = target.register_forward_hook(lambda m, a, out: got.append(out)) if target is not None else None
    x = (randn(*shape, generator=generator) * init_std).requires_grad_()
    opt = optim.Adam([x], lr=lr)
    blur_size = 2 * math.ceil(3 * blur_sigma) + 1

    def activation(images):
        got.clear()
        out = model(images)
        return _unit_activation(got[-1] if target is not None else out, unit)
    try:
        for step in range(1, steps + 1):
            shifted = x
            if jitter:
                dy, dx = (int(v) for v in randint(-jitter, jitter + 1, (2,), generator=generator))
                shifted = x.roll((dy, dx), dims=(-2, -1))
            with enable_grad():
                loss = -activation(shifted).mean()
                if tv_weight:
                    loss = loss + tv_weight * total_variation(x)
                if l2_weight:
                    loss = loss + l2_weight * (x ** 2).mean()
                opt.zero_grad()
                loss.backward()
            opt.step()
            with no_grad():
                if blur_every and step % blur_every == 0:
                    x.copy_(gaussian_blur(x.detach(), blur_size, blur_sigma))
                if clamp is not None:
                    x.clamp_(*clamp)
        with no_grad():
            final = activation(x)
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)
    return x.detach(), final.detach()
