"""Barlow Twins and the masked autoencoder: the Barlow Twins loss through the oracle against a
PyTorch transcription of the paper's pseudocode, its minimum, patchify against the MAE
reference einsum, and the masking and loss bookkeeping of the MAE."""
import numpy as np
import pytest

import diffprog as dp
from diffprog.models import BarlowTwins, CifarEncoder, MaskedAutoencoder, barlow_twins_loss, patchify, unpatchify
from diffprog.vision.models import vit_tiny_cifar
from oracle import check, rand, torch


def torch_barlow(z1, z2, lambd=5e-3):
    """The paper's Algorithm 1."""
    n, d = z1.shape
    a = (z1 - z1.mean(0)) / torch.sqrt(z1.var(0, unbiased=False) + 1e-5)
    b = (z2 - z2.mean(0)) / torch.sqrt(z2.var(0, unbiased=False) + 1e-5)
    c = a.T @ b / n
    on = ((torch.diagonal(c) - 1) ** 2).sum()
    off = (c.flatten()[:-1].view(d - 1, d + 1)[:, 1:] ** 2).sum()
    return on + lambd * off


@pytest.mark.parametrize("n, d, lambd", [(8, 4, 5e-3), (5, 6, 0.1), (16, 3, 1.0)])
def test_barlow_twins_loss_matches_the_paper(n, d, lambd):
    check(lambda a, b: barlow_twins_loss(a, b, lambd), lambda a, b: torch_barlow(a, b, lambd),
          rand(n, d, seed=1), rand(n, d, seed=2))


def test_barlow_twins_loss_minimum_and_errors():
    a = np.random.default_rng(0).standard_normal((64, 8))
    q, _ = np.linalg.qr(a - a.mean(0))               # centred, orthogonal columns: C = I exactly
    z = dp.tensor(q)
    assert barlow_twins_loss(z, z, eps=0.0).item() == pytest.approx(0.0, abs=1e-9)
    assert barlow_twins_loss(z, dp.tensor(q[::-1].copy())).item() > 1.0
    with pytest.raises(RuntimeError, match="barlow_twins_loss: z1 and z2 must both be"):
        barlow_twins_loss(dp.ones(4, 3), dp.ones(4, 2))
    h, proj = BarlowTwins(CifarEncoder(4), 32, 16)(dp.rand(5, 3, 32, 32))
    assert h.shape == (5, 32) and proj.shape == (5, 16)


def test_patchify_matches_the_reference_layout():
    x = rand(2, 3, 8, 8, seed=3)
    ref = torch.einsum("nchpwq->nhwpqc", torch.tensor(x).reshape(2, 3, 2, 4, 2, 4)).reshape(2, 4, 48)
    np.testing.assert_array_equal(patchify(dp.tensor(x), 4).numpy(), ref.numpy())
    np.testing.assert_array_equal(unpatchify(patchify(dp.tensor(x), 4), 4, 3, 8).numpy(), x)


def test_mae_masks_the_ratio_and_scores_only_hidden_patches():
    dp.manual_seed(0)
    mae = MaskedAutoencoder(vit_tiny_cifar(num_layers=1, hidden_dim=32, num_heads=2, mlp_dim=64),
                            mask_ratio=0.75, decoder_dim=16)
    x = dp.rand(4, 3, 32, 32)
    loss, pred, mask = mae(x)
    assert pred.shape == (4, 64, 48) and mask.shape == (4, 64)
    np.testing.assert_array_equal(mask.sum(1).numpy(), [48] * 4)
    assert len({tuple(m) for m in mask.numpy().astype(int)}) == 4          # a new mask per image
    latent, restore, m2 = mae.encode(x, 0.75)
    assert latent.shape == (4, 1 + 16, 32)
    # visible patches do not count: a perfect prediction on the hidden ones gives zero loss
    target = patchify(x, 4)
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    fake = dp.where(mask.bool().unsqueeze(-1), target, dp.full_like(target, 7.0))
    assert mae.loss(x, fake, mask).item() == pytest.approx(0.0, abs=1e-10)
    loss.backward()
    assert mae.vit.conv_proj.weight.grad is not None and mae.mask_token.grad is not None
    assert mae.vit.heads.head.weight.grad is None                           # the classifier is unused
    assert mae.features(x).shape == (4, 32)


def test_mae_decoder_sees_patches_in_image_order():
    """With nothing masked, decoding puts encoded patch i back at position i: shuffling the
    encoder's input positions must not change the (permutation-equivariant) output."""
    dp.manual_seed(1)
    mae = MaskedAutoencoder(vit_tiny_cifar(num_layers=1, hidden_dim=32, num_heads=2, mlp_dim=64), mask_ratio=0.0,
                            decoder_dim=16, norm_pix_loss=False).eval()
    x = dp.rand(2, 3, 32, 32)
    with dp.no_grad():
        a = mae(x)[1]
        b = mae(x)[1]                          # a different random order inside
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
