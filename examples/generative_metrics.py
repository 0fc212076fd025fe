"""Evaluating generative models: FID and Inception score on MNIST, with a classifier the project
trains itself as the feature extractor, applied to real images, degraded images, and the
samples of gan.py's GAN and ddpm.py's diffusion model.

    python examples/generative_metrics.py [--data-root DIR] [--n 1000] [--gan-epochs 5]
                                          [--ddpm-steps 1500] [--ddpm-T 200] [--train-size N]
                                          [--classifier PT] [--gan-generator PT]
                                          [--out runs/generative_metrics]

Feature extractor: mnist_cnn.py's CNN trained for one epoch on the training images (or the
weights given by --classifier, e.g. runs/mnist_cnn/mnist_cnn.pt).  FID uses its 128 features
after the hidden layer's ReLU, the Inception score its softmax
(`diffprog.models.classifier_outputs`, `fid`, `inception_score` with 10 splits).  Every
score uses --n images against --n random test images (FID is biased upwards for small n, so
only scores with the same n compare).  The conditions:
  other test images     --n other random test images (two real samples: the floor);
  train images          --n random training images;
  noisy 0.1 / 0.3       the other test images plus Gaussian noise of std 0.1 / 0.3 (pixels in [0, 1]);
  blurred               the other test images blurred (Gaussian, sigma 1, 7x7 kernel);
  digits 0-4 only       --n random training images of the digits 0-4 (mode dropping);
  GAN, untrained        gan.py's MLP generator at initialisation;
  GAN                   the same after --gan-epochs epochs of gan.py (`--model gan`);
  DDPM                  ddpm.py's U-Net (width 16) trained for --ddpm-steps steps with
                        T = --ddpm-T (ancestral sampling through all T steps).
Random samples matter: MNIST's files are ordered by writer; with contiguous slices, test
images 0-999 scored FID 6 against test images 1,000-1,999 but 25 against training images
0-999 and against test images 5,000-5,999 (the same classifier).

Full run with the defaults, `python examples/generative_metrics.py` (n = 1000, all 60,000
training images, seed 0, 1 BLAS thread), on the 2-core development machine shared with
other jobs: 22.5 min in all (about 1 min the classifier, 1.6 min the GAN, 20 min the DDPM's
training and the sampling of 1,000 images); classifier accuracy 98.3% on the first 2,000
test images.
  condition              FID     IS
  other test images      7.0   9.11
  train images           7.3   8.89
  noisy 0.1             16.9   8.89
  noisy 0.3            257.4   4.33
  blurred              245.6   6.83
  digits 0-4 only      184.1   4.90
  GAN, untrained       844.2   1.01
  GAN (5 epochs)       306.1   2.84
  DDPM (1500 steps)    136.8   4.58
Both models stay far from the real images.  The GAN's samples are digit shapes covered in
the speckle of a fully connected generator, a few readable (1, 3, 7, 9); the classifier is
unsure of them (IS 2.8), and FID puts them beside heavy noise.  The DDPM's are clean white
strokes, some readable digits, many digit-like curls (a shorter training than ddpm.py's
3,000 steps): better than the GAN on both scores, and by FID a little closer to MNIST than
real digits with half the classes dropped.

Outputs in --out: `scores.json`, `gan_samples.png`, `ddpm_samples.png` (64 samples each),
the classifier's and both models' weights.
"""
import argparse
import json
import os
import sys
import time

import diffprog as dp
from diffprog.models import classifier_outputs, fid, inception_score
from diffprog.vision.transforms.functional import gaussian_blur
from diffprog.vision.utils import save_image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ddpm as ddpm_example  # noqa: E402
import gan as gan_example  # noqa: E402
from mnist_cnn import MEAN, STD, load_mnist, main as train_mnist_cnn, make_model  # noqa: E402

FEATURES = "11"          # mnist_cnn's ReLU after the 128-unit hidden layer
LATENT = 64              # gan.py's latent size for its MLP GAN


def classifier(root, path, train_size, out, seed):
    model = make_model()
    if path is None:
        res = train_mnist_cnn(root, epochs=1, train_size=train_size, test_size=2000, out=out, seed=seed, verbose=0)
        path = res["checkpoint"]
    model.load_state_dict(dp.load(path))
    return model.eval()


def from_tanh(x):
    """Generator output in [-1, 1] -> the classifier's normalised input."""
    return ((x.clamp(-1, 1) * 0.5 + 0.5) - MEAN) / STD


def pixels(x):
    return x * STD + MEAN


def normalised(p):
    return (p.clamp(0, 1) - MEAN) / STD


