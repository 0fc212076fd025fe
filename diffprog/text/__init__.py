"""diffprog.text: tokenizers, vocabularies, text datasets, padding/bucketing for batches
of token ids, and pretrained word vectors (the useful parts of torchtext)."""
from .tokenizers import CharTokenizer, get_tokenizer, basic_english, BPETokenizer  # noqa: F401
from .vocab import Vocab, vocab, build_vocab_from_iterator  # noqa: F401
from .datasets import CharCorpus, SentencePolarity, IMDB  # noqa: F401
from .collate import pad_collate, BucketBatchSampler  # noqa: F401
from .vectors import load_vectors, embedding_from_vectors  # noqa: F401
from . import datasets  # noqa: F401

__all__ = ["CharTokenizer", "get_tokenizer", "basic_english", "BPETokenizer", "Vocab", "vocab",
           "build_vocab_from_iterator", "CharCorpus", "SentencePolarity", "IMDB", "pad_collate",
           "BucketBatchSampler", "load_vectors", "embedding_from_vectors", "datasets"]
