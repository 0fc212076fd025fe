"""Scores for generative models computed with a classifier's features: the Frechet distance
(FID, Heusel et al. 2017) and the Inception score (IS, Salimans et al. 2016).

The originals use an ImageNet Inception-v3; here any trained classifier plays its part (for
MNIST, a small CNN trained by examples/mnist_cnn.py), so the numbers are comparable between
models scored with the same classifier and sample count, not with published Inception FIDs.

    FID = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^1/2)      Gaussian fits to features
    IS  = exp(E_x KL(p(y | x) || p(y)))                            p(y): mean class posterior
"""
from ..autograd.grad_mode import no_grad
from ..ops.shape import cat
from .._array import xp

__all__ = ["classifier_outputs", "frechet_distance", "fid", "inception_score"]


def classifier_outputs(model, images, layer, batch_size=500):
    """(features of submodule `layer`, flattened; class probabilities = softmax of the
    output) of `model` in evaluation mode over `images`, in batches."""
    was_training = model.training
    model.eval()
    target = model.get_submodule(layer) if isinstance(layer, str) else layer
    got = []
    handle = target.register_forward_hook(lambda m, args, out: got.append(out.detach().flatten(1)))
    feats, probs = [], []
    try:
        with no_grad():
            for i in range(0, len(images), batch_size):
                got.clear()
                probs.append(model(images[i:i + batch_size]).softmax(-1))
                feats.append(got[-1])
    finally:
        handle.remove()
        model.train(was_training)
    return cat(feats), cat(probs)


def _psd_sqrt(a):
    w, v = xp.linalg.eigh(a)
    return (v * xp.sqrt(xp.maximum(w, 0))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """The squared Frechet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

    Tr (S1 S2)^1/2 is taken as the trace of (S1^1/2 S2 S1^1/2)^1/2, a symmetric PSD matrix
    whose eigenvalues are those of S1 S2, so no complex square root is needed."""
    mu1, mu2, s1, s2 = (xp.asarray(a._data if hasattr(a, "_data") else a, dtype=xp.float64)
                        for a in (mu1, mu2, sigma1, sigma2))
    root1 = _psd_sqrt(s1)
    cross = xp.sqrt(xp.maximum(xp.linalg.eigvalsh(root1 @ s2 @ root1), 0)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + xp.trace(s1) + xp.trace(s2) - 2 * cross)


def _gaussian(features):
    f = xp.asarray(features._data if hasattr(features, "_data") else features, dtype=xp.float64)
    return f.mean(0), xp.cov(f, rowvar=False)


def fid(real_features, fake_features):
    """FID between two sets of features (N, D): the Frechet distance of their Gaussian fits
    (biased upwards for small N; compare scores computed with the same N)."""
    return frechet_distance(*_gaussian(real_features), *_gaussian(fake_features))


def inception_score(probs, splits=10):
    """(mean, std) over `splits` equal parts of exp(mean KL(p(y|x) || p(y))), from class
    probabilities (N, K).  Ranges from 1 (every sample the same posterior) to K (confident,
    evenly spread classes)."""
    p = xp.asarray(probs._data if hasattr(probs, "_data") else probs, dtype=xp.float64)
    scores = []
    for part in xp.array_split(p, splits):
        marginal = part.mean(0, keepdims=True)
        kl = (part * (xp.log(xp.maximum(part, 1e-12)) - xp.log(xp.maximum(marginal, 1e-12)))).sum(1)
        scores.append(xp.exp(kl.mean()))
    scores = xp.asarray(scores)
    return float(scores.mean()), float(scores.std())


