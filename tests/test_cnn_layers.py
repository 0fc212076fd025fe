"""The missing pieces of convolutional networks, against torch: grid_sample / affine_grid
(a spatial transformer learns a warp), instance norm, the norm layers' training/eval
semantics step by step (running statistics, momentum=None, track_running_stats=False),
channel dropout, and errors of bad inputs that name the layer and the shapes."""
import itertools
import warnings

import numpy as np
import pytest

from oracle import check, const, rand, torch

import diffprog as dp
import diffprog.nn.functional as F
from diffprog import nn
from diffprog.autograd import forward_ad as fwAD

TF = torch.nn.functional


# --- grid_sample / affine_grid ------------------------------------------------------------

def _jvp_against_torch_jacobian(dp_fn, torch_fn, args, seed=0):
    """PyTorch has no forward AD for grid_sampler_2d: our JVP must equal torch's full
    Jacobian applied to the tangents."""
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(a.shape) for a in args]
    with fwAD.dual_level():
        duals = [fwAD.make_dual(dp.tensor(a), dp.tensor(t)) for a, t in zip(args, tangents)]
        got = fwAD.unpack_dual(dp_fn(*duals)).tangent.numpy()
    jac = torch.autograd.functional.jacobian(torch_fn, tuple(torch.tensor(a) for a in args))
    want = sum(np.tensordot(j.numpy(), t, axes=t.ndim) for j, t in zip(jac, tangents))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


GRID_CASES = list(itertools.product(["bilinear", "nearest"], ["zeros", "border", "reflection"], [False, True]))


@pytest.mark.parametrize("mode,padding_mode,align_corners", GRID_CASES)
def test_grid_sample(mode, padding_mode, align_corners):
    """Forward, VJP w.r.t. input and grid, double VJP (torch supports it), finite
    differences; grid points reach outside [-1, 1] so every padding rule matters."""
    fn = lambda lib: lambda x, g: lib.grid_sample(x, g, mode, padding_mode, align_corners)
    x, grid = rand(2, 3, 4, 5), rand(2, 3, 4, 2, low=-1.4, high=1.4, seed=1)
    check(fn(F), fn(TF), x, grid, jvp=False)
    _jvp_against_torch_jacobian(fn(F), fn(TF), [x, grid])
    # more channels than 1, a wide grid far outside, float32
    check(fn(F), fn(TF), rand(1, 1, 3, 3), rand(1, 2, 7, 2, low=-3, high=3, seed=2), jvp=False)
    check(fn(F), fn(TF), rand(2, 2, 5, 4, dtype=np.float32), rand(2, 3, 3, 2, dtype=np.float32, seed=3),
          jvp=False)


def test_grid_sample_identity_grid_reproduces_input():
    x = dp.tensor(rand(2, 3, 5, 6))
    theta = dp.tensor(np.tile(np.eye(2, 3), (2, 1, 1)))
    for ac in (False, True):
        y = F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=ac), align_corners=ac)
        np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-12)


def test_grid_sample_errors():
    x = dp.zeros(2, 3, 4, 4)
    with pytest.raises(RuntimeError, match=r"grid_sample: expected grid and input to have the same batch "
                                           r"size, got input \(2, 3, 4, 4\) and grid \(1, 2, 2, 2\)"):
        F.grid_sample(x, dp.zeros(1, 2, 2, 2))
    with pytest.raises(RuntimeError, match=r"grid \(2, 2, 2, 3\)"):
        F.grid_sample(x, dp.zeros(2, 2, 2, 3))
    with pytest.raises(RuntimeError, match="float32 and float64"):
        F.grid_sample(x, dp.zeros(2, 2, 2, 2, dtype=dp.float64))
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(x, dp.zeros(2, 2, 2, 2), mode="bicubic")
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, dp.zeros(2, 2, 2, 2), padding_mode="wrap")
    with pytest.raises(ValueError, match=r"affine_grid: .* got theta \(2, 2, 3\) and size \[2, 3, 4\]"):
        F.affine_grid(dp.zeros(2, 2, 3), (2, 3, 4))


