"""Masked autoencoder (He et al. 2022): a Vision Transformer encoder sees a random 25 % of an
image's patches; a small transformer decoder gets the encoded patches back in place, with a
learned mask token at every hidden position, and reconstructs the pixels; the loss is the
mean squared error on the hidden patches only.  Afterwards the encoder alone (on all patches)
provides the features.

    mae = MaskedAutoencoder(vit_tiny_cifar())
    loss, pred, mask = mae(images)
    feats = mae.features(images)          # the mean of the encoded patch tokens

The encoder reuses `diffprog.vision.models.VisionTransformer`'s patch embedding, class token,
position embeddings and blocks; the decoder's blocks are ViT encoder blocks too.  Position
embeddings are learned here (the paper uses fixed sine-cosine ones).
"""
from collections import OrderedDict

from .. import nn
from ..creation import zeros
from ..ops import argsort, cat, gather
from ..random import rand
from ..vision.models.vit import EncoderBlock

__all__ = ["MaskedAutoencoder", "patchify", "unpatchify"]


def patchify(images, p):
    """(N, C, H, W) -> (N, H/p * W/p, p * p * C), patches in row-major order."""
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // p, p, w // p, p)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(n, (h // p) * (w // p), p * p * c)


def unpatchify(patches, p, channels, size):
    """The inverse of `patchify` for square images of side `size`."""
    n, g = patches.shape[0], size // p
    x = patches.reshape(n, g, g, p, p, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(n, channels, size, size)


def _take(x, ids):
    """x (N, L, D) at positions ids (N, K) along dim 1."""
    return gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class MaskedAutoencoder(nn.Module):
    """MAE around `vit` (a VisionTransformer, whose classification head is not used).

    Args:
        mask_ratio: the fraction of patches hidden from the encoder (0.75 in the paper).
        decoder_dim, decoder_depth, decoder_heads: the decoder transformer's size.
        norm_pix_loss: reconstruct each patch standardised by its own mean and variance (the
            paper's better-performing target).
    `forward(images)` returns (loss, predicted patches (N, L, p*p*C), mask (N, L): 1 = hidden).
    """

    def __init__(self, vit, mask_ratio=0.75, decoder_dim=64, decoder_depth=1, decoder_heads=4,
                 norm_pix_loss=True):
        super().__init__()
        self.vit, self.mask_ratio, self.norm_pix_loss = vit, mask_ratio, norm_pix_loss
        self.patch_size = vit.patch_size
        self.channels = vit.conv_proj.in_channels
        n_patches = vit.seq_length - 1
        self.decoder_embed = nn.Linear(vit.hidden_dim, decoder_dim)
        self.mask_token = nn.Parameter(zeros(1, 1, decoder_dim))
        self.decoder_pos = nn.Parameter(zeros(1, n_patches + 1, decoder_dim))
        self.decoder = nn.Sequential(OrderedDict(
            (f"decoder_layer_{i}", EncoderBlock(decoder_heads, decoder_dim, 4 * decoder_dim, 0.0, 0.0))
            for i in range(decoder_depth)))
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_dim, self.patch_size ** 2 * self.channels)
        for p in (self.mask_token, self.decoder_pos):
            nn.init.normal_(p, std=0.02)

    def encode(self, images, mask_ratio=0.0):
        """Encoder states (N, 1 + kept, hidden_dim) of the class token and the kept patches,
        and (ids_restore, mask) of the random masking."""
        vit = self.vit
        x = vit._process_input(images) + vit.encoder.pos_embedding[:, 1:]
        n, length, _ = x.shape
        keep = int(round(length * (1 - mask_ratio)))
        ids_shuffle = argsort(rand(n, length), dim=1)          # the first `keep` are kept
        ids_restore = argsort(ids_shuffle, dim=1)
        x = _take(x, ids_shuffle[:, :keep])
        mask = (ids_restore >= keep).float()
        cls = (vit.class_token + vit.encoder.pos_embedding[:, :1]).expand(n, -1, -1)
        x = vit.encoder.layers(vit.encoder.dropout(cat([cls, x], 1)))
        return vit.encoder.ln(x), ids_restore, mask

    def decode(self, latent, ids_restore):
        x = self.decoder_embed(latent)
        n, kept = x.shape[0], x.shape[1] - 1
        length = ids_restore.shape[1]
        patches = cat([x[:, 1:], self.mask_token.expand(n, length - kept, -1)], 1)
        patches = _take(patches, ids_restore)                   # back in image order
        x = cat([x[:, :1], patches], 1) + self.decoder_pos
        return self.decoder_pred(self.decoder_norm(self.decoder(x)))[:, 1:]

    def loss(self, images, pred, mask):
        target = patchify(images, self.patch_size)
        if self.norm_pix_loss:
            target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
        per_patch = ((pred - target) ** 2).mean(-1)
        return (per_patch * mask).sum() / mask.sum().clamp(min=1)

    def forward(self, images):
        latent, ids_restore, mask = self.encode(images, self.mask_ratio)
        pred = self.decode(latent, ids_restore)
        return self.loss(images, pred, mask), pred, mask

    def features(self, images):
        """The mean of the encoded patch tokens of the unmasked images, (N, hidden_dim)."""
        latent, _, _ = self.encode(images, 0.0)
        return latent[:, 1:].mean(1)