def main(root=None, n=1000, gan_epochs=5, ddpm_steps=1500, ddpm_T=200, classifier_path=None, train_size=None,
         seed=0, out="runs/generative_metrics", gan_path=None, verbose=True):
    """Scores {condition: (FID, IS)} for the conditions in the module docstring."""
    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    dp.manual_seed(seed)
    model = classifier(root, classifier_path, train_size, os.path.join(out, "classifier"), seed)
    test, test_labels = load_mnist(root, False)
    train, train_labels = load_mnist(root, True, train_size)
    with dp.no_grad():
        accuracy = (model(test[:2000]).argmax(1) == test_labels[:2000]).float().mean().item()
    if 2 * n > len(test):
        raise ValueError(f"n = {n} needs 2 n test images (reference and 'other test images'), there are {len(test)}")
    # MNIST's files are ordered by writer, so contiguous slices are not random samples
    gen = dp.Generator().manual_seed(seed)
    order = dp.randperm(len(test), generator=gen)
    reference, _ = classifier_outputs(model, test[order[:n]], FEATURES)
    sample = test[order[n:2 * n]]
    order = dp.randperm(len(train), generator=gen)
    train, train_labels = train[order], train_labels[order]

    def score(images):
        feats, probs = classifier_outputs(model, images, FEATURES)
        return fid(reference, feats), inception_score(probs)[0]

    res = {"other test images": score(sample),
           "train images": score(train[:n]),
           "noisy 0.1": score(normalised(pixels(sample) + 0.1 * dp.randn(*sample.shape, generator=gen))),
           "noisy 0.3": score(normalised(pixels(sample) + 0.3 * dp.randn(*sample.shape, generator=gen))),
           "blurred": score(normalised(gaussian_blur(pixels(sample), 7, 1.0))),
           "digits 0-4 only": score(train[train_labels < 5][:n])}

    dp.manual_seed(seed)
    G, _ = gan_example.make_models("gan", LATENT)
    with dp.no_grad():
        res["GAN, untrained"] = score(from_tanh(G.eval()(dp.randn(n, LATENT))))
    if gan_path is None:
        trained = gan_example.main("gan", epochs=gan_epochs, train_size=train_size, root=root,
                                   out=os.path.join(out, "gan"), seed=seed, verbose=False)["generator"]
    else:
        trained, _ = gan_example.make_models("gan", LATENT)
        trained.load_state_dict(dp.load(gan_path))
    trained.eval()
    dp.manual_seed(seed + 1)
    with dp.no_grad():
        fake = trained(dp.randn(n, LATENT))
    res["GAN, given weights" if gan_path else f"GAN ({gan_epochs} epochs)"] = score(from_tanh(fake))
    save_image(fake[:64] * 0.5 + 0.5, os.path.join(out, "gan_samples.png"), nrow=8)
    dp.save(trained.state_dict(), os.path.join(out, "gan_generator.pt"))

    diffusion = ddpm_example.main(steps=ddpm_steps, T=ddpm_T, train_size=train_size, test_size=n, n_samples=0,
                                  root=root, out=os.path.join(out, "ddpm"), seed=seed, verbose=False)["model"]
    with dp.no_grad():
        fake = dp.cat([diffusion.sample(min(250, n - i), (1, 28, 28)) for i in range(0, n, 250)])
    res[f"DDPM ({ddpm_steps} steps)"] = score(from_tanh(fake))
    save_image(fake[:64].clamp(-1, 1) * 0.5 + 0.5, os.path.join(out, "ddpm_samples.png"), nrow=8)
    dp.save(diffusion.state_dict(), os.path.join(out, "ddpm.pt"))

    res = {k: (round(f, 2), round(i, 3)) for k, (f, i) in res.items()}
    seconds = time.perf_counter() - start
    with open(os.path.join(out, "scores.json"), "w") as f:
        json.dump({"scores": res, "classifier_accuracy": accuracy, "n": n, "seconds": seconds}, f, indent=1)
    if verbose:
        print(f"classifier test accuracy {accuracy:.1%}; n = {n}")
        print(f"{'condition':22s} {'FID':>8s} {'IS':>6s}")
        for k, (f_, i) in res.items():
            print(f"{k:22s} {f_:8.1f} {i:6.2f}")
        print(f"{seconds / 60:.1f} min")
    return {"scores": res, "classifier_accuracy": accuracy, "seconds": seconds}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=None)
    p.add_argument("--n", type=int, default=1000, help="images per score")
    p.add_argument("--gan-epochs", type=int, default=5)
    p.add_argument("--ddpm-steps", type=int, default=1500)
    p.add_argument("--ddpm-T", type=int, default=200, help="diffusion steps of the DDPM")
    p.add_argument("--classifier", default=None, help="mnist_cnn.py weights (default: train one epoch)")
    p.add_argument("--gan-generator", default=None, help="gan_generator.pt of an earlier run (default: train)")
    p.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    p.add_argument("--out", default="runs/generative_metrics")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.data_root, a.n, a.gan_epochs, a.ddpm_steps, a.ddpm_T, classifier_path=a.classifier,
         train_size=a.train_size, seed=a.seed, out=a.out, gan_path=a.gan_generator)