@pytest.mark.parametrize("size,align_corners", [((2, 3, 4, 5), False), ((2, 3, 4, 5), True),
                                                ((2, 1, 1, 3), False), ((2, 3, 2, 4, 3), False),
                                                ((2, 3, 2, 4, 3), True)])
def test_affine_grid(size, align_corners):
    d = len(size) - 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # torch's note on unit-size grids
        check(lambda t: F.affine_grid(t, size, align_corners), lambda t: TF.affine_grid(t, size, align_corners),
              rand(2, d, d + 1))
        check(lambda t: F.affine_grid(t, size, align_corners), lambda t: TF.affine_grid(t, size, align_corners),
              rand(2, d, d + 1, dtype=np.float32))


def test_affine_grid_then_grid_sample_second_order():
    """theta -> grid -> sample, differentiated twice through both ops, as torch."""
    fn = lambda lib: lambda x, t: lib.grid_sample(x, lib.affine_grid(t, (2, 2, 3, 4), align_corners=False),
                                                  align_corners=False, padding_mode="border")
    check(fn(F), fn(TF), rand(2, 2, 5, 5), rand(2, 2, 3, seed=4) * 0.5 + np.eye(2, 3), jvp=False)


class STN(nn.Module):
    """A spatial transformer: a localisation layer predicts theta, starting at the identity."""

    def __init__(self, pixels):
        super().__init__()
        self.loc = nn.Linear(pixels, 6)
        with dp.no_grad():
            self.loc.weight.zero_()
            self.loc.bias.copy_(dp.tensor([1.0, 0, 0, 0, 1, 0]))

    def forward(self, x):
        theta = self.loc(x.flatten(1)).view(-1, 2, 3)
        return F.grid_sample(x, F.affine_grid(theta, x.shape, align_corners=False), align_corners=False)


