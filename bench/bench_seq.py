"""Sequence-model benchmarks, diffprog vs PyTorch: ms per Adam training step of

1. a character LSTM language model: vocab 65, embedding 64, one LSTM layer of 256 units,
   a Linear head, cross entropy; sequences of 64 characters, batch 32; the same with a GRU
   layer and with an Elman RNN (tanh) layer;
2. a Transformer language model: vocab 65, learned positions, d_model 128, 4 heads,
   2 nn.TransformerEncoder layers (batch_first, causal mask, dim_feedforward 512,
   default dropout 0.1), a Linear head, cross entropy; sequences of 64, batch 32.

    python bench/bench_seq.py [--threads 1,2]

The same model code runs on both sides (`lib` is `diffprog` or `torch`), and the
diffprog model starts from the PyTorch model's weights (state dicts are compatible).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from runner import add_threads_option, compare, pin_threads, trainer  # noqa: E402

VOCAB, SEQ, BATCH = 65, 64, 32


def char_rnn(kind):
    """A builder of the character LM with an `kind` ("LSTM", "GRU" or "RNN") layer."""
    def build(lib):
        nn = lib.nn

        class CharRNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(VOCAB, 64)
                self.rnn = getattr(nn, kind)(64, 256, batch_first=True)
                self.head = nn.Linear(256, VOCAB)

            def forward(self, x):
                return self.head(self.rnn(self.embed(x))[0])
        return CharRNN()
    return build


def transformer_lm(lib):
    nn = lib.nn

    class TransformerLM(nn.Module):
        def __init__(self, d=128):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, d)
            self.pos = nn.Parameter(lib.randn(SEQ, d) * 0.02)
            layer = nn.TransformerEncoderLayer(d, 4, dim_feedforward=512, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2)
            self.head = nn.Linear(d, VOCAB)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(SEQ))

        def forward(self, x):
            h = self.embed(x) + self.pos[:x.shape[1]]
            return self.head(self.encoder(h, mask=self.mask, is_causal=True))
    return TransformerLM()


def bench(name, build):
    import diffprog as dp
    import torch
    torch.manual_seed(0)
    th_model = build(torch)
    dp_model = build(dp)
    dp_model.load_state_dict({k: dp.tensor(v.detach().numpy()) for k, v in th_model.state_dict().items()})
    rng = np.random.default_rng(0)
    ids = rng.integers(0, VOCAB, (BATCH, SEQ + 1))
    x, y = ids[:, :-1], ids[:, 1:]
    dp_step, th_step = trainer(dp, dp_model), trainer(torch, th_model)
    xd, yd, xt, yt = dp.tensor(x), dp.tensor(y), torch.tensor(x), torch.tensor(y)
    return compare(name, lambda: dp_step(xd, yd), lambda: th_step(xt, yt), number=5, rounds=7,
                   unit="ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads_option(parser)
    parser.add_argument("--only", choices=["lstm", "gru", "rnn", "transformer"])
    args = parser.parse_args()
    import diffprog as dp
    import torch
    for threads in args.threads:
        print(f"diffprog {dp.__version__}, torch {torch.__version__}, {pin_threads(threads)}")
        for kind in ("LSTM", "GRU", "RNN"):
            if args.only in (None, kind.lower()):
                bench(f"Char {kind} LM step (65/64/256, T 64, B 32)", char_rnn(kind))
        if args.only in (None, "transformer"):
            bench("Transformer LM step (d 128, 2 layers, T 64, B 32)", transformer_lm)


if __name__ == "__main__":
    main()
