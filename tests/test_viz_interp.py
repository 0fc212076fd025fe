"""diffprog.viz's interpretability tools: recording and patching activations with forward
hooks, activation patching on a model whose answer is known, and activation maximisation
with its regularisers."""
import numpy as np
import pytest

import diffprog as dp
from diffprog import nn
from diffprog.viz import (activation_maximization, activation_patching, high_frequency_energy,
                          patch_activations, record_activations, total_variation)


class ReadsOnePosition(nn.Module):
    """(N, T, D) -> per-position linear map -> the head reads position `pos` only."""

    def __init__(self, d=4, pos=2):
        super().__init__()
        self.enc, self.head, self.pos = nn.Linear(d, d), nn.Linear(d, 1), pos

    def forward(self, x):
        return self.head(self.enc(x)[:, self.pos])[:, 0]


def test_record_and_patch_activations():
    dp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    x = dp.randn(4, 3)
    with record_activations(model, ["0", "1"]) as acts:
        out = model(x)
    np.testing.assert_allclose(acts["0"].numpy(), model[0](x).detach().numpy())
    assert not acts["1"].requires_grad and not model[0]._forward_hooks     # detached; hooks removed
    with record_activations(model, [model[1]], detach=False) as live:
        model(x)
    assert live[model[1]].requires_grad
    with patch_activations(model, {"1": dp.zeros(4, 5)}):
        np.testing.assert_allclose(model(x).detach().numpy(), model[2].bias.detach().numpy()[None].repeat(4, 0))
    with patch_activations(model, {"0": lambda h: 2 * h}):
        doubled = model(x)
    np.testing.assert_allclose(doubled.detach().numpy(), model[2](model[1](2 * model[0](x))).detach().numpy())
    np.testing.assert_allclose(model(x).detach().numpy(), out.detach().numpy())          # unpatched again


def test_patching_attention_modules_that_return_tuples():
    dp.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    x = dp.randn(2, 5, 8)
    with record_activations(layer, ["self_attn"]) as acts:
        layer(x)
    assert acts["self_attn"].shape == (2, 5, 8)
    with patch_activations(layer, {"self_attn": dp.zeros(2, 5, 8)}):
        patched = layer(x)
    expected = layer.norm2(layer.norm1(x) + layer._ff_block(layer.norm1(x), layer.dropout2))
    np.testing.assert_allclose(patched.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_activation_patching_finds_the_position_that_matters():
    dp.manual_seed(0)
    model = ReadsOnePosition()
    clean, corrupted = dp.randn(3, 5, 4), dp.randn(3, 5, 4)
    res = activation_patching(model, clean, corrupted, lambda out: out.mean().item(), ["enc"], range(5))
    assert res["patched"].shape == (1, 5)
    np.testing.assert_allclose(res["restored"][0], [0, 0, 1, 0, 0], atol=1e-6)
    assert res["clean"] == pytest.approx(model(clean).mean().item())
    assert res["corrupted"] == pytest.approx(model(corrupted).mean().item())


def test_activation_maximization_of_a_linear_unit_points_along_its_weights():
    dp.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    x, act = activation_maximization(model, None, 1, (2, 1, 8, 8), steps=100, lr=0.05, l2_weight=1.0,
                                     generator=dp.Generator().manual_seed(0))
    w = model[1].weight[1].detach().numpy()
    for img in x.numpy().reshape(2, -1):
        assert img @ w / np.linalg.norm(img) / np.linalg.norm(w) > 0.99
    np.testing.assert_allclose(act.numpy(), model(x)[:, 1].detach().numpy(), rtol=1e-5)


def test_regularisers_smooth_the_visualisation():
    dp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    gen = lambda: dp.Generator().manual_seed(1)  # noqa: E731
    plain, a_plain = activation_maximization(model, "2", [0, 1, 2, 3], (4, 1, 16, 16), steps=60, generator=gen())
    smooth, a_smooth = activation_maximization(model, "2", [0, 1, 2, 3], (4, 1, 16, 16), steps=60, jitter=2,
                                               blur_every=4, blur_sigma=0.5, tv_weight=0.05, clamp=(-1, 1),
                                               generator=gen())
    assert a_plain.mean() > 0 and a_smooth.mean() > 0
    assert high_frequency_energy(smooth).mean() < high_frequency_energy(plain).mean()
    assert total_variation(smooth).item() / smooth.abs().mean().item() < \
        total_variation(plain).item() / plain.abs().mean().item()
    assert smooth.abs().max().item() <= 1.0
    assert high_frequency_energy(dp.randn(8, 1, 32, 32)).mean() > 0.5
    assert high_frequency_energy(dp.ones(1, 1, 8, 8) * dp.arange(8.0)).item() < 0.05
