"""Sampling an image at arbitrary points: `grid_sample` and the grids of `affine_grid`
(spatial transformer networks).

`GridSample` reads input (N, C, H, W) at the points of grid (N, Ho, Wo, 2), whose last dim
holds (x, y) in [-1, 1] (x along W, y along H).  Each point becomes a source position per
dim (`_source`: unnormalize, then clip or reflect per padding_mode), which is piecewise
linear in the grid coordinate: value and slope are kept.  The point then reads K corners
(bilinear: the 4 neighbours, nearest: the rounded position) with weights; out-of-range
corners get weight 0 (zeros padding).  So, with U_k the corner values,

    out = sum_k U_k * wy_k * wx_k,   wx_k = fx or 1 - fx (fx: fractional part of x),

and d out / d grid_x = slope_x * sum_k U_k * wy_k * (+-1): the VJP and JVP are a gather
(`GatherPoints`) and a scatter-add (`ScatterPoints`, its adjoint) of the input with weights
built from the grid as tensors, differentiable again.
"""
from .._array import xp
from ..tensor import Tensor
from .batching import array_of, folding
from .op import Op
from .shape import stack


def _source(coord, size, padding_mode, align_corners):
    """Source positions along a dim of `size` for normalized coordinates, and their slope
    d position / d coordinate (PyTorch's grid_sampler_compute_source_index)."""
    scale = (size - 1) / 2 if align_corners else size / 2
    pos = (coord + 1) * scale - (0 if align_corners else 0.5)
    slope = xp.full_like(coord, scale)
    if padding_mode == "reflection":
        lo2, hi2 = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        if lo2 == hi2:
            return xp.zeros_like(pos), xp.zeros_like(pos)
        low, span = lo2 / 2, (hi2 - lo2) / 2
        d = pos - low
        slope[d < 0] *= -1
        d = xp.abs(d)
        extra = xp.fmod(d, span)
        odd = xp.floor(d / span) % 2 == 1
        pos = xp.where(odd, span - extra + low, extra + low)
        slope[odd] *= -1
    if padding_mode != "zeros":               # border, and reflection's final clip
        slope[~((pos > 0) & (pos < size - 1))] = 0
        pos = xp.clip(pos, 0, size - 1)
    return pos, slope


def _gather(x, pos, k):
    """x (N, C, L) read at flat positions pos (n * L + l, N * K * P of them): (N, C, K, P)."""
    n, c, _ = x.shape
    return x.transpose(1, 0, 2).reshape(c, -1).take(pos, axis=1).reshape(c, n, k, -1).transpose(1, 0, 2, 3)


@classmethod
def _channels(cls, n, args, batched, kwargs):
    """The batching rule of the gather and the scatter, whose positions are fixed arrays and
    whose channels (dim 1) are independent: the vmap batch joins the channels."""
    (x,) = args
    x = x.movedim(0, 1)
    out = cls.apply(x.reshape((x.shape[0], n * x.shape[2]) + tuple(x.shape[3:])), **kwargs)
    return out.reshape((out.shape[0], n, -1) + tuple(out.shape[2:])).movedim(1, 0)


class GatherPoints(Op):
    """`_gather` as an op; the adjoint of `ScatterPoints`."""

    batch = _channels

    def forward(ctx, x, *, pos, k):
        ctx.pos, ctx.k, ctx.size = pos, k, x.shape[2]
        return _gather(x, pos, k)

    def vjp(ctx, g):
        return ScatterPoints.apply(g, pos=ctx.pos, size=ctx.size)

    def jvp(ctx, dx):
        return GatherPoints.apply(dx, pos=ctx.pos, k=ctx.k)


class ScatterPoints(Op):
    """v (N, C, K, P) added into zeros (N, C, size) at the flat positions pos: one bincount
    per channel (much faster than a scatter of all N * C * K * P values at once)."""

    batch = _channels

    def forward(ctx, v, *, pos, size):
        n, c, k, _ = v.shape
        ctx.pos, ctx.k, ctx.size = pos, k, size
        vt = v.transpose(1, 0, 2, 3).reshape(c, -1)
        out = xp.empty((c, n * size), dtype=v.dtype, like=v)
        for i in range(c):
            out[i] = xp.bincount(pos, weights=vt[i], minlength=n * size)
        return out.reshape(c, n, size).transpose(1, 0, 2)

    def vjp(ctx, g):
        return GatherPoints.apply(g, pos=ctx.pos, k=ctx.k)

    def jvp(ctx, dv):
        return ScatterPoints.apply(dv, pos=ctx.pos, size=ctx.size)


