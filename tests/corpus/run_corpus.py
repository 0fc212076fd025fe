"""Run the official PyTorch examples in tests/corpus/pytorch_examples unchanged, on diffprog
through `python -m diffprog.compat` (or on PyTorch itself with --torch), and report each
one's figures.

    python tests/corpus/run_corpus.py --work /tmp/corpus [--short] [--torch] [NAME ...]

What the harness does, and nothing else: each script runs in its own folder `WORK/NAME`
(so `'../data'`, the path the MNIST scripts use, is `WORK/data`), with the command-line
flags listed in SCRIPTS. It lays out the data the scripts expect there: `WORK/data/MNIST/raw`
(links to DIFFPROG_DATA's MNIST files; `--short` writes the first 2,000 training and 500
test images instead, in the same IDX format), `results/` for the VAE's images, and a
word-level corpus (`train.txt`, `valid.txt`, `test.txt`, cut from Tiny Shakespeare) for the
word language model; for the sine-wave example it runs the example's generate_sine_wave.py
(`--short`: writes the same waves, 8 of 200 samples, itself). Figures are read from the
scripts' own printed lines.

On PyTorch (--torch), the MNIST CNN, MNIST RNN and VAE examples get the torchvision parts
they use from `torchvision_standin/` (torchvision itself cannot be installed next to this
PyTorch build); the siamese network and DCGAN need more of torchvision and are not run there.
"""
import argparse
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "pytorch_examples")
ROOT = os.path.dirname(os.path.dirname(HERE))

# name: (script, flags of a short run, flags of the documented run, what to read)
SCRIPTS = {
    "mnist": ("mnist/main.py", ["--epochs", "1", "--dry-run"], ["--epochs", "1"], "test"),
    "mnist_rnn": ("mnist_rnn/main.py", ["--epochs", "1", "--dry-run"], ["--epochs", "1"], "test"),
    "vae": ("vae/main.py", ["--epochs", "1"], ["--epochs", "3"], "vae"),
    "regression": ("regression/main.py", [], [], "regression"),
    "time_sequence_prediction": ("time_sequence_prediction/train.py", ["--steps", "1"],
                                 ["--steps", "3"], "sine"),
    "siamese_network": ("siamese_network/main.py", ["--epochs", "1", "--dry-run"],
                        ["--epochs", "1", "--dry-run"], "test"),
    "word_language_model": ("word_language_model/main.py",
                            ["--data", "corpus", "--epochs", "1", "--dry-run"],
                            ["--data", "corpus", "--epochs", "1"], "wlm"),
    "word_language_model_transformer": (
        "word_language_model/main.py",
        ["--data", "corpus", "--epochs", "1", "--dry-run", "--model", "Transformer", "--lr", "5"],
        ["--data", "corpus", "--epochs", "1", "--model", "Transformer", "--lr", "5"], "wlm"),
    "dcgan": ("dcgan/main.py", ["--dataset", "fake", "--dry-run", "--niter", "1", "--workers", "0"],
              ["--dataset", "fake", "--niter", "1", "--workers", "0"], "dcgan"),
}

MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return raw[:4], dims, raw[4 + 4 * ndim:]


def _write_idx(path, magic, dims, body):
    with gzip.open(path, "wb") as f:
        f.write(magic + struct.pack(f">{len(dims)}I", *dims) + body)


