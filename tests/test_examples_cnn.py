"""The convolutional-network examples (examples/mnist_cnn.py, cifar_resnet.py,
transfer_learning.py, cnn_viz.py) on tiny settings: each must clearly learn or write
real pictures.  The full runs are documented in the examples' docstrings."""
import os
import sys

import numpy as np
import pytest

import diffprog as dp
from data import data_root  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)


def test_mnist_cnn_short_run_learns(tmp_path):
    import mnist_cnn
    out = mnist_cnn.main(data_root("MNIST", "raw"), epochs=2, train_size=512, test_size=500,
                         out=str(tmp_path), verbose=0)
    first, last = out["history"]
    assert last["loss"] < 0.8 * first["loss"]
    assert out["test_acc"] > 0.4                              # chance is 0.1
    model = mnist_cnn.make_model()
    model.load_state_dict(dp.load(out["checkpoint"]))         # the saved weights load back


def test_cifar_resnet_tiny_config_loss_drops(tmp_path):
    import cifar_resnet
    res = cifar_resnet.main(data_root("cifar10", "cifar10_subset.npz"), epochs=3, width=4,
                            batch_size=32, train_size=128, test_size=100, out=str(tmp_path),
                            verbose=0)
    for name in ("resnet", "mlp"):
        losses = [r["loss"] for r in res[name]["history"]]
        assert losses[-1] < losses[0] - 0.05, (name, losses)
        assert 0.0 <= res[name]["test_acc"] <= 1.0
    assert os.path.exists(tmp_path / "resnet18_w4.pt")


def test_resnet_width_scales_every_stage():
    from diffprog.vision.models import resnet18_cifar
    net = resnet18_cifar(width=8)
    assert [net.conv1.out_channels] + [getattr(net, f"layer{i}")[0].conv2.out_channels for i in (1, 2, 3, 4)] \
        == [8, 8, 16, 32, 64]
    assert sum(p.numel() for p in net.parameters()) == 176_402     # the example's default model
    assert tuple(net(dp.randn(2, 3, 32, 32)).shape) == (2, 10)
    assert {k: tuple(v.shape) for k, v in resnet18_cifar(width=64).state_dict().items()} == \
        {k: tuple(v.shape) for k, v in resnet18_cifar().state_dict().items()}


def test_transfer_learning_tiny_config(tmp_path):
    import transfer_learning
    res = transfer_learning.main(data_root("MNIST", "raw"), pretrain_size=600, pretrain_epochs=1,
                                 per_class=5, epochs=10, test_size=300, out=str(tmp_path),
                                 verbose=False)
    assert res["n_labels"] == 25
    assert res["pretrain_acc"] > 0.6                          # 5 classes: chance is 0.2
    for key in ("scratch", "linear_probe", "fine_tune"):
        assert res[key] > 0.3, (key, res)


def test_transfer_fine_tune_freezes_and_groups():
    """The fine-tuning recipe's pieces: a frozen first block gets no gradient."""
    import transfer_learning
    net = transfer_learning.Net(5)
    net.body[:4].requires_grad_(False)
    net.head = transfer_learning.make_head(5)
    dp.nn.functional.cross_entropy(net(dp.randn(4, 1, 28, 28)), dp.tensor([0, 1, 2, 3])).backward()
    assert net.body[0].weight.grad is None and net.body[4].weight.grad is not None
    assert net.head[-1].weight.grad is not None


def _png_pixels(path):
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path
    import matplotlib.image
    return matplotlib.image.imread(path)


def test_cnn_viz_writes_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    import cnn_viz
    res = cnn_viz.main(data_root("MNIST", "raw"), out=str(tmp_path), epochs=1, train_size=256,
                       verbose=False)
    names = {os.path.basename(f) for f in res["files"]}
    assert {"filters.png", "feature_maps.png", "input.png", "saliency.png", "gradcam.png",
            "graph.dot"} <= names
    for f in res["files"]:
        if f.endswith(".png"):
            pixels = _png_pixels(f)
            assert pixels.ndim == 3 and min(pixels.shape[:2]) > 20
            assert np.ptp(pixels[..., :3]) > 0.1, f             # not a blank picture
    dot = (tmp_path / "graph.dot").read_text()
    assert dot.startswith("digraph") and dot.count("ConvBackward") == 2 and "0.weight" in dot
    assert (tmp_path / "graph.svg").exists() == res["svg"]
