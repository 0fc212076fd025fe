"""Variable-length sequences: padding and packing, as `torch.nn.utils.rnn`.

A `PackedSequence` stores a batch of sequences sorted by decreasing length, time step by
time step: `data` holds the batch_sizes[0] first elements, then the batch_sizes[1]
second elements, and so on.  Packing and unpacking are each one gather (an index op),
so they are differentiable and cheap.
"""
from collections import namedtuple

from ..._array import xp
from ...creation import full, tensor as _tensor
from ...ops.indexing import index_select
from ...ops.shape import cat, stack
from ...tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices",
                                                   "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices); see the module docstring.
    `sorted_indices[k]` is the original batch position of the k-th longest sequence."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, *self[1:])

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return self.data.is_pinned()

    def pin_memory(self):
        """The data and indices in pinned memory (batch_sizes stay where they are, as in PyTorch)."""
        pinned = [None if t is None else t.pin_memory() for t in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(self.data.pin_memory(), self.batch_sizes, *pinned)


def invert_permutation(permutation):
    """The inverse of a permutation given as an int64 tensor (None stays None)."""
    if permutation is None:
        return None
    p = permutation.numpy()
    inv = xp.empty_like(p)
    inv[p] = xp.arange(len(p))
    return _tensor(inv)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes (L_i, *) into (max L, batch, *) (or (batch, max L, *)),
    filling the missing steps with padding_value on padding_side."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    n = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        if s.shape[0] < n:
            pad = full((n - s.shape[0],) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)
            s = cat([s, pad] if padding_side == "right" else [pad, s])
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def _lengths(lengths):
    lengths = lengths.tolist() if isinstance(lengths, Tensor) else lengths
    return xp.asarray(lengths, dtype=xp.int64).reshape(-1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose sequence b has lengths[b] steps.
    With enforce_sorted=False the batch is sorted by length first (remembered in the result)."""
    lengths = _lengths(lengths)
    if enforce_sorted:
        if xp.any(lengths[:-1] < lengths[1:]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order, sorted_indices = xp.arange(len(lengths)), None
    else:
        order = xp.argsort(-lengths, kind="stable")
        sorted_indices = _tensor(order)
    T, B = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
    if len(lengths) != B:
        raise RuntimeError(f"pack_padded_sequence: expected {B} lengths (one per sequence of the "
                           f"input of shape {tuple(input.shape)}), got {len(lengths)}")
    if lengths.size and (lengths.min() <= 0 or lengths.max() > T):
        raise RuntimeError(f"pack_padded_sequence: lengths must be in [1, {T}] for an input of "
                           f"shape {tuple(input.shape)} (batch_first={batch_first}), got {lengths.tolist()}")
    sorted_lengths = lengths[order]
    batch_sizes = (sorted_lengths[None, :] > xp.arange(sorted_lengths[0] if B else 0)[:, None]).sum(1)
    # row of the flattened input for each packed element: step t of sequence order[k]
    t = xp.concatenate([xp.full(bs, i) for i, bs in enumerate(batch_sizes)]).astype(xp.int64)
    b = order[xp.concatenate([xp.arange(bs) for bs in batch_sizes])].astype(xp.int64)
    rows = b * T + t if batch_first else t * B + b
    data = index_select(input.reshape((T * B,) + tuple(input.shape[2:])), 0, _tensor(rows))
    return PackedSequence(data, _tensor(batch_sizes.astype(xp.int64)), sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths int64),
    with the batch in its original order."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.numpy()
    B, T = int(batch_sizes[0]), len(batch_sizes)
    if total_length is not None:
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        T = total_length
    order = (sequence.sorted_indices.numpy() if sequence.sorted_indices is not None
             else xp.arange(B))
    # every output cell reads a packed row, or the extra padding row at the end
    src = xp.full((B, T) if batch_first else (T, B), len(data), dtype=xp.int64)
    start = 0
    for t, bs in enumerate(batch_sizes):
        rows = xp.arange(start, start + bs)
        if batch_first:
            src[order[:bs], t] = rows
        else:
            src[t, order[:bs]] = rows
        start += bs
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    padded = index_select(cat([data, pad]), 0, _tensor(src.reshape(-1)))
    lengths = xp.empty(B, dtype=xp.int64)
    lengths[order] = (batch_sizes[None, :] > xp.arange(B)[:, None]).sum(1)
    return padded.reshape(src.shape + tuple(data.shape[1:])), _tensor(lengths)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *) (pad_sequence, then pack_padded_sequence)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences of a padded batch, each cut to its length."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [s[:n] for s, n in zip(padded_sequences.unbind(0), _lengths(lengths).tolist())]


def unpack_sequence(packed_sequences):
    """The list of sequences of a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
