"""diffprog.viz: autograd graphs as DOT, feature maps, filters, saliency, Grad-CAM, PNGs."""
import re
import shutil

import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from diffprog import viz
from oracle import torch

HAS_DOT = shutil.which("dot") is not None


def edges(src):
    return re.findall(r"^\s*(\w+) -> (\w+);", src, flags=re.M)


def labels(src):
    return re.findall(r'label="([^"]*)"', src)


# --- graphs -----------------------------------------------------------------------------

def test_dot_small_expression():
    a = dp.randn(2, 3, requires_grad=True)
    b = dp.randn(3, requires_grad=True)
    c = dp.randn(3)                                   # no grad: not drawn
    y = (a * b + a * c).sum()
    src = viz.make_dot(y, params={"a": a, "b": b})
    assert src.startswith("digraph") and src.rstrip().endswith("}")
    labs = labels(src)
    assert sorted(l.split("\\n")[0] for l in labs) == sorted(
        ["output", "SumBackward0", "AddBackward0", "MulBackward0", "MulBackward0", "a", "b"])
    assert "a\\n(2, 3)" in labs and "b\\n(3,)" in labs and "output\\n()" in labs
    # Sum->out, Add->Sum, Mul->Add twice, a->Mul twice, b->Mul
    assert len(edges(src)) == 7
    assert "darkolivegreen1" in src.split("\n")[3]     # the output is highlighted


def test_dot_leaf_output_and_attrs():
    w = dp.ones(2, requires_grad=True)
    assert len(edges(viz.make_dot(w))) == 0
    src = viz.render_graph(w.sum(dim=0, keepdim=True), show_attrs=True)
    assert "keepdim=True" in src


def test_dot_names_model_parameters():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    out = model(dp.randn(5, 4))
    labs = labels(viz.make_dot(out, params=dict(model.named_parameters())))
    for name, p in model.named_parameters():
        assert f"{name}\\n{tuple(p.shape)}" in labs
    assert sum("Backward0" in l for l in labs) >= 3


def test_dot_deep_graph_does_not_recurse():
    x = dp.ones(1, requires_grad=True)
    y = x
    for _ in range(2000):
        y = y * 1.0
    src = viz.make_dot(y)
    assert src.count('"MulBackward0"') == 2000
    assert len(edges(src)) == 2001


def test_save_graph_dot_and_rendered(tmp_path):
    x = dp.randn(3, requires_grad=True)
    src = viz.make_dot((x.exp() * 2).sum())
    p = viz.save_graph(src, str(tmp_path / "g.dot"))
    assert open(p).read() == src
    if not HAS_DOT:
        pytest.skip("Graphviz `dot` not installed: SVG/PNG rendering not tested")
    svg = viz.save_graph(src, str(tmp_path / "g.svg"))
    assert "<svg" in open(svg).read()
    png = viz.save_graph(src, str(tmp_path / "g.png"), format="png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_save_graph_without_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz.*brew install graphviz"):
        viz.save_graph("digraph {}", str(tmp_path / "g.svg"))
    with pytest.raises(ValueError, match="unknown format"):
        viz.save_graph("digraph {}", str(tmp_path / "g.bmp"))


# --- features, saliency, Grad-CAM ---------------------------------------------------------

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(),
                                      nn.Conv2d(4, 5, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


def small_cnn():
    dp.manual_seed(0)
    return SmallCNN(), dp.randn(2, 3, 9, 9)


def to_torch(model):
    """The same network in torch, for an oracle."""
    tm = torch.nn.ModuleDict(dict(
        features=torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(),
                                     torch.nn.Conv2d(4, 5, 3, padding=1), torch.nn.ReLU()),
        head=torch.nn.Linear(5, 3))).double()
    tm.load_state_dict({k: torch.tensor(v.detach().numpy(), dtype=torch.float64)
                        for k, v in model.state_dict().items()})
    return tm


def test_feature_maps_by_name_and_module():
    model, x = small_cnn()
    a = viz.feature_maps(model, "features.0", x)
    assert a.shape == (2, 4, 4, 4) and not a.requires_grad
    b = viz.feature_maps(model, model.features[2], x)
    assert b.shape == (2, 5, 4, 4)
    np.testing.assert_allclose(a.numpy(), model.features[0](x).detach().numpy())
    assert not model.features[0]._forward_hooks                       # hook removed
    with pytest.raises(RuntimeError, match="not called"):
        viz.feature_maps(model, nn.ReLU(), x)


