"""Sentence polarity (movie-review sentences, Pang & Lee 2005) with a biLSTM or Kim's CNN.

    python examples/sentiment.py --model lstm|cnn [--data-root DIR] [--epochs 10]
        [--embed-dim 128] [--lr 1e-3] [--dropout 0.5] [--glove FILE] [--freeze]
        [--out runs/sentiment]

Data: root/rt-polarity/rt-polarity.{pos,neg} (Latin-1), root from --data-root or
DIFFPROG_DATA.  Split: `SentencePolarity`'s seeded (seed 0) 90/10 train/test split, and
1/9 of the training part (seed 0) held out for validation: 8,530 train / 1,066 validation
/ 1,066 test sentences.  torchtext's basic_english tokenizer, a Vocab of the training
words seen at least twice plus <pad> (0) and <unk> (1), batches of 64 sentences of similar
length (BucketBatchSampler + pad_collate), Adam, cross entropy.  After each epoch the
validation accuracy is measured; training stops when it has not improved for
`--patience` (2) epochs and the test accuracy is that of the best validation epoch,
whose weights are saved to OUT/<model>.pt.

--glove FILE initialises the embedding rows of the words the file has (GloVe text format,
plain or .gz; --embed-dim must match its dimension) and draws the others from N(0, 1).
The samples in /work/shared/data/glove hold only 100 (76) frequent words each, of which
88 (66) are in the 8,830-word vocabulary -- mostly stop words and punctuation -- too few
to matter, so the documented runs below use randomly initialised embeddings ("CNN-rand"
in Kim's paper: 76.1% on this data set with 10-fold cross-validation).  The Kim CNN
starts its embeddings at U(-0.25, 0.25) as Kim did; the LSTM keeps nn.Embedding's N(0, 1)
and applies its dropout to the embeddings as well as before the classifier.

Full runs (embed 128, seed 0, Adam, batch 64, at most 10 epochs, patience 2), measured on
the development machine while it was heavily shared (2 cores, load average about 20, 1
BLAS thread), so the times are pessimistic:

    python examples/sentiment.py --model cnn
        validation accuracy per epoch: 64.07, 75.70, 76.55, 76.17, 74.86% (stopped)
        test accuracy 76.17% (best validation epoch 3), 80-150 s per epoch
    python examples/sentiment.py --model lstm --lr 3e-3
        validation accuracy per epoch: 59.19, 66.98, 72.89, 74.77, 77.02, 76.55, 76.74%
        (stopped); test accuracy 74.95% (best validation epoch 5), 75-210 s per epoch

(1-layer biLSTM with 128 hidden units per direction; Kim CNN with filter widths 3, 4, 5
and 100 maps each; dropout 0.5.)  With the LSTM's default lr 1e-3 and without the
embedding dropout the LSTM overfits (train loss 0.05 by epoch 7) and reached only 71.29%
test accuracy (validation 73.26%); the Kim CNN with N(0, 1) embeddings reached 69.23%
(lr 1e-3) and 72.89% (lr 3e-3): the embeddings' scale matters for Adam's step size.
Set OPENBLAS_NUM_THREADS=1 (or threadpoolctl) on a busy machine: the convolutions' small
batched matrix products were ~100x slower with OpenBLAS's default threads there.
"""
import argparse
import os
import time

import numpy as np

import diffprog as dp
import diffprog.nn.functional as F
from diffprog.models import KimCNN, LSTMClassifier
from diffprog.text import (BucketBatchSampler, SentencePolarity, basic_english,
                           build_vocab_from_iterator, embedding_from_vectors, load_vectors,
                           pad_collate)
from diffprog.utils.data import DataLoader

PAD, UNK = 0, 1


def load_data(root=None, seed=0, min_freq=2, train_size=None):
    """(vocab, train, validation, test): the splits are lists of (token ids, label)."""
    train = SentencePolarity(root, split="train", seed=seed).samples
    test = SentencePolarity(root, split="test", seed=seed).samples
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = len(train) // 9
    val, train = [train[i] for i in order[:n_val]], [train[i] for i in order[n_val:]]
    if train_size:
        train = train[:train_size]
    vocab = build_vocab_from_iterator((basic_english(t) for t, _ in train), min_freq=min_freq,
                                      specials=["<pad>", "<unk>"])
    vocab.set_default_index(UNK)

    def encode(samples):
        return [(vocab(tokens), label) for tokens, label in
                ((basic_english(t), label) for t, label in samples) if tokens]
    return vocab, encode(train), encode(val), encode(test)


