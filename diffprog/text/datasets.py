"""Text datasets: character language modelling on any text file (Tiny Shakespeare by
default), sentence polarity (Pang & Lee 2005) and IMDB reviews (Maas et al. 2011).

Files are read from `root` (None reads the DIFFPROG_DATA environment variable); nothing is
downloaded. Classification datasets return (text, label) with label 1 = positive, 0 = negative.
"""
import os

import numpy as np

from ..creation import from_numpy
from ..utils.data import Dataset
from ..vision.datasets.utils import resolve_root
from .tokenizers import CharTokenizer

__all__ = ["CharCorpus", "SentencePolarity", "IMDB"]


def _need(path, dataset):
    if not os.path.exists(path):
        raise RuntimeError(f"{dataset}: {path} not found")
    return path


class CharCorpus(Dataset):
    """(input, target) int64 sequences of `seq_len` characters from a text file, the target
    being the input shifted by one character. Windows start every `stride` characters
    (default `seq_len`: non-overlapping). `tokenizer` defaults to a CharTokenizer of the
    whole file (pass the training set's to encode another file the same way).
    `path` None reads $DIFFPROG_DATA/tinyshakespeare/input.txt."""

    def __init__(self, path=None, seq_len=100, stride=None, tokenizer=None, encoding="utf-8"):
        if path is None:
            path = os.path.join(resolve_root(None, "CharCorpus"), "tinyshakespeare", "input.txt")
        with open(_need(path, "CharCorpus"), encoding=encoding) as f:
            self.text = f.read()
        if seq_len < 1 or (stride is not None and stride < 1):
            raise ValueError(f"CharCorpus: seq_len and stride must be positive, got {seq_len}, {stride}")
        self.seq_len, self.stride = seq_len, stride or seq_len
        self.tokenizer = tokenizer or CharTokenizer(self.text)
        self.data = np.array(self.tokenizer.encode(self.text), dtype=np.int64)

    @property
    def vocab_size(self):
        return len(self.tokenizer)

    def __len__(self):
        return max(0, (len(self.data) - 1 - self.seq_len) // self.stride + 1)

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"CharCorpus: index {index} out of range for {len(self)} sequences")
        start = index * self.stride
        window = self.data[start:start + self.seq_len + 1]
        return from_numpy(window[:-1].copy()), from_numpy(window[1:].copy())


def _split(items, split, test_fraction, seed, dataset):
    """The "train"/"test" part of a seeded shuffle of `items`, or all of them for "all"."""
    if split == "all":
        return items
    if split not in ("train", "test"):
        raise ValueError(f"{dataset}: split must be 'train', 'test' or 'all', got {split!r}")
    order = np.random.default_rng(seed).permutation(len(items))
    n_test = int(round(len(items) * test_fraction))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    return [items[i] for i in chosen]


class _TextClassification(Dataset):
    def __init__(self, samples, transform, target_transform):
        self.samples, self.transform, self.target_transform = samples, transform, target_transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        text, label = self.samples[index]
        if self.transform is not None:
            text = self.transform(text)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return text, label

    @property
    def targets(self):
        return [label for _, label in self.samples]


class SentencePolarity(_TextClassification):
    """Movie-review sentence polarity v1.0: 5,331 positive and 5,331 negative sentences read
    from root/rt-polarity/rt-polarity.{pos,neg} (Latin-1). `split` "train"/"test" takes a
    shuffle seeded by `seed` with `test_fraction` of the sentences held out; "all" keeps
    the file order (positives first)."""

    def __init__(self, root=None, split="train", test_fraction=0.1, seed=0, transform=None,
                 target_transform=None):
        folder = os.path.join(resolve_root(root, "SentencePolarity"), "rt-polarity")
        samples = []
        for name, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
            with open(_need(os.path.join(folder, name), "SentencePolarity"), encoding="latin-1") as f:
                samples += [(line.strip(), label) for line in f if line.strip()]
        super().__init__(_split(samples, split, test_fraction, seed, "SentencePolarity"),
                         transform, target_transform)


class IMDB(_TextClassification):
    """IMDB reviews from root/aclImdb/{train,test}/{pos,neg}/*.txt (UTF-8), in sorted file
    order, negatives first."""

    def __init__(self, root=None, split="train", transform=None, target_transform=None):
        if split not in ("train", "test"):
            raise ValueError(f"IMDB: split must be 'train' or 'test', got {split!r}")
        base = os.path.join(resolve_root(root, "IMDB"), "aclImdb", split)
        samples = []
        for name, label in (("neg", 0), ("pos", 1)):
            folder = _need(os.path.join(base, name), "IMDB")
            for file in sorted(f for f in os.listdir(folder) if f.endswith(".txt")):
                with open(os.path.join(folder, file), encoding="utf-8") as f:
                    samples.append((f.read(), label))
        super().__init__(samples, transform, target_transform)
