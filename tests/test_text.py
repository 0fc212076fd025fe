"""diffprog.text: tokenizers, Vocab, text datasets (real files under DIFFPROG_DATA when
present, tiny ones written here), pad_collate/BucketBatchSampler and word vectors."""
import gzip
import os

import numpy as np
import pytest
import torch

import diffprog as dp
from diffprog import text as T
from diffprog.utils.data import DataLoader

DATA = os.environ.get("DIFFPROG_DATA", "/work/shared/data")


def needs(*parts):
    path = os.path.join(DATA, *parts)
    return pytest.mark.skipif(not os.path.exists(path), reason=f"{path} not present")


# ---- tokenizers -------------------------------------------------------------------------

@pytest.mark.parametrize("line, tokens", [
    ("Hello, World!", ["hello", ",", "world", "!"]),
    ("It's (really) good?", ["it", "'", "s", "(", "really", ")", "good", "?"]),
    ('He said "no"; then: left.', ["he", "said", "no", "then", "left", "."]),
    ("line one<br />line   two", ["line", "one", "line", "two"]),
    ("", []),
])
def test_basic_english(line, tokens):
    assert T.get_tokenizer("basic_english")(line) == tokens


def test_get_tokenizer_variants():
    assert T.get_tokenizer(None)("a  b\tc") == ["a", "b", "c"]
    assert T.get_tokenizer(str.upper) is str.upper
    with pytest.raises(ValueError, match="unknown tokenizer"):
        T.get_tokenizer("spacy_nope")


def test_char_tokenizer():
    tok = T.CharTokenizer("hello world")
    assert len(tok) == 8 and tok.itos == sorted(set("hello world"))
    ids = tok.encode("hold")
    assert ids == [tok.stoi[c] for c in "hold"] and tok.decode(ids) == "hold"
    with pytest.raises(KeyError, match="'z'"):
        tok.encode("z")


CORPUS = ["low lower lowest", "newer newest wider", "low low new new"] * 3


def test_bpe_merges_and_round_trip():
    tok = T.BPETokenizer.train(CORPUS, vocab_size=30, min_frequency=2)
    alphabet = set("".join(CORPUS).replace(" ", ""))
    assert len(tok.merges) == 30 - len(alphabet) - 2 and len(tok) == 30
    assert tok.tokenize("low") == ["low</w>"]           # a frequent word becomes one symbol
    for text in CORPUS + ["lowly newt", "  spaced   out  "]:
        assert tok.decode(tok.encode(text)) == " ".join(
            w if set(w) <= alphabet else "".join(c if c in alphabet else "<unk>" for c in w)
            for w in text.split())
    assert tok.decode(tok.encode("lower newest")) == "lower newest"


def test_bpe_first_merge_is_most_frequent_pair():
    tok = T.BPETokenizer.train(["ab ab ab cd"], vocab_size=100, min_frequency=1)
    assert tok.merges[0] == ("a", "b")
    # min_frequency stops merging: "cd" occurs once
    tok2 = T.BPETokenizer.train(["ab ab ab cd"], vocab_size=100, min_frequency=2)
    assert tok2.merges == [("a", "b"), ("ab", "</w>")]
    assert tok2.tokenize("cd") == ["c", "d", "</w>"]


# ---- vocab ------------------------------------------------------------------------------

def docs():
    return [["b", "a", "c", "a"], ["a", "b", "d"], ["<pad>", "e"]]


def test_vocab_order_specials_min_freq():
    v = T.build_vocab_from_iterator(docs(), specials=["<unk>", "<pad>"])
    assert v.get_itos() == ["<unk>", "<pad>", "a", "b", "c", "d", "e"]
    v = T.build_vocab_from_iterator(docs(), min_freq=2, specials=["<unk>"], special_first=False)
    assert v.get_itos() == ["a", "b", "<unk>"]
    v = T.build_vocab_from_iterator(docs(), max_tokens=3, specials=["<unk>"])
    assert v.get_itos() == ["<unk>", "a", "b"]
    assert T.build_vocab_from_iterator(docs(), max_size=1).get_itos() == ["a"]
    assert v.get_stoi() == {"<unk>": 0, "a": 1, "b": 2}


def test_vocab_lookup_and_default_index():
    v = T.build_vocab_from_iterator(docs(), specials=["<unk>"])
    assert "a" in v and "zz" not in v and len(v) == 7
    assert v["a"] == 1 and v.lookup_indices(["a", "b"]) == [1, 2] and v(["<pad>", "c"]) == [3, 4]
    assert v.lookup_tokens([1, 2]) == ["a", "b"]
    assert v.get_default_index() is None
    with pytest.raises(RuntimeError, match="'zz' not found and default index is not set"):
        v["zz"]
    v.set_default_index(v["<unk>"])
    assert v["zz"] == 0 and v.get_default_index() == 0
    with pytest.raises(IndexError):
        v.lookup_tokens([99])
    with pytest.raises(IndexError):
        v.set_default_index(99)
    with pytest.raises(ValueError, match="max_tokens"):
        T.build_vocab_from_iterator(docs(), max_tokens=1, specials=["<unk>"])