def loader(samples, batch_size, shuffle):
    """Batches of similar-length sentences: (ids (B, T), lengths (B,), labels (B,))."""
    sampler = BucketBatchSampler([len(s) for s, _ in samples], batch_size, shuffle=shuffle)
    return DataLoader(samples, batch_sampler=sampler, collate_fn=pad_collate)


def make_model(name, vocab, embed_dim=128, hidden=128, dropout=0.5, glove=None, freeze=False):
    """An LSTMClassifier ("lstm") or KimCNN ("cnn"), with GloVe rows where `glove` is given."""
    pretrained = None
    if glove:
        pretrained = embedding_from_vectors(vocab, load_vectors(glove), unk_init="normal",
                                            padding_idx=PAD).weight.detach()
        pretrained[PAD] = 0.0
    if name == "lstm":
        return LSTMClassifier(len(vocab), embed_dim, hidden, dropout=dropout, padding_idx=PAD,
                              pretrained=pretrained, freeze=freeze)
    if name == "cnn":
        return KimCNN(len(vocab), embed_dim, dropout=dropout, padding_idx=PAD, pretrained=pretrained,
                      freeze=freeze)
    raise ValueError(f"unknown model {name!r}; use 'lstm' or 'cnn'")


def train_epoch(model, batches, optimizer):
    model.train()
    total, count = 0.0, 0
    for ids, lengths, labels in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(ids, lengths), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        count += len(labels)
    return total / count


@dp.no_grad()
def accuracy(model, batches):
    model.eval()
    correct = count = 0
    for ids, lengths, labels in batches:
        correct += (model(ids, lengths).argmax(1) == labels).sum().item()
        count += len(labels)
    return correct / count


def main(model="lstm", root=None, epochs=10, embed_dim=128, hidden=128, lr=1e-3, batch_size=64,
         patience=2, seed=0, train_size=None, glove=None, freeze=False, out="runs/sentiment",
         dropout=0.5, verbose=True):
    """Train with early stopping on validation; returns a dict of the figures."""
    dp.manual_seed(seed)
    vocab, train, val, test = load_data(root, seed, train_size=train_size)
    net = make_model(model, vocab, embed_dim, hidden, dropout, glove, freeze)
    optimizer = dp.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    train_batches = loader(train, batch_size, True)
    val_batches, test_batches = loader(val, 256, False), loader(test, 256, False)
    history, best, best_state, waited = [], -1.0, None, 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(net, train_batches, optimizer)
        seconds = time.perf_counter() - start
        val_acc = accuracy(net, val_batches)
        history.append({"epoch": epoch, "train_loss": loss, "val_acc": val_acc, "seconds": seconds})
        if verbose:
            print(f"epoch {epoch}: train loss {loss:.4f}  validation accuracy {val_acc:.2%}  "
                  f"({seconds:.1f} s)", flush=True)
        if val_acc > best:
            best, best_epoch, waited = val_acc, epoch, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    net.load_state_dict(best_state)
    test_acc = accuracy(net, test_batches)
    os.makedirs(out, exist_ok=True)
    dp.save(best_state, os.path.join(out, f"{model}.pt"))
    if verbose:
        print(f"test accuracy {test_acc:.2%} (epoch {best_epoch}, validation {best:.2%})")
    return {"test_acc": test_acc, "val_acc": best, "best_epoch": best_epoch,
            "train_acc": accuracy(net, loader(train, 256, False)), "history": history,
            "vocab_size": len(vocab), "model": net}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["lstm", "cnn"], default="lstm")
    p.add_argument("--data-root", default=None, help="folder holding rt-polarity/ (default: $DIFFPROG_DATA)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--embed-dim", type=int, default=128)
    p.add_argument("--hidden", type=int, default=128, help="LSTM hidden units per direction")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--patience", type=int, default=2, help="epochs without validation gain before stopping")
    p.add_argument("--train-size", type=int, default=None, help="use only the first N training sentences")
    p.add_argument("--glove", default=None, help="GloVe text file (.txt or .txt.gz) to initialise embeddings")
    p.add_argument("--freeze", action="store_true", help="keep the GloVe-initialised embeddings fixed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/sentiment")
    return p.parse_args(argv)


if __name__ == "__main__":
    a = parse_args()
    main(a.model, a.data_root, a.epochs, a.embed_dim, a.hidden, a.lr, a.batch_size, a.patience,
         a.seed, a.train_size, a.glove, a.freeze, a.out, a.dropout)
