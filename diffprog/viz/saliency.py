"""Which input pixels matter for a prediction: gradient saliency maps and Grad-CAM."""

from ..autograd.grad_mode import enable_grad
from ..creation import arange
from .. import autograd
from ..nn import functional as F
from .features import _layer, _figure, _np, _unit

__all__ = ["saliency", "grad_cam", "plot_heatmap"]

def _score(out, target):
    """Sum over the batch of each sample's target logit (one int, or one per sample)."""
    return out[arange(out.shape[0]), target].sum()

def saliency(model, x, target):
    """|d logit[target] / d x|, max over channels (Simonyan et al. 2013): shape (N, H, W)
    for x of shape (N, C, H, W)."""
    x = x.detach().requires_grad_(True)
    with enable_grad():
        (g,) = autograd.grad(_score(model(x), target), x)
    return g.abs().amax(dim=1)

def grad_cam(model, layer, x, target):
    """Grad-CAM (Selvaraju et al. 2017) of submodule `layer` (module or name): channel weights
    are the spatial means of d score / d activation; the map is the ReLU of the weighted sum of
    the activation's channels, upsampled bilinearly to x's size and scaled to [0, 1] per
    sample.  Returns shape (N, H, W)."""
    layer, got = _layer(model, layer), []
    handle = layer.register_forward_hook(lambda m, args, out: got.append(out))
    try:
        with enable_grad():
            out = model(x)
            if not got:
                raise RuntimeError(f"grad_cam: {type(layer).__name__} was not called by the model's forward")
            act = got[0]
            (g,) = autograd.grad(_score(out, target), act)
    finally:
        handle.remove()
    act = act.detach()
    weights = g.mean(dim=(2, 3), keepdim=True)
    cam = (weights * act).sum(dim=1, keepdim=True).relu()
    cam = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    lo = cam.amin(dim=(1, 2), keepdim=True)
    span = cam.amax(dim=(1, 2), keepdim=True) - lo
    return (cam - lo) / span.clamp(min=1e-12)

def plot_heatmap(img, heat, path, alpha=0.5, cmap="jet"):
    """Save `img` ((C, H, W) with C in {1, 3}, or (H, W)) with `heat` (H, W) laid over it."""
    im, h = _np(img), _np(heat)
    if im.ndim == 3:
        im = im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0)
    if im.shape[:2] != h.shape:
        raise ValueError(f"plot_heatmap: image shape {im.shape} and heatmap shape {h.shape} differ")
    fig = _figure(figsize=(3, 3))
    ax = fig.subplots()
    ax.axis("off")
    ax.imshow(_unit(im), cmap="gray" if im.ndim == 2 else None)
    ax.imshow(h, cmap=cmap, alpha=alpha)
    fig.savefig(path, bbox_inches="tight")
    return path