# ---- datasets ---------------------------------------------------------------------------

def test_char_corpus_on_temp_file(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("abcdefghij")
    ds = T.CharCorpus(p, seq_len=4)
    assert len(ds) == 2 and ds.vocab_size == 10
    x, y = ds[1]
    assert x.dtype == dp.int64 and ds.tokenizer.decode(x.tolist()) == "efgh"
    assert ds.tokenizer.decode(y.tolist()) == "fghi"
    assert len(T.CharCorpus(p, seq_len=4, stride=1)) == 6
    with pytest.raises(IndexError):
        ds[2]


@needs("tinyshakespeare", "input.txt")
def test_char_corpus_tinyshakespeare():
    ds = T.CharCorpus(os.path.join(DATA, "tinyshakespeare", "input.txt"), seq_len=64)
    assert ds.vocab_size == 65 and len(ds) == (1115394 - 1 - 64) // 64 + 1
    x, y = next(iter(DataLoader(ds, batch_size=8, shuffle=True)))
    assert x.shape == (8, 64) and y.shape == (8, 64)
    np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])
    assert ds.tokenizer.decode(ds[0][0].tolist()).startswith("First Citizen")


@needs("rt-polarity", "rt-polarity.pos")
def test_sentence_polarity():
    all_ = T.SentencePolarity(DATA, split="all")
    assert len(all_) == 10662 and all_.targets.count(1) == 5331 and all_.targets.count(0) == 5331
    assert any("é" in t for t, _ in all_.samples)      # Latin-1 decoded, not mojibake
    train, test = T.SentencePolarity(DATA), T.SentencePolarity(DATA, split="test")
    assert len(test) == 1066 and len(train) == 10662 - 1066
    assert not {t for t, _ in train.samples} >= {t for t, _ in test.samples}
    assert [s for s in T.SentencePolarity(DATA, split="test")][:5] == [test[i] for i in range(5)]
    assert T.SentencePolarity(DATA, split="test", seed=1)[0] != test[0]


def test_sentence_polarity_latin1_temp(tmp_path):
    folder = tmp_path / "rt-polarity"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_bytes("caf\xe9 good\nnice\n".encode("latin-1"))
    (folder / "rt-polarity.neg").write_bytes(b"bad\n")
    ds = T.SentencePolarity(tmp_path, split="all", transform=str.split)
    assert [ds[i] for i in range(3)] == [(["café", "good"], 1), (["nice"], 1), (["bad"], 0)]


def test_imdb_temp_folder(tmp_path):
    for split, label, name, txt in [("train", "pos", "0_9.txt", "Great <br />film"),
                                    ("train", "neg", "1_2.txt", "Awful"),
                                    ("train", "neg", "0_1.txt", "Bad"),
                                    ("test", "pos", "0_8.txt", "Fine"),
                                    ("test", "neg", "0_3.txt", "Meh")]:
        d = tmp_path / "aclImdb" / split / label
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(txt, encoding="utf-8")
    train = T.IMDB(tmp_path)
    assert [train[i] for i in range(3)] == [("Bad", 0), ("Awful", 0), ("Great <br />film", 1)]
    assert len(T.IMDB(tmp_path, split="test")) == 2
    with pytest.raises(RuntimeError, match="not found"):
        T.IMDB(tmp_path / "nope")
    with pytest.raises(ValueError, match="split"):
        T.IMDB(tmp_path, split="valid")


# ---- collate ----------------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("padding_value", [0, -1])
def test_pad_collate_matches_pad_sequence(batch_first, padding_value):
    seqs = [[3, 1, 4], [1], [5, 9, 2, 6], []]
    padded, lengths = T.pad_collate([dp.tensor(s, dtype=dp.int64) for s in seqs],
                                    padding_value=padding_value, batch_first=batch_first)
    ref = torch.nn.utils.rnn.pad_sequence([torch.tensor(s, dtype=torch.int64) for s in seqs],
                                          batch_first=batch_first, padding_value=padding_value)
    np.testing.assert_array_equal(padded.numpy(), ref.numpy())
    assert padded.dtype == dp.int64 and lengths.tolist() == [3, 1, 4, 0]


