"""The official PyTorch examples (tests/corpus/pytorch_examples, BSD-3) run unchanged through
`python -m diffprog.compat`, on short runs (see tests/corpus/run_corpus.py for what the
harness lays out: data folders, a smaller MNIST, a local word corpus). Full-run figures next
to PyTorch's: docs/compat.md."""
import math
import os
import sys

import pytest

from data import data_root

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "corpus"))
import run_corpus  # noqa: E402

NEEDS = {"mnist": ("MNIST", "raw"), "mnist_rnn": ("MNIST", "raw"), "vae": ("MNIST", "raw"),
         "siamese_network": ("MNIST", "raw"), "word_language_model": ("tinyshakespeare",),
         "word_language_model_transformer": ("tinyshakespeare",)}


@pytest.mark.parametrize("name", list(run_corpus.SCRIPTS))
def test_example_runs_unchanged(name, tmp_path):
    root = data_root(*NEEDS[name]) if name in NEEDS else os.environ.get("DIFFPROG_DATA")
    result = run_corpus.run(name, str(tmp_path), root, short=True, timeout=300)
    assert result["returncode"] == 0, result["output"][-4000:]
    figures = result["figures"]
    assert figures and all(v is not None and math.isfinite(v) for v in figures.values()), \
        (figures, result["output"][-2000:])
    if name == "regression":                 # the script stops once its loss is below 1e-3
        assert figures["loss"] < 1e-3
    if name.startswith("word_language_model"):
        assert figures["test_ppl"] == pytest.approx(math.exp(figures["test_loss"]), rel=0.01)
    assert "Traceback" not in result["output"]
