"""The examples in examples/: short runs that must clearly learn, the closed-form check of
linear regression, and resuming the Trial example from its checkpoint."""
import os
import subprocess
import sys

import numpy as np
import pytest

import diffprog as dp

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)
pytest.importorskip("sklearn")

import regression  # noqa: E402
import svm  # noqa: E402
from data import mnist_root  # noqa: E402


def test_linear_regression_matches_closed_form():
    out = regression.linear(verbose=False)
    w_gd, w_pinv = out["weights_gd"].numpy(), out["weights_pinv"].numpy()
    np.testing.assert_allclose(w_gd, w_pinv, rtol=1e-4, atol=1e-3 * np.abs(w_pinv).max())
    # the pinv solution is the least-squares one (NumPy's lstsq on the same data)
    x, y, _, _ = regression.load("diabetes", 0)
    design = np.hstack([x.numpy(), np.ones((len(x), 1))])
    np.testing.assert_allclose(w_pinv, np.linalg.lstsq(design, y.numpy(), rcond=None)[0], rtol=1e-8)
    assert out["test_r2"] > 0.4


def test_linear_regression_few_steps_is_not_converged():
    """The closed-form comparison can fail: 5 steps are far from the solution."""
    out = regression.linear(steps=5, verbose=False)
    assert not np.allclose(out["weights_gd"].numpy(), out["weights_pinv"].numpy(), rtol=1e-2)


@pytest.mark.parametrize("name, steps, floor", [("logistic", 50, 0.95), ("softmax", 60, 0.9)])
def test_classifiers_learn(name, steps, floor):
    assert regression.MODELS[name](steps=steps, verbose=False) > floor


@pytest.mark.parametrize("classes", [2, 3])
def test_svm_separates_blobs(classes):
    acc, model = svm.main(classes=classes, epochs=5, verbose=False)
    assert acc >= 0.97
    assert tuple(model.weight.shape) == ((1 if classes == 2 else classes), 2)


def test_hinge_loss_by_hand():
    scores, t, w = dp.tensor([2.0, 0.5, -0.5]), dp.tensor([1.0, 1.0, 1.0]), dp.tensor([3.0, 4.0])
    # margins 2, 0.5, -0.5 -> losses 0, 0.5, 1.5; mean 2/3; plus 0.1/2 * 25
    assert svm.hinge_loss(scores, t, w, 0.1).item() == pytest.approx(2 / 3 + 1.25)


@pytest.mark.parametrize("script, args", [("svm.py", ["--epochs", "2"]),
                                          ("regression.py", ["--model", "softmax", "--steps", "20"])])
def test_scripts_run(script, args):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "test accuracy" in out.stdout


def test_mnist_mlp_short_run_learns():
    import mnist_mlp
    acc = mnist_mlp.main(mnist_root(), epochs=1, train_size=2000, test_size=1000, verbose=False)
    assert acc > 0.8


def test_mnist_trial_resumes_exactly(tmp_path):
    import mnist_trial
    root = mnist_root()
    kw = dict(root=root, train_size=640, test_size=500, batch_size=64, verbose=0)
    ckpt = str(tmp_path / "trial.pt")
    first = mnist_trial.main(epochs=1, checkpoint=ckpt, **kw)
    assert len(first) == 1 and os.path.exists(ckpt)
    resumed = mnist_trial.main(epochs=2, checkpoint=ckpt, resume=True, **kw)
    straight = mnist_trial.main(epochs=2, checkpoint=str(tmp_path / "other.pt"), **kw)
    assert len(resumed) == 2 and resumed[0] == first[0]
    for key in ("loss", "acc", "val_loss", "val_acc"):
        assert resumed[1][key] == pytest.approx(straight[1][key], rel=1e-6)
    assert resumed[1]["val_acc"] > 0.6
