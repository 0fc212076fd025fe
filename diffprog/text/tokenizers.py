"""Tokenizers: characters, torchtext's `basic_english` words, and a byte-pair encoder
trained on a corpus (Sennrich et al. 2016: merges learned on characters, with an
end-of-word marker so that decoding knows where the spaces go)."""
import collections
import re

__all__ = ["CharTokenizer", "get_tokenizer", "basic_english", "BPETokenizer"]


class CharTokenizer:
    """One id per distinct character of `text` (sorted, so the ids do not depend on order)."""

    def __init__(self, text):
        self.itos = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        try:
            return [self.stoi[c] for c in text]
        except KeyError as e:
            raise KeyError(f"CharTokenizer: character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids):
        return "".join(self.itos[int(i)] for i in ids)

    def __repr__(self):
        return f"CharTokenizer(vocab_size={len(self)})"


# torchtext's basic_english rules, applied in this order after lower-casing.
_BASIC_ENGLISH = [(re.compile(p), r) for p, r in [
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "),
    (r"\(", " ( "), (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "),
    (r"\:", " "), (r"\s+", " ")]]


def basic_english(line):
    """torchtext's `basic_english`: lower-case; . , ( ) ! ? and ' become their own tokens,
    " ; : and HTML line breaks are dropped; then split on whitespace."""
    line = line.lower()
    for pattern, repl in _BASIC_ENGLISH:
        line = pattern.sub(repl, line)
    return line.split()


def get_tokenizer(tokenizer, language="en"):
    """As torchtext: None splits on whitespace, "basic_english" as above, a callable is
    returned unchanged."""
    if tokenizer is None:
        return str.split
    if callable(tokenizer):
        return tokenizer
    if tokenizer == "basic_english":
        if language != "en":
            raise ValueError("basic_english tokenizer only supports language='en'")
        return basic_english
    raise ValueError(f"get_tokenizer: unknown tokenizer {tokenizer!r}; use None, "
                     "'basic_english' or a callable")


def _merge_word(symbols, pair, joined):
    """`symbols` with each adjacent occurrence of `pair` replaced by `joined`."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(joined)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


class BPETokenizer:
    """Byte-pair encoding over characters. Words (whitespace-separated) end with the marker
    `end_of_word`; `train` repeatedly merges the most frequent adjacent pair (ties: the
    pair seen first) until the vocabulary has `vocab_size` symbols or no pair occurs
    `min_frequency` times. Characters never seen in training encode as `unk_token`."""

    def __init__(self, merges=(), alphabet=(), end_of_word="</w>", unk_token="<unk>"):
        self.end_of_word, self.unk_token = end_of_word, unk_token
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self.itos = [unk_token, end_of_word] + sorted(set(alphabet) - {unk_token, end_of_word})
        self.itos += ["".join(m) for m in self.merges]
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self._cache = {}

    @classmethod
    def train(cls, texts, vocab_size, min_frequency=2, end_of_word="</w>", unk_token="<unk>"):
        """Learn merges from an iterable of strings."""
        if isinstance(texts, str):
            texts = [texts]
        counts = collections.Counter(w for t in texts for w in t.split())
        words = {tuple(w) + (end_of_word,): n for w, n in counts.items()}
        alphabet = {c for w in counts for c in w}
        merges = []
        n_base = len(alphabet) + 2
        while n_base + len(merges) < vocab_size:
            pairs = collections.Counter()
            for symbols, n in words.items():
                for pair in zip(symbols, symbols[1:]):
                    pairs[pair] += n
            if not pairs:
                break
            best, freq = max(pairs.items(), key=lambda kv: kv[1])  # first seen wins ties
            if freq < min_frequency:
                break
            joined = "".join(best)
            words = {_merge_word(s, best, joined): n for s, n in words.items()}
            merges.append(best)
        return cls(merges, alphabet, end_of_word, unk_token)

    def __len__(self):
        return len(self.itos)

    def _word(self, word):
        """The symbols of one word: apply the lowest-ranked merge present until none is."""
        if word in self._cache:
            return self._cache[word]
        symbols = tuple(c if c in self.stoi else self.unk_token for c in word) + (self.end_of_word,)
        while len(symbols) > 1:
            pair = min(zip(symbols, symbols[1:]), key=lambda p: self.ranks.get(p, len(self.ranks)))
            if pair not in self.ranks:
                break
            symbols = _merge_word(symbols, pair, "".join(pair))
        self._cache[word] = symbols
        return symbols

    def tokenize(self, text):
        """The subword strings of `text`."""
        return [s for w in text.split() for s in self._word(w)]

    def encode(self, text):
        return [self.stoi[s] for s in self.tokenize(text)]

    def decode(self, ids):
        """The text back, words separated by single spaces."""
        text = "".join(self.itos[int(i)] for i in ids)
        return text.replace(self.end_of_word, " ").rstrip(" ")

    def __repr__(self):
        return f"BPETokenizer(vocab_size={len(self)}, merges={len(self.merges)})"