class GridSample(Op):
    """input sampled at grid's points (bilinear or nearest), see the module doc."""

    op_name = "grid_sample"

    batch = folding(first=2)

    def forward(ctx, x, grid, *, mode, padding_mode, align_corners):
        n, c, h, w = x.shape
        p = grid.shape[1] * grid.shape[2]
        g2 = grid.reshape(n, p, 2)
        ix, ax = _source(g2[..., 0], w, padding_mode, align_corners)
        iy, ay = _source(g2[..., 1], h, padding_mode, align_corners)
        if mode == "bilinear":
            x0, y0 = xp.floor(ix), xp.floor(iy)
            ctx.frac = (ix - x0, iy - y0)                          # (N, P) each
            cx = xp.stack((x0, x0 + 1, x0, x0 + 1), 1)             # the 4 corners: (N, 4, P)
            cy = xp.stack((y0, y0, y0 + 1, y0 + 1), 1)
        else:                                    # nearest: round half to even, as PyTorch
            cx, cy = xp.rint(ix)[:, None], xp.rint(iy)[:, None]
        k = cx.shape[1]
        valid = (cx >= 0) & (cx <= w - 1) & (cy >= 0) & (cy <= h - 1)
        lin = xp.where(valid, cy * w + cx, 0).astype(xp.intp)
        ctx.pos = (lin + (xp.arange(n, like=lin) * (h * w))[:, None, None]).reshape(-1)   # flat (n, y, x)
        ctx.mask, ctx.slope, ctx.coords = valid.astype(x.dtype), (ax, ay), g2
        ctx.shape, ctx.mode = (n, c, k, p), mode
        ctx.padding_mode, ctx.align_corners = padding_mode, align_corners
        vals = _gather(x.reshape(n, c, h * w), ctx.pos, k)
        wts = ctx.mask if mode == "nearest" else ctx.mask * ctx._weights_array()
        return xp.einsum("nckp,nkp->ncp", vals, wts).reshape(n, c, *grid.shape[1:3])

    def _weights_array(ctx):
        fx, fy = ctx.frac
        wx = xp.stack((1 - fx, fx, 1 - fx, fx), 1)
        wy = xp.stack((1 - fy, 1 - fy, fy, fy), 1)
        return wx * wy

    def _corner_weights(ctx, grid):
        """(wx, wy), the bilinear weights (N, 4, P) as tensors of grid: the fractional
        parts, whose slope w.r.t. the grid coordinates is that of the source positions."""
        n, _, _, p = ctx.shape
        g2 = grid.reshape(n, p, 2)
        out = []
        for i, (f, a) in enumerate(zip(ctx.frac, ctx.slope)):
            f = Tensor._make(f) + (g2[..., i] - Tensor._make(ctx.coords[..., i])) * Tensor._make(a)
            out.append(stack((1 - f, f, 1 - f, f), 1) if i == 0 else stack((1 - f, 1 - f, f, f), 1))
        return out

    def _corners(ctx, x):
        """The corner values of x, (N, C, K, P) (out-of-range ones still to be masked)."""
        n, c, k, p = ctx.shape
        return GatherPoints.apply(x.reshape(n, c, -1), pos=ctx.pos, k=k)

    def _slope_terms(ctx, wx, wy):
        """d(sum_k U_k wy_k wx_k) / d(grid x, grid y) per corner: the +-1 of each corner's
        weight times the other dim's weight and the slope, masked.  (N, 4, P) each."""
        sx = xp.array([-1.0, 1.0, -1.0, 1.0], dtype=ctx.mask.dtype, like=ctx.mask)[:, None]
        sy = xp.array([-1.0, -1.0, 1.0, 1.0], dtype=ctx.mask.dtype, like=ctx.mask)[:, None]
        ax, ay = (Tensor._make(ctx.mask * s * a[:, None]) for s, a in zip((sx, sy), ctx.slope))
        return wy * ax, wx * ay

    def vjp(ctx, g):
        need_x, need_grid = ctx.needs_input_grad
        n, c, k, p = ctx.shape
        x, grid = ctx.args
        g3 = g.reshape(n, c, 1, p)
        mask = Tensor._make(ctx.mask)
        if ctx.mode == "nearest":                # piecewise constant in grid: zero, as PyTorch
            wts, ggrid = mask, Tensor._make(xp.zeros(grid.shape, dtype=ctx.mask.dtype, like=ctx.mask))
        else:
            wx, wy = ctx._corner_weights(ctx.input(1))
            wts, ggrid = wx * wy * mask, None
            if need_grid:
                s = (g3 * ctx._corners(ctx.input(0))).sum(1)             # (N, 4, P)
                tx, ty = ctx._slope_terms(wx, wy)
                ggrid = stack(((s * tx).sum(1), (s * ty).sum(1)), -1).reshape(grid.shape)
        gx = None
        if need_x:                               # scatter-add of the weighted gradient
            gx = ScatterPoints.apply(g3 * wts.unsqueeze(1), pos=ctx.pos,
                               size=x.shape[2] * x.shape[3]).reshape(x.shape)
        return gx, ggrid

    def jvp(ctx, dx, dgrid):
        x, grid = ctx.args
        n, c, k, p = ctx.shape
        out = GridSample.apply(dx, grid, mode=ctx.mode, padding_mode=ctx.padding_mode,
                               align_corners=ctx.align_corners)
        if ctx.mode == "nearest" or not isinstance(dgrid, Tensor):
            return out
        tx, ty = ctx._slope_terms(*ctx._corner_weights(grid))
        d2 = dgrid.reshape(n, 1, p, 2)
        coeff = tx * d2[..., 0] + ty * d2[..., 1]                   # (N, 4, P)
        return out + (ctx._corners(x) * coeff.unsqueeze(1)).sum(2).reshape(out.shape)


