"""Look at what a network computes: activations of a chosen layer (via a forward hook) and
first-layer filters, drawn as image grids with matplotlib (an optional dependency)."""
import numpy as np

from ..autograd.grad_mode import no_grad

__all__ = ["feature_maps", "plot_feature_maps", "plot_filters"]


def _figure(**kwargs):
    """A standalone matplotlib Figure (saved with Agg; leaves pyplot's backend alone), or a
    clear error when matplotlib is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("diffprog.viz plotting needs matplotlib: pip install matplotlib "
                          "(or pip install 'diffprog[demo]')") from None
    return Figure(**kwargs)


def _np(a):
    """A NumPy copy of a tensor or array-like (detached, float)."""
    if hasattr(a, "detach"):
        a = a.detach().numpy()
    return np.asarray(a, dtype=np.float64)


def _layer(model, layer):
    return model.get_submodule(layer) if isinstance(layer, str) else layer


def feature_maps(model, layer, x):
    """The output of submodule `layer` (a module or a dotted name such as "features.0")
    when `model` runs on `x`, captured with a forward hook and detached."""
    layer, got = _layer(model, layer), []
    handle = layer.register_forward_hook(lambda m, args, out: got.append(out))
    try:
        with no_grad():
            model(x)
    finally:
        handle.remove()
    if not got:
        raise RuntimeError(f"feature_maps: {type(layer).__name__} was not called by the model's forward")
    return got[0].detach()


def _grid(images, path, ncols, cmap, title=None):
    """Save `images` (a list of HxW or HxWx3 arrays in [0, 1]) as a grid without axes."""
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = _figure(figsize=(1.5 * ncols, 1.5 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img in zip(axes.flat, images):
        ax.imshow(img, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    if title:
        fig.suptitle(title)
    fig.savefig(path, bbox_inches="tight")
    return path


def _unit(a):
    """Rescale to [0, 1] (a constant array becomes zeros)."""
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def plot_feature_maps(act, path, ncols=8, max_maps=64, cmap="viridis"):
    """Save the channels of one activation, shape (C, H, W) or (1, C, H, W), as a PNG grid,
    each map normalised on its own."""
    a = _np(act)
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(f"plot_feature_maps: expected one sample, got shape {a.shape}")
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"plot_feature_maps: expected shape (C, H, W), got {a.shape}")
    return _grid([_unit(m) for m in a[:max_maps]], path, ncols, cmap)


def plot_filters(weight, path, ncols=8):
    """Save conv filters, shape (out, in, kH, kW), as a PNG grid, each normalised to [0, 1]:
    colour when in == 3, otherwise the mean over input channels in grey."""
    w = _np(weight)
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a conv weight (out, in, kH, kW), got shape {w.shape}")
    imgs = [_unit(f.transpose(1, 2, 0)) if w.shape[1] == 3 else _unit(f.mean(0)) for f in w]
    return _grid(imgs, path, ncols, "gray")
