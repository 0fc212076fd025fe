"""Vocab: token <-> index maps as torchtext's `Vocab`, built from token counts."""
import collections

__all__ = ["Vocab", "vocab", "build_vocab_from_iterator"]


class Vocab:
    """Indices of the tokens in `tokens` (in that order). Looking up an unknown token returns
    the default index when one is set, and raises RuntimeError otherwise."""

    def __init__(self, tokens):
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("Vocab: tokens must be unique")
        self.default_index = None

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def __getitem__(self, token):
        i = self.stoi.get(token, self.default_index)
        if i is None:
            raise RuntimeError(f"Vocab: token {token!r} not found and default index is not set; "
                               "call set_default_index (e.g. with the index of '<unk>')")
        return i

    def __call__(self, tokens):
        return self.lookup_indices(tokens)

    def set_default_index(self, index):
        if index is not None and not 0 <= index < len(self):
            raise IndexError(f"Vocab: default index {index} out of range for {len(self)} tokens")
        self.default_index = index

    def get_default_index(self):
        return self.default_index

    def lookup_indices(self, tokens):
        return [self[t] for t in tokens]

    def lookup_token(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Vocab: index {index} out of range for {len(self)} tokens")
        return self.itos[index]

    def lookup_tokens(self, indices):
        return [self.lookup_token(int(i)) for i in indices]

    def append_token(self, token):
        if token in self.stoi:
            raise RuntimeError(f"Vocab: token {token!r} already exists with index {self.stoi[token]}")
        self.stoi[token] = len(self.itos)
        self.itos.append(token)

    def get_itos(self):
        return list(self.itos)

    def get_stoi(self):
        return dict(self.stoi)

    def __repr__(self):
        return f"Vocab(size={len(self)}, default_index={self.default_index})"


def vocab(ordered_dict, min_freq=1, specials=None, special_first=True):
    """A Vocab of the keys of `ordered_dict` (token -> count, in order) counted at least
    `min_freq` times, with `specials` first or last (as torchtext.vocab.vocab)."""
    specials = list(specials or [])
    tokens = [t for t, n in ordered_dict.items() if n >= min_freq and t not in specials]
    return Vocab(specials + tokens if special_first else tokens + specials)


def build_vocab_from_iterator(iterator, min_freq=1, specials=None, special_first=True,
                              max_tokens=None, max_size=None):
    """A Vocab from an iterator of token lists, as torchtext: tokens by decreasing count
    (ties alphabetical), those seen fewer than `min_freq` times dropped, at most
    `max_tokens` in all including the specials (`max_size`, torchtext's legacy name,
    counts without them)."""
    specials = list(specials or [])
    counter = collections.Counter()
    for tokens in iterator:
        counter.update(tokens)
    for s in specials:
        counter.pop(s, None)
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if max_size is not None:
        limit = max_size + len(specials)
        max_tokens = limit if max_tokens is None else min(max_tokens, limit)
    if max_tokens is not None:
        if max_tokens <= len(specials):
            raise ValueError("build_vocab_from_iterator: max_tokens must be larger than the "
                             "number of specials")
        ordered = ordered[:max_tokens - len(specials)]
    return vocab(collections.OrderedDict(ordered), min_freq, specials, special_first)