def test_spatial_transformer_learns_an_affine_warp():
    dp.manual_seed(0)
    yy, xx = np.mgrid[0:12, 0:12]
    imgs = np.stack([np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 6.0) for cx, cy in
                     [(4, 5), (6, 7), (5, 4), (7, 6)]])[:, None].astype(np.float32)
    x = dp.tensor(imgs)
    true = dp.tensor(np.array([[0.9, -0.2, 0.15], [0.2, 0.9, -0.1]], np.float32)).expand(4, 2, 3)
    target = F.grid_sample(x, F.affine_grid(true, x.shape, align_corners=False), align_corners=False)
    stn = STN(144)
    opt = dp.optim.Adam(stn.parameters(), lr=0.01)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = ((stn(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0], (losses[0], losses[-1])


# --- instance norm -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 3), (1, 2, 2, 2, 3)])
def test_instance_norm_functional(shape):
    c = shape[1]
    check(lambda x, w, b: F.instance_norm(x, weight=w, bias=b, eps=1e-3),
          lambda x, w, b: TF.instance_norm(x, weight=w, bias=b, eps=1e-3),
          rand(*shape), rand(c, seed=1) + 1, rand(c, seed=2))
    check(lambda x: F.instance_norm(x), lambda x: TF.instance_norm(x), rand(*shape, dtype=np.float32))


def test_instance_norm_running_stats_and_eval_functional():
    x, rm, rv = rand(3, 2, 4, 5), rand(2, seed=1), rand(2, seed=2) + 2
    d_rm, d_rv, t_rm, t_rv = dp.tensor(rm), dp.tensor(rv), torch.tensor(rm), torch.tensor(rv)
    y = F.instance_norm(dp.tensor(x), d_rm, d_rv, momentum=0.3)
    z = TF.instance_norm(torch.tensor(x), t_rm, t_rv, momentum=0.3)
    np.testing.assert_allclose(y.numpy(), z.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d_rm.numpy(), t_rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(d_rv.numpy(), t_rv.numpy(), rtol=1e-12)
    check(lambda x, m, v, w: F.instance_norm(x, m, v, w, use_input_stats=False),
          lambda x, m, v, w: TF.instance_norm(x, m, v, w, use_input_stats=False),
          x, const(rm), const(rv), rand(2, seed=3))


def test_instance_norm_errors():
    with pytest.raises(ValueError, match=r"more than 1 spatial element when training, got input size \[2, 3, 1\]"):
        F.instance_norm(dp.zeros(2, 3, 1))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3.*expected 3D \(unbatched\) or 4D input, got shape"):
        nn.InstanceNorm2d(3)(dp.zeros(2, 3, 4, 4, 4))
    with pytest.raises(ValueError, match=r"^InstanceNorm2d\(3\): expected input with 3 channels, got \(2, 4, 5, 5\)$"):
        nn.InstanceNorm2d(3, affine=True)(dp.zeros(2, 4, 5, 5))
    with pytest.warns(UserWarning, match=r"InstanceNorm1d\(3\): expected input with 3 channels"):
        nn.InstanceNorm1d(3)(dp.randn(2, 4, 5))          # as torch: only a warning without affine


def test_instance_norm_module_defaults_repr_state():
    t, d = torch.nn.InstanceNorm2d(4), nn.InstanceNorm2d(4)
    assert repr(d) == repr(t)
    assert list(d.state_dict()) == list(t.state_dict()) == []
    t, d = torch.nn.InstanceNorm1d(4, affine=True, track_running_stats=True), \
        nn.InstanceNorm1d(4, affine=True, track_running_stats=True)
    assert repr(d) == repr(t) and list(d.state_dict()) == list(t.state_dict())


# --- norm layers, step by step against torch --------------------------------------------------

def _pair(name, *args, **kwargs):
    """torch's and our layer with the same random parameters (and buffers)."""
    t = getattr(torch.nn, name)(*args, **kwargs).double()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for p in t.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5)
    d = getattr(nn, name)(*args, **kwargs).to(dp.float64)
    d.load_state_dict({k: dp.tensor(v.numpy()) for k, v in t.state_dict().items()})
    return t, d


def _steps(t, d, shape, steps=3, train=True):
    """Several forward/backward steps: outputs, input and parameter gradients, buffers."""
    t.train(train), d.train(train)
    for step in range(steps):
        x = rand(*shape, seed=10 + step) * (step + 1) + step
        cot = np.random.default_rng(step).standard_normal(shape)
        tx, dx = torch.tensor(x, requires_grad=True), dp.tensor(x, requires_grad=True)
        ty, dy = t(tx), d(dx)
        np.testing.assert_allclose(dy.detach().numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=f"step {step} output")
        (ty * torch.tensor(cot)).sum().backward()
        (dy * dp.tensor(cot)).sum().backward()
        np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
        for (name, tp), (_, dpar) in zip(t.named_parameters(), d.named_parameters()):
            np.testing.assert_allclose(dpar.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-10,
                                       err_msg=f"step {step} grad {name}")
        tb, db = dict(t.named_buffers()), dict(d.named_buffers())
        assert tb.keys() == db.keys()
        for name in tb:
            np.testing.assert_allclose(db[name].numpy(), tb[name].numpy(), rtol=1e-12,
                                       err_msg=f"step {step} buffer {name}")


NORM_LAYERS = [
    ("BatchNorm2d", (3,), {}, (4, 3, 3, 2)),
    ("BatchNorm2d", (3,), dict(momentum=None), (4, 3, 3, 2)),
    ("BatchNorm2d", (3,), dict(track_running_stats=False), (4, 3, 3, 2)),
    ("BatchNorm2d", (3,), dict(affine=False, momentum=0.5), (2, 3, 2, 2)),
    ("BatchNorm3d", (2,), {}, (2, 2, 2, 3, 2)),
    ("BatchNorm3d", (2,), dict(momentum=None), (2, 2, 2, 3, 2)),
    ("GroupNorm", (2, 4), {}, (3, 4, 3, 2)),
    ("GroupNorm", (1, 3), dict(affine=False), (2, 3, 5)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    ("InstanceNorm1d", (3,), dict(affine=True, track_running_stats=True), (2, 3, 5)),
    ("InstanceNorm1d", (3,), dict(affine=True, track_running_stats=True), (3, 5)),      # unbatched
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True, momentum=None), (2, 3, 4, 3)),
    ("InstanceNorm2d", (3,), dict(affine=True), (2, 3, 4, 3)),
    ("InstanceNorm2d", (3,), dict(track_running_stats=True, momentum=0.4), (3, 4, 3)),   # unbatched
    ("InstanceNorm3d", (2,), dict(affine=True, track_running_stats=True), (2, 2, 2, 3, 2)),
    ("LocalResponseNorm", (3,), dict(alpha=0.5, beta=0.75, k=1.5), (2, 5, 3, 2)),
    ("LocalResponseNorm", (2,), dict(alpha=0.3), (2, 4, 5)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", NORM_LAYERS)
def test_norm_layer_train_then_eval(name, args, kwargs, shape):
    t, d = _pair(name, *args, **kwargs)
    _steps(t, d, shape, steps=3, train=True)
    _steps(t, d, shape, steps=2, train=False)       # evaluation: the running statistics, no updates


def test_batch_norm_double_backward_and_jvp():
    for shape in [(4, 3, 3, 2), (2, 2, 2, 3, 2)]:
        c = shape[1]
        check(lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
              lambda x, w, b: TF.batch_norm(x, None, None, w, b, True),
              rand(*shape), rand(c, seed=1) + 1, rand(c, seed=2))
        rm, rv = rand(c, seed=3), rand(c, seed=4) + 2
        check(lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, False),
              lambda x, m, v, w, b: TF.batch_norm(x, m, v, w, b, False),
              rand(*shape), const(rm), const(rv), rand(c, seed=1) + 1, rand(c, seed=2))


@pytest.mark.parametrize("shape,groups", [((3, 4, 3, 2), 2), ((2, 6, 5), 3), ((2, 4, 2, 2, 2), 4)])
def test_group_norm_double_backward_and_jvp(shape, groups):
    c = shape[1]
    check(lambda x, w, b: F.group_norm(x, groups, w, b), lambda x, w, b: TF.group_norm(x, groups, w, b),
          rand(*shape), rand(c, seed=1) + 1, rand(c, seed=2))


@pytest.mark.parametrize("shape,size", [((2, 5, 3, 2), 3), ((2, 4, 5), 2), ((1, 3, 2, 2, 2), 4)])
def test_local_response_norm(shape, size):
    check(lambda x: F.local_response_norm(x, size, 0.5, 0.75, 1.5),
          lambda x: TF.local_response_norm(x, size, 0.5, 0.75, 1.5), rand(*shape))


def test_norm_layers_wrong_channels_name_the_layer():
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(16.*expected input with 16 channels .*got shape "
                                           r"\(8, 3, 28, 28\)"):
        nn.BatchNorm2d(16)(dp.zeros(8, 3, 28, 28))
    with pytest.raises(RuntimeError, match=r"GroupNorm\(2, 4.*expected input with 4 channels .*\(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(dp.zeros(2, 6, 3))
    with pytest.raises(ValueError, match=r"BatchNorm3d\(2.*expected 5D input, got shape \(2, 2, 3, 3\)"):
        nn.BatchNorm3d(2)(dp.zeros(2, 2, 3, 3))


# --- channel dropout -----------------------------------------------------------------------

def test_dropout2d_zeroes_whole_channels_and_scales():
    dp.manual_seed(0)
    layer = nn.Dropout2d(0.25)
    x = dp.rand(40, 30, 3, 4, dtype=dp.float64) + 1
    y = layer(x).numpy()
    ratio = y / x.numpy()
    per_channel = ratio.reshape(40, 30, -1)
    assert np.allclose(per_channel, per_channel[..., :1])               # one draw per (sample, channel)
    assert set(np.round(np.unique(ratio), 12)) == {0.0, round(1 / 0.75, 12)}
    assert abs((per_channel[..., 0] == 0).mean() - 0.25) < 0.05
    layer.eval()
    assert layer(x) is x                                                # identity in evaluation
    g = dp.ones(2, 3, 4, 4, requires_grad=True)
    layer.train()
    out = layer(g)
    out.sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), out.detach().numpy())   # the same mask scales the gradient


def test_dropout2d_3d_input_is_channelwise_1d_as_torch():
    """torch reads a 3-D input to dropout2d as (N, C, L) (with a warning): one draw per
    (n, c) row, not per (C,) of an unbatched (C, H, W)."""
    dp.manual_seed(1)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        y = nn.Dropout2d(0.5)(dp.ones(50, 6, 8)).numpy()
    with pytest.warns(UserWarning):
        z = torch.nn.Dropout2d(0.5)(torch.ones(50, 6, 8)).numpy()
    for out in (y, z):
        assert np.all(out == out[..., :1])                     # constant along L
        rows = out[..., 0]
        assert 0.3 < (rows == 0).mean() < 0.7 and len(np.unique(rows, axis=0)) > 5   # draws per row


# --- bad input names the layer ------------------------------------------------------------

@pytest.mark.parametrize("layer,shape,exc,msg", [
    (lambda: nn.Conv2d(3, 16, 3), (8, 1, 28, 28), RuntimeError,
     r"^Conv2d\(3, 16\): expected input with 3 channels, got \(8, 1, 28, 28\)$"),
    (lambda: nn.Conv2d(3, 16, 3), (3, 28, 28, 2, 1), RuntimeError,
     r"^Conv2d\(3, 16\): expected 3D \(unbatched\) or 4D \(batched\) input, got \(3, 28, 28, 2, 1\)$"),
    (lambda: nn.Conv1d(2, 4, 3), (5, 7), RuntimeError, r"^Conv1d\(2, 4\): expected input with 2 channels, got \(5, 7\)$"),
    (lambda: nn.Conv2d(1, 4, 5), (2, 1, 4, 6), RuntimeError,
     r"^Conv2d\(1, 4\): kernel size \(5, 5\) is larger than the padded input size \(4, 6\), got \(2, 1, 4, 6\)$"),
    (lambda: nn.Conv2d(1, 4, 3, padding=1, dilation=3), (2, 1, 4, 6), RuntimeError,
     r"kernel size \(3, 3\) \(dilated \(7, 7\)\) is larger than the padded input size \(6, 8\)"),
    (lambda: nn.Conv3d(2, 2, 2), (1, 3, 2, 2, 2), RuntimeError, r"^Conv3d\(2, 2\): expected input with 2 channels"),
    (lambda: nn.ConvTranspose2d(3, 2, 2), (1, 2, 4, 4), RuntimeError,
     r"^ConvTranspose2d\(3, 2\): expected input with 3 channels, got \(1, 2, 4, 4\)$"),
    (lambda: nn.MaxPool2d(5), (1, 1, 4, 4), RuntimeError,
     r"^MaxPool2d\(kernel_size=5, .*\): kernel size \(5, 5\) is larger than the padded input size \(4, 4\), "
     r"got \(1, 1, 4, 4\)$"),
    (lambda: nn.MaxPool2d(2), (4, 4), RuntimeError, r"^MaxPool2d\(.*\): expected 3D \(unbatched\) or 4D"),
    (lambda: nn.MaxPool1d(4, padding=1, dilation=2), (1, 2, 3), RuntimeError, r"^MaxPool1d\(.*\): kernel size \(4,\)"),
    (lambda: nn.AvgPool2d(3, padding=1), (1, 1, 1, 0), RuntimeError, r"^AvgPool2d\(.*\): kernel size \(3, 3\) .* \(3, 2\)"),
    (lambda: nn.AvgPool1d(6), (2, 5), RuntimeError, r"^AvgPool1d\(.*\): kernel size \(6,\) .* \(5,\), got \(2, 5\)$"),
    (lambda: nn.LPPool2d(2, 3), (1, 2, 2, 5), RuntimeError, r"^LPPool2d\(.*\): kernel size \(3, 3\)"),
])
def test_bad_input_names_the_layer(layer, shape, exc, msg):
    with pytest.raises(exc, match=msg):
        layer()(dp.zeros(*shape))


def test_layers_still_accept_fitting_inputs():
    """The checks do not reject what torch accepts: padding='same', ceil_mode windows that
    start inside the input, unbatched inputs, reflect padding."""
    assert nn.Conv2d(1, 2, 3, padding="same")(dp.zeros(1, 1, 2, 2)).shape == (1, 2, 2, 2)
    assert nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")(dp.zeros(1, 2, 2)).shape == (2, 2, 2)
    assert nn.MaxPool2d(4, stride=4, ceil_mode=True)(dp.zeros(1, 1, 3, 3)).shape == \
        torch.nn.MaxPool2d(4, stride=4, ceil_mode=True)(torch.zeros(1, 1, 3, 3)).shape
    assert nn.MaxPool2d(3, padding=1)(dp.zeros(1, 1, 1)).shape == (1, 1, 1)
    assert nn.ConvTranspose2d(2, 3, 5)(dp.zeros(1, 2, 1, 1)).shape == (1, 3, 5, 5)


def test_undecodable_image_names_the_file(tmp_path):
    pytest.importorskip("PIL")
    from diffprog.vision.datasets import ImageFolder
    (tmp_path / "cat").mkdir()
    bad = tmp_path / "cat" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really an image")
    with pytest.raises(RuntimeError, match=r"cannot (decode|read) image file .*broken\.png"):
        ImageFolder(str(tmp_path))[0]


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_forward_over_reverse(mode):
    """The tangent of the gradient (forward mode through the VJP: the gather/scatter pair's
    JVPs) is torch's Hessian-vector product."""
    x, grid = rand(2, 2, 4, 3), rand(2, 3, 2, 2, low=-1.2, high=1.2, seed=5)
    rng = np.random.default_rng(0)
    cot, tx, tg = rng.standard_normal((2, 2, 3, 2)), rng.standard_normal(x.shape), rng.standard_normal(grid.shape)
    with fwAD.dual_level():
        dx = fwAD.make_dual(dp.tensor(x), dp.tensor(tx)).requires_grad_()
        dg = fwAD.make_dual(dp.tensor(grid), dp.tensor(tg)).requires_grad_()
        y = F.grid_sample(dx, dg, mode, "reflection", False)
        grads = dp.autograd.grad((y * dp.tensor(cot)).sum(), [dx, dg], create_graph=True)
        got = [fwAD.unpack_dual(g).tangent for g in grads]
        got = [np.zeros(a.shape) if t is None else t.detach().numpy() for a, t in zip((x, grid), got)]
    t_in = [torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)]
    t_y = TF.grid_sample(*t_in, mode, "reflection", False)
    t_g = torch.autograd.grad((t_y * torch.tensor(cot)).sum(), t_in, create_graph=True)
    dot = sum((g * torch.tensor(t)).sum() for g, t in zip(t_g, (tx, tg)))
    want = torch.autograd.grad(dot, t_in, allow_unused=True)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, np.zeros(a.shape) if b is None else b.numpy(), rtol=1e-10, atol=1e-10)
    if mode == "bilinear":                       # (nearest: linear in x, flat in grid: zero)
        assert np.abs(got[0]).sum() > 0 and np.abs(got[1]).sum() > 0
