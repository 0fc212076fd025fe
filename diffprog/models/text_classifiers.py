"""Sentence classifiers over padded batches of token ids: a (bi)LSTM that reads packed
sequences and Kim's (2014) CNN with max-over-time pooling. Both ignore padding: the
LSTM packs the batch with the true lengths and the CNN masks windows that start in the
padding, so adding padding to a batch does not change a sentence's logits."""
from ..autograd.grad_mode import no_grad
from ..creation import arange
from ..ops.shape import cat
from .. import nn
from ..nn import functional as F
from ..nn.utils.rnn import pack_padded_sequence

__all__ = ["LSTMClassifier", "KimCNN"]


def _embedding(vocab_size, embed_dim, padding_idx, pretrained, freeze):
    """nn.Embedding, or one holding the pretrained (V, D) tensor (trainable unless freeze)."""
    if pretrained is None:
        return nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
    if tuple(pretrained.shape) != (vocab_size, embed_dim):
        raise ValueError(f"pretrained embeddings of shape {tuple(pretrained.shape)} do not match "
                         f"vocab_size={vocab_size}, embed_dim={embed_dim}")
    return nn.Embedding.from_pretrained(pretrained, freeze=freeze, padding_idx=padding_idx)


def _lengths(ids, lengths, padding_idx):
    """The given lengths, else the number of non-padding tokens of each row (at least 1)."""
    if lengths is not None:
        return lengths
    if padding_idx is None:
        return None
    return (ids != padding_idx).sum(1).clamp(min=1)


class LSTMClassifier(nn.Module):
    """Embedding -> dropout -> (bi)LSTM over the packed batch -> last layer's final hidden
    state(s) (forward and backward concatenated) -> dropout -> Linear.

    forward(ids (B, T) int64, lengths (B,) or None) -> logits (B, num_classes). Without
    `lengths`, they are counted as the tokens that are not `padding_idx`."""

    def __init__(self, vocab_size, embed_dim=128, hidden_size=128, num_classes=2, num_layers=1,
                 bidirectional=True, dropout=0.5, padding_idx=0, pretrained=None, freeze=False):
        super().__init__()
        self.padding_idx = padding_idx
        self.embedding = _embedding(vocab_size, embed_dim, padding_idx, pretrained, freeze)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, ids, lengths=None):
        x = self.dropout(self.embedding(ids))
        lengths = _lengths(ids, lengths, self.padding_idx)
        if lengths is not None:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(x)
        directions = 2 if self.lstm.bidirectional else 1
        h = cat(list(h_n[-directions:]), 1)          # the last layer's directions
        return self.fc(self.dropout(h))


class KimCNN(nn.Module):
    """Kim (2014): embedding (U(-0.25, 0.25) unless pretrained) -> parallel Conv1d with `kernel_sizes` (3, 4, 5) and
    `num_filters` (100) maps each -> ReLU -> max over time -> concatenation -> dropout
    (0.5) -> Linear.

    forward(ids (B, T) int64, lengths (B,) or None) -> logits (B, num_classes). The
    sequences are zero-padded on the right by max(kernel_sizes) - 1 steps, so every token
    starts a window, even in sentences shorter than a filter; windows starting in the
    padding (at or after `lengths`, or at `padding_idx` tokens without lengths) are left
    out of the max, so the logits do not depend on how much padding a batch has."""

    def __init__(self, vocab_size, embed_dim=128, num_classes=2, kernel_sizes=(3, 4, 5),
                 num_filters=100, dropout=0.5, padding_idx=0, pretrained=None, freeze=False):
        super().__init__()
        self.padding_idx, self.kernel_sizes = padding_idx, tuple(kernel_sizes)
        self.embedding = _embedding(vocab_size, embed_dim, padding_idx, pretrained, freeze)
        if pretrained is None:                                 # Kim's U(-0.25, 0.25) vectors
            with no_grad():
                self.embedding.weight.uniform_(-0.25, 0.25)
                if padding_idx is not None:
                    self.embedding.weight[padding_idx] = 0.0
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, num_filters, k) for k in self.kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(self.kernel_sizes), num_classes)

    def forward(self, ids, lengths=None):
        T = ids.shape[1]
        x = self.embedding(ids).transpose(1, 2)               # (B, D, T)
        x = F.pad(x, (0, max(self.kernel_sizes) - 1))
        lengths = _lengths(ids, lengths, self.padding_idx)
        # windows at t >= length are zeroed: ReLU outputs are >= 0, so the max is unchanged
        keep = None if lengths is None else (arange(T) < lengths[:, None]).unsqueeze(1)
        pooled = []
        for conv in self.convs:
            h = F.relu(conv(x)[:, :, :T])                      # (B, num_filters, T)
            if keep is not None:
                h = h * keep
            pooled.append(h.amax(2))
        return self.fc(self.dropout(cat(pooled, 1)))
