"""`python -m diffprog demo`: the digits run reaches 95% test accuracy and writes its
learning curves and a checkpoint; quick runs, MNIST, and missing optional packages."""
import os
import subprocess
import sys

import pytest

import diffprog as dp
from diffprog.__main__ import main
from diffprog.demo import mlp, run

pytest.importorskip("sklearn")


def outputs(folder):
    png = os.path.join(folder, "learning_curves.png")
    return os.path.join(folder, "checkpoint.pt"), png


def test_digits_demo_accuracy_and_outputs(tmp_path, capsys):
    accuracy = run(out=str(tmp_path))
    assert accuracy >= 0.95
    text = capsys.readouterr().out
    assert f"test accuracy: {accuracy:.2%}" in text
    ckpt, png = outputs(tmp_path)
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    state = dp.load(ckpt)
    assert len(state["history"]) == 20
    model = mlp(64, 256)
    model.load_state_dict(state["model"])           # the checkpoint holds this network
    assert state["history"][-1]["val_acc"] == pytest.approx(accuracy)


def test_command_line_quick(tmp_path):
    out = subprocess.run([sys.executable, "-m", "diffprog", "demo", "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "test accuracy" in out.stdout
    assert all(os.path.exists(p) for p in outputs(tmp_path))


def test_without_sklearn(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(SystemExit, match=r"scikit-learn.*diffprog\[demo\]"):
        main(["demo", "--quick", "--out", str(tmp_path)])


def test_without_tqdm_and_matplotlib(tmp_path, monkeypatch, capsys):
    for name in ("tqdm", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "tqdm is not installed" in text and "matplotlib is not installed" in text
    ckpt, png = outputs(tmp_path)
    assert os.path.exists(ckpt) and not os.path.exists(png)


def test_mnist_missing_data_says_where(tmp_path):
    with pytest.raises(SystemExit, match="MNIST/raw"):
        main(["demo", "--dataset", "mnist", "--data-root", str(tmp_path), "--out", str(tmp_path)])


def test_mnist_quick(tmp_path):
    root = os.environ.get("DIFFPROG_DATA")
    if not root or not os.path.isdir(os.path.join(root, "MNIST", "raw")):
        pytest.skip("needs DIFFPROG_DATA pointing at a folder with MNIST/raw/")
    accuracy = run("mnist", root, out=str(tmp_path), quick=True)
    assert accuracy > 0.8                                   # 50 steps of batch 128
    assert all(os.path.exists(p) for p in outputs(tmp_path))
