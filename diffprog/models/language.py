"""Autoregressive language models over token ids -- a character RNN and a small decoder-only
transformer -- and `generate`, the sampling loop both share (temperature, top-k, multinomial).

Both models map (batch, time) int64 ids to (batch, time, vocab) next-token logits; CharRNN
also takes and returns its recurrent state so text can be produced one step at a time.
"""
from .. import nn
from ..autograd.grad_mode import no_grad
from ..ops import cat
from ..random import multinomial
from .positional import LearnedPositionalEncoding, SinusoidalPositionalEncoding

__all__ = ["CharRNN", "TransformerLM", "generate"]


class CharRNN(nn.Module):
    """Embedding -> LSTM (or GRU) -> Linear: `forward(ids, hidden=None)` returns
    (logits (batch, time, vocab), new hidden state)."""

    def __init__(self, vocab_size, embed_dim=64, hidden_size=256, num_layers=1, dropout=0.0, cell="lstm"):
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}.get(cell)
        if rnn is None:
            raise ValueError(f"CharRNN: cell must be 'lstm' or 'gru', got {cell!r}")
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = rnn(embed_dim, hidden_size, num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, hidden=None):
        out, hidden = self.rnn(self.embed(ids), hidden)
        return self.head(out), hidden


class TransformerLM(nn.Module):
    """Decoder-only transformer: token embedding + positional encoding ("learned" table or fixed
    "sinusoidal"), a causally masked nn.TransformerEncoder (pre-norm, batch_first), a final
    LayerNorm and a Linear head. Sequences may be at most `context` tokens long; `generate`
    crops longer prompts."""

    def __init__(self, vocab_size, context=128, d_model=128, nhead=4, num_layers=2, dim_feedforward=None,
                 dropout=0.1, positional="learned"):
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab_size, d_model)
        if positional == "learned":
            self.pos = LearnedPositionalEncoding(context, d_model, dropout, batch_first=True)
        elif positional == "sinusoidal":
            self.pos = SinusoidalPositionalEncoding(d_model, context, dropout, batch_first=True)
        else:
            raise ValueError(f"TransformerLM: positional must be 'learned' or 'sinusoidal', got {positional!r}")
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward or 4 * d_model, dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context), persistent=False)

    def forward(self, ids):
        t = ids.shape[1]
        if t > self.context:
            raise ValueError(f"TransformerLM: sequence length {t} exceeds the context {self.context}")
        x = self.blocks(self.pos(self.embed(ids)), mask=self.mask[:t, :t], is_causal=True)
        return self.head(self.norm(x))


@no_grad()
def generate(model, prompt_ids, length, temperature=1.0, top_k=None, generator=None):
    """Extend `prompt_ids` ((batch, time) or (time,) int64) by `length` sampled tokens and
    return the whole sequence. Each step divides the last logits by `temperature`, keeps the
    `top_k` largest (the rest get probability 0), and draws from the softmax. A model with a
    `context` attribute (TransformerLM) re-reads its last `context` tokens each step; any other
    (CharRNN) is called as model(ids, hidden) -> (logits, hidden), one new token at a time."""
    if temperature <= 0:
        raise ValueError(f"generate: temperature must be positive, got {temperature}")
    squeeze = prompt_ids.ndim == 1
    ids = prompt_ids.reshape(1, -1) if squeeze else prompt_ids
    was_training = model.training
    model.eval()
    recurrent = not hasattr(model, "context")
    hidden, step_in = None, ids
    for _ in range(length):
        if recurrent:
            logits, hidden = model(step_in, hidden)
        else:
            logits = model(ids[:, -model.context:])
        logits = logits[:, -1] / temperature
        if top_k is not None and top_k < logits.shape[-1]:
            kth = logits.topk(top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        step_in = multinomial(logits.softmax(-1), 1, generator=generator)
        ids = cat([ids, step_in], 1)
    model.train(was_training)
    return ids[0] if squeeze else ids