def test_saliency_is_abs_input_gradient():
    model, x = small_cnn()
    target = [2, 0]
    s = viz.saliency(model, x, target)
    assert s.shape == (2, 9, 9)
    for i, t in enumerate(target):
        xi = x[i:i + 1].detach().requires_grad_(True)
        model(xi)[0, t].backward()
        np.testing.assert_allclose(s[i].numpy(), xi.grad[0].abs().amax(dim=0).numpy(), rtol=1e-5)
    assert viz.saliency(model, x, 1).shape == (2, 9, 9)                # one int for all


def test_grad_cam_matches_torch():
    model, x = small_cnn()
    cam = viz.grad_cam(model, "features.3", x, [1, 2]).numpy()
    assert cam.shape == (2, 9, 9) and cam.min() >= 0 and cam.max() <= 1
    tm, xt, acts = to_torch(model), torch.tensor(x.numpy(), dtype=torch.float64), []
    tm.features[3].register_forward_hook(lambda m, i, o: acts.append(o))
    out = tm.head(tm.features(xt).mean(dim=(2, 3)))
    (g,) = torch.autograd.grad(out[[0, 1], [1, 2]].sum(), acts[0])
    c = torch.relu((g.mean(dim=(2, 3), keepdim=True) * acts[0]).sum(1, keepdim=True))
    c = torch.nn.functional.interpolate(c, size=(9, 9), mode="bilinear", align_corners=False)[:, 0]
    c = c - c.amin(dim=(1, 2), keepdim=True)
    c = c / c.amax(dim=(1, 2), keepdim=True).clamp(min=1e-12)
    np.testing.assert_allclose(cam, c.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_grad_cam_peaks_where_the_evidence_is():
    # conv (1x1, weight 1) -> ReLU -> global mean -> linear: class 0 counts brightness,
    # class 1 counts against it.  With one bright blob the CAM of class 0 is the blob itself.
    conv, lin = nn.Conv2d(1, 1, 1), nn.Linear(1, 2)
    with dp.no_grad():
        conv.weight.fill_(1.0); conv.bias.zero_()
        lin.weight.copy_(dp.tensor([[2.0], [-2.0]])); lin.bias.zero_()
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), lin)
    x = dp.zeros(1, 1, 8, 8)
    x[0, 0, 5:7, 1:3] = dp.tensor([[1.0, 0.5], [0.5, 0.25]])
    cam = viz.grad_cam(model, conv, x, 0)[0].numpy()
    np.testing.assert_allclose(cam, x[0, 0].numpy(), atol=1e-6)      # normalised blob, exactly
    assert np.unravel_index(cam.argmax(), cam.shape) == (5, 1)
    assert np.all(viz.grad_cam(model, conv, x, 1).numpy() == 0)      # negative evidence: ReLU'd away


# --- PNGs --------------------------------------------------------------------------------

def read_png(path):
    mpimg = pytest.importorskip("matplotlib.image")
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 10 and img.shape[1] > 10 and img.std() > 0
    return img


def test_pngs_written(tmp_path):
    pytest.importorskip("matplotlib")
    model, x = small_cnn()
    act = viz.feature_maps(model, "features.1", x[:1])
    read_png(viz.plot_feature_maps(act, str(tmp_path / "maps.png"), ncols=2))
    read_png(viz.plot_filters(model.features[0].weight, str(tmp_path / "rgb.png")))
    read_png(viz.plot_filters(model.features[2].weight, str(tmp_path / "grey.png"), ncols=3))
    heat = viz.grad_cam(model, "features.3", x[:1], 0)[0]
    read_png(viz.plot_heatmap(x[0], heat, str(tmp_path / "cam.png")))
    read_png(viz.plot_heatmap(x[0, 0], viz.saliency(model, x[:1], 0)[0], str(tmp_path / "sal.png")))
    with pytest.raises(ValueError, match="one sample"):
        viz.plot_feature_maps(viz.feature_maps(model, "features.1", x), str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="conv weight"):
        viz.plot_filters(dp.ones(3, 3), str(tmp_path / "x.png"))


def test_missing_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        viz.plot_filters(dp.ones(2, 1, 3, 3), str(tmp_path / "f.png"))