def prepare_mnist(work, source, short, train_images=None):
    """WORK/data/MNIST/raw: links to the real files, or their first images (--short: 2,000
    training and 500 test images; --train-images N: the first N training images)."""
    raw = os.path.join(work, "data", "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for name in MNIST_FILES:
        src, dst = os.path.join(source, "MNIST", "raw", name), os.path.join(raw, name)
        if os.path.lexists(dst):
            os.remove(dst)
        n = (2000 if name.startswith("train") else 500) if short else \
            (train_images if name.startswith("train") else None)
        if n is None:
            os.symlink(src, dst)
            continue
        magic, dims, body = _read_idx(src)
        per = 1
        for d in dims[1:]:
            per *= d
        _write_idx(dst, magic, (n,) + tuple(dims[1:]), body[:n * per])


def prepare_corpus(folder, source, short, corpus_lines=None):
    """A word-level train / valid / test split of Tiny Shakespeare's non-empty lines (80/10/10;
    --short: the first 1,500 lines, --corpus-lines N: the first N)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(source, "tinyshakespeare", "input.txt"), encoding="utf-8") as f:
        lines = [ln for ln in f.read().split("\n") if ln.strip()]
    lines = lines[:1500] if short else lines[:corpus_lines]
    a, b = int(len(lines) * 0.8), int(len(lines) * 0.9)
    for name, part in (("train", lines[:a]), ("valid", lines[a:b]), ("test", lines[b:])):
        with open(os.path.join(folder, f"{name}.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(part) + "\n")


def prepare_sine(folder, torch):
    """traindata.pt as the example's generate_sine_wave.py makes it (np.random.seed(2), T=20),
    for 8 waves of 200 samples instead of 100 of 1,000 (--short)."""
    import numpy as np
    rng = np.random.RandomState(2)
    n, length, period = 8, 200, 20
    x = np.arange(length) + rng.randint(-4 * period, 4 * period, n).reshape(n, 1)
    data = np.sin(x / 1.0 / period).astype("float64")
    if torch:
        import torch as lib
    else:
        import diffprog as lib
    lib.save(data, os.path.join(folder, "traindata.pt"))


def prepare(work, name, data, short, torch=False, train_images=None, corpus_lines=None):
    folder = os.path.join(work, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    shutil.copytree(os.path.join(EXAMPLES, os.path.dirname(SCRIPTS[name][0])), folder)
    if name in ("mnist", "mnist_rnn", "vae", "siamese_network"):
        prepare_mnist(work, data, short, train_images)
    if name == "vae":
        os.makedirs(os.path.join(folder, "results"), exist_ok=True)
    if name.startswith("word_language_model"):
        prepare_corpus(os.path.join(folder, "corpus"), data, short, corpus_lines)
    if name == "time_sequence_prediction" and short:
        prepare_sine(folder, torch)
    return folder


def runner(torch):
    return [sys.executable] if torch else [sys.executable, "-m", "diffprog.compat"]


def command(name, short, torch, extra=()):
    script, short_flags, full_flags, _ = SCRIPTS[name]
    return runner(torch) + [os.path.basename(script)] + (short_flags if short else full_flags) + \
        list(extra)


def figures(kind, out):
    """The last figures the script printed."""
    def last(pattern, cast=float):
        found = re.findall(pattern, out)
        return cast(found[-1]) if found else None
    if kind == "test":
        loss = last(r"Test set: Average loss: ([-\d.]+)")
        acc = last(r"Accuracy: \d+/\d+ \(([\d.]+)%\)")
        return {"test_loss": loss, "accuracy_%": acc}
    if kind == "vae":
        return {"train_loss": last(r"Average loss: ([-\d.]+)"), "test_loss": last(r"Test set loss: ([-\d.]+)")}
    if kind == "regression":
        return {"loss": last(r"Loss: ([-\d.e]+) after"), "batches": last(r"after (\d+) batches", int)}
    if kind == "sine":
        return {"test_loss": last(r"test loss: ([-\d.e]+)")}
    if kind == "wlm":
        return {"valid_loss": last(r"valid loss\s+([-\d.]+)"), "test_loss": last(r"test loss\s+([-\d.]+)"),
                "test_ppl": last(r"test ppl\s+([-\d.]+)")}
    if kind == "dcgan":
        return {"loss_D": last(r"Loss_D: ([-\d.]+)"), "loss_G": last(r"Loss_G: ([-\d.]+)")}
    return {}


def run(name, work, data, short=True, torch=False, timeout=None, train_images=None,
        corpus_lines=None, extra=()):
    folder = prepare(work, name, data, short, torch, train_images, corpus_lines)
    path = [ROOT] + ([os.path.join(HERE, "torchvision_standin")] if torch else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path + [os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg")
    if name == "time_sequence_prediction" and not short:   # the example's own data step
        subprocess.run(runner(torch) + ["generate_sine_wave.py"], cwd=folder, env=env, check=True,
                       capture_output=True, timeout=timeout)
    start = time.time()
    log = os.path.join(folder, "output.txt")            # written as the script runs
    with open(log, "w") as f:
        proc = subprocess.run(command(name, short, torch, extra), cwd=folder, env=env, stdout=f,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
    seconds = time.time() - start
    with open(log) as f:
        out = f.read()
    return {"name": name, "returncode": proc.returncode, "seconds": round(seconds, 1),
            "figures": figures(SCRIPTS[name][3], out), "output": out}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", default=list(SCRIPTS))
    ap.add_argument("--work", required=True, help="a scratch folder")
    ap.add_argument("--data", default=os.environ.get("DIFFPROG_DATA"), help="the data root")
    ap.add_argument("--short", action="store_true", help="the short runs of the tests")
    ap.add_argument("--torch", action="store_true", help="run on PyTorch instead of diffprog")
    ap.add_argument("--train-images", type=int, help="MNIST: only the first N training images")
    ap.add_argument("--corpus-lines", type=int, help="word corpus: only the first N lines")
    ap.add_argument("--flags", default="", help="more flags for the scripts, e.g. '--seed 2'")
    ap.add_argument("--json", help="append each result here (one JSON object a line)")
    args = ap.parse_args(argv)
    for name in args.names:
        r = run(name, os.path.abspath(args.work), args.data, args.short, args.torch,
                train_images=args.train_images, corpus_lines=args.corpus_lines,
                extra=args.flags.split())
        print(f"{name}: exit {r['returncode']}, {r['seconds']} s, {r['figures']}", flush=True)
        if r["returncode"]:
            print(r["output"][-3000:])
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps({k: v for k, v in r.items() if k != "output"} |
                                   {"torch": args.torch, "short": args.short,
                                    "train_images": args.train_images,
                                    "corpus_lines": args.corpus_lines,
                                    "flags": args.flags}) + "\n")


if __name__ == "__main__":
    main()
