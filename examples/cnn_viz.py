"""Looking inside an MNIST CNN with `diffprog.viz`: first-layer filters, the feature maps of a
chosen layer (captured by a forward hook), a gradient saliency map, a Grad-CAM map, and the
autograd graph of one training loss.

    python examples/cnn_viz.py [--data-root DIR] [--checkpoint runs/mnist_cnn/mnist_cnn.pt] [--out runs/cnn_viz]

The network is mnist_cnn.py's.  With --checkpoint it loads those trained weights (the
file mnist_cnn.py writes); otherwise it trains one for `--epochs` on the first
`--train-size` images first.  For test image `--index` it writes, under OUT:

    filters.png       the 16 conv-1 filters (3x3, grey: dark = negative weight)
    feature_maps.png  the 32 channels after conv block 2's ReLU (layer "6", 14x14)
    input.png         the digit itself
    saliency.png      |d logit / d pixel| for the predicted class, over the digit
    gradcam.png       Grad-CAM of layer "6" for the predicted class, over the digit
    graph.dot         the autograd graph of the cross-entropy loss of a 2-image batch
    graph.svg         the same rendered by Graphviz, only when its `dot` program is installed

Run as documented: `python examples/cnn_viz.py --checkpoint runs/mnist_cnn/mnist_cnn.pt`
with the weights of mnist_cnn.py's --epochs 2 run (98.95% test accuracy); the weights
of its 12,000-image run (97.33%) gave pictures hard to tell apart from these.
Test image 0 is a 7, predicted 7.  What the pictures show: the 16 filters are 3x3 grey
edge/corner patterns; in feature_maps.png some channels light up only on the horizontal
bar of the 7 and others only on its diagonal stroke; the saliency map is brightest along
the stroke (speckled, as raw gradients are); Grad-CAM puts its heat on the lower diagonal
stroke.  Without --checkpoint (1 epoch on 2,000 images, 80.1% on 1,000 test images) the
same pictures come out blurrier and Grad-CAM highlights the background instead.
`dot` was not installed, so only graph.dot was written.
"""
import argparse
import os
import shutil

import diffprog as dp
import diffprog.nn.functional as F
from diffprog import viz

from mnist_cnn import load_mnist, main as train_mnist_cnn, make_model

LAYER = "6"         # the ReLU of the second conv block: 32 channels, 14 x 14


def main(root=None, checkpoint=None, out="runs/cnn_viz", index=0, epochs=1, train_size=2000,
         seed=0, verbose=True):
    """Write the pictures; returns {'files': [...], 'label', 'prediction', 'test_acc'
    (None with a checkpoint), 'svg': whether graph.svg was rendered}."""
    os.makedirs(out, exist_ok=True)
    test_acc = None
    if checkpoint is None:                     # train one briefly
        run = train_mnist_cnn(root, epochs=epochs, train_size=train_size, test_size=1000,
                              out=out, seed=seed, verbose=int(verbose))
        checkpoint, test_acc = run["checkpoint"], run["test_acc"]
    model = make_model()
    model.load_state_dict(dp.load(checkpoint))
    model.eval()
    xt, yt = load_mnist(root, train=False, size=index + 2)
    x, label = xt[index:index + 1], int(yt[index])
    with dp.no_grad():
        pred = int(model(x).argmax(1))

    files = [viz.plot_filters(model[0].weight, os.path.join(out, "filters.png"))]
    act = viz.feature_maps(model, LAYER, x)                 # (1, 32, 14, 14) via a forward hook
    files.append(viz.plot_feature_maps(act, os.path.join(out, "feature_maps.png")))
    files.append(viz.plot_heatmap(x[0], dp.zeros(28, 28), os.path.join(out, "input.png"), alpha=0))
    sal = viz.saliency(model, x, pred)[0]
    files.append(viz.plot_heatmap(x[0], sal / sal.max(), os.path.join(out, "saliency.png")))
    cam = viz.grad_cam(model, LAYER, x, pred)[0]
    files.append(viz.plot_heatmap(x[0], cam, os.path.join(out, "gradcam.png")))

    model.train()
    loss = F.cross_entropy(model(xt[:2]), yt[:2])
    dot = viz.make_dot(loss, params=dict(model.named_parameters()))
    files.append(viz.save_graph(dot, os.path.join(out, "graph.dot")))
    svg = shutil.which("dot") is not None
    if svg:
        files.append(viz.save_graph(dot, os.path.join(out, "graph.svg")))
    elif verbose:
        print("Graphviz `dot` not found: wrote graph.dot only (render it with `dot -Tsvg graph.dot`)")
    if verbose:
        print(f"test image {index}: label {label}, predicted {pred}; wrote " +
              ", ".join(os.path.basename(f) for f in files))
    return {"files": files, "label": label, "prediction": pred, "test_acc": test_acc, "svg": svg}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=None, help="folder holding MNIST/raw/ (default: $DIFFPROG_DATA)")
    p.add_argument("--checkpoint", default=None, help="mnist_cnn.py's weights (default: train briefly)")
    p.add_argument("--out", default="runs/cnn_viz")
    p.add_argument("--index", type=int, default=0, help="which test image to explain")
    p.add_argument("--epochs", type=int, default=1, help="training epochs without --checkpoint")
    p.add_argument("--train-size", type=int, default=2000, help="training images without --checkpoint")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    main(a.data_root, a.checkpoint, a.out, a.index, a.epochs, a.train_size, a.seed)