_MODES, _PADDINGS = ("bilinear", "nearest"), ("zeros", "border", "reflection")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) at the normalized (x, y) points of grid (N, Ho, Wo, 2)."""
    if mode not in _MODES:
        raise NotImplementedError(f"grid_sample: mode {mode!r} is not supported (expected one of "
                                  f"{', '.join(_MODES)})")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"grid_sample: padding_mode must be one of {', '.join(_PADDINGS)}, got "
                         f"{padding_mode!r}")
    if input.ndim == 5:
        raise NotImplementedError(f"grid_sample: 5-D (volumetric) input {tuple(input.shape)} is not "
                                  f"supported, only 4-D (N, C, H, W)")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sample: expected input (N, C, H, W) and grid (N, H_out, W_out, 2), "
                           f"got input {tuple(input.shape)} and grid {tuple(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sample: expected grid and input to have the same batch size, got "
                           f"input {tuple(input.shape)} and grid {tuple(grid.shape)}")
    if input.dtype != grid.dtype or not input.is_floating_point():
        raise RuntimeError(f"grid_sample: expected floating point input and grid of the same dtype, "
                           f"got {input.dtype.name} and {grid.dtype.name}")
    if 0 in input.shape[2:]:
        raise RuntimeError(f"grid_sample: expected input with non-empty spatial dims, got "
                           f"{tuple(input.shape)}")
    return GridSample.apply(input, grid, mode=mode, padding_mode=padding_mode,
                            align_corners=bool(align_corners))


def _base_coords(size, align_corners):
    """size points spread over [-1, 1]: the centers of size pixels (or their corners)."""
    if size <= 1:
        return xp.zeros(size)
    pts = xp.linspace(-1.0, 1.0, size)
    return pts if align_corners else pts * ((size - 1) / size)


def affine_grid(theta, size, align_corners=None):
    """The grid (N, H, W, 2) (or (N, D, H, W, 3)) of `grid_sample` that applies the affine
    maps theta (N, 2, 3) (or (N, 3, 4)) to the output pixels' normalized coordinates."""
    size = tuple(size)
    d = len(size) - 2
    if d not in (2, 3) or theta.ndim != 3 or tuple(theta.shape[1:]) != (d, d + 1) or \
            theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid: expected theta of shape (N, 2, 3) for a size (N, C, H, W) "
                         f"or (N, 3, 4) for (N, C, D, H, W), got theta {tuple(theta.shape)} and "
                         f"size {list(size)}")
    if not theta.is_floating_point():
        raise ValueError(f"affine_grid: expected a floating point theta, got {theta.dtype.name}")
    spatial = size[2:]
    axes = [_base_coords(s, bool(align_corners)) for s in reversed(spatial)]    # x, y(, z)
    mesh = xp.meshgrid(*axes[::-1], indexing="ij")[::-1]           # each of shape `spatial`
    base = xp.stack([*mesh, xp.ones(spatial)], -1).reshape(1, -1, d + 1).astype(theta.dtype.np)
    return (Tensor._make(xp.asarray(base, like=array_of(theta))) @ theta.mT).reshape(size[0], *spatial, d)


METHODS = {}

__all__ = []        # not top-level functions in PyTorch: `diffprog.nn.functional` imports them