def test_pad_collate_with_labels_in_dataloader():
    data = [([1, 2], 1), ([3], 0), ([4, 5, 6], 1)]
    x, lengths, y = next(iter(DataLoader(data, batch_size=3, collate_fn=T.pad_collate)))
    assert x.tolist() == [[1, 2, 0], [3, 0, 0], [4, 5, 6]]
    assert lengths.tolist() == [2, 1, 3] and y.tolist() == [1, 0, 1]


@pytest.mark.parametrize("drop_last", [False, True])
def test_bucket_batch_sampler(drop_last):
    lengths = np.random.default_rng(0).integers(1, 50, size=103)
    s = T.BucketBatchSampler(lengths, batch_size=8, drop_last=drop_last, bucket_size_multiplier=4,
                             generator=dp.Generator().manual_seed(0))
    batches = list(s)
    assert len(batches) == len(s) == (12 if drop_last else 13)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(103)) if not drop_last else len(set(flat)) == len(flat) == 96
    # sorted by length inside each pool: padding is far below a random batching's
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[i:i + 8]) for i in range(0, 96, 8)])
    assert spread < random_spread / 2
    assert batches != list(T.BucketBatchSampler(lengths, 8, drop_last, bucket_size_multiplier=4,
                                                generator=dp.Generator().manual_seed(1)))
    unshuffled = list(T.BucketBatchSampler(lengths, 8, shuffle=False))
    assert unshuffled[0] == sorted(range(103), key=lambda i: (lengths[i], i))[:8]


# ---- vectors ----------------------------------------------------------------------------

GLOVE = [("glove.6B.50d.sample76.txt", 76, 50), ("glove.6B.100d.sample.txt.gz", 100, 100),
         ("glove.6B.300d.sample.txt.gz", 100, 300)]


def read_plain(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [line.split() for line in f]
    return [w[0] for w in lines], np.array([w[1:] for w in lines], dtype=np.float32)


@pytest.mark.parametrize("name, n, dim", GLOVE)
def test_glove_files_and_embedding(name, n, dim):
    path = os.path.join(DATA, "glove", name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present")
    itos, vecs = T.load_vectors(path)
    words, ref = read_plain(path)
    assert itos == words and vecs.shape == (n, dim) and vecs.dtype == dp.float32
    np.testing.assert_array_equal(vecs.numpy(), ref)
    vocab = T.build_vocab_from_iterator([words[:10] + ["notaword"]], specials=["<unk>"])
    emb = T.embedding_from_vectors(vocab, (itos, vecs))
    assert isinstance(emb, dp.nn.Embedding) and emb.weight.shape == (12, dim)
    assert not emb.weight.requires_grad
    for w in words[:10]:
        np.testing.assert_array_equal(emb(dp.tensor([vocab[w]])).numpy()[0], ref[words.index(w)])
    table = emb.weight.detach().numpy()
    assert not table[vocab["notaword"]].any() and not table[0].any()   # unknown rows: zeros


def test_word2vec_header_plain_and_gz(tmp_path):
    body = "king 1 2 3\nNew York 4 5 6\nqueen 0.5 -1 2e-1\n"
    for name, data in [("w2v.txt", "3 3\n" + body), ("glove.txt.gz", body)]:
        p = tmp_path / name
        if name.endswith(".gz"):
            p.write_bytes(gzip.compress(data.encode()))
        else:
            p.write_text(data)
        itos, vecs = T.load_vectors(p)
        assert itos == ["king", "New York", "queen"]
        np.testing.assert_allclose(vecs.numpy(), [[1, 2, 3], [4, 5, 6], [0.5, -1, 0.2]], rtol=1e-6)
    assert T.load_vectors(p, max_vectors=2)[0] == ["king", "New York"]
    bad = tmp_path / "bad.txt"
    bad.write_text("a 1 2\nb 3\n")
    with pytest.raises(ValueError, match="line 2"):
        T.load_vectors(bad)


def test_embedding_unknown_init_and_trainable():
    itos, vecs = ["Apple", "pie"], dp.tensor([[1.0, 2.0], [3.0, 4.0]])
    dp.manual_seed(0)
    emb = T.embedding_from_vectors(["pie", "apple", "zzz"], (itos, vecs), freeze=False,
                                   unk_init="normal", lower_case_backup=False)
    assert emb.weight.requires_grad and emb.weight.detach().numpy()[0].tolist() == [3.0, 4.0]
    assert emb.weight.detach().numpy()[2].any()
    emb = T.embedding_from_vectors(["APPLE"], (["apple"], vecs[:1]), lower_case_backup=True)
    assert emb.weight.detach().numpy()[0].tolist() == [1.0, 2.0]
    emb(dp.tensor([0])).sum()  # usable as a layer
    with pytest.raises(ValueError, match="unk_init"):
        T.embedding_from_vectors(["a"], (itos, vecs), unk_init="uniform")
