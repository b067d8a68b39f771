"""BERT-style WordPiece tokenizer (``tokenizers``, the core of ``transformers``' fast tokenizers)
with an exact character-offset map into the caller's original string, and the character folding
(:func:`fold_char`) that training's vocabulary and features share with it."""
from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: How many times its length NFKC may make a text.  A few characters expand into many (U+FDFA ﷺ into 18,
#: ㍿ into 株式会社), so a text of them would cost the model that many times its length; in a text that NFKC
#: would grow past this, each character expanding past it is folded to its first character before tokenizing
#: (as :func:`fold_char` folds it for the features).  Every other text is tokenized as it is.
MAX_GROWTH = 3


@dataclass(frozen=True)
class Encoded:
    """Token ids of one text and, for each token, its half-open character span in that text."""

    ids: np.ndarray      # (n_tokens,) int64
    starts: np.ndarray   # (n_tokens,) int64, character offsets into the original text
    ends: np.ndarray     # (n_tokens,) int64
    shape: np.ndarray | None = None  # (n_tokens, k) float32 shape features, where a model reads them

    def _replace_shape(self, shape: np.ndarray) -> "Encoded":
        return Encoded(self.ids, self.starts, self.ends, shape)


def fold_char(ch: str) -> str:
    """Fold one character the way the tokenizer does: NFKC (full-width to half-width), lower case.

    Returns the first character of the folded form (NFKC may expand, e.g. '㈱'),
    so one input character always maps to exactly one feature character.
    """
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded[0] if folded else ch


def fold_text(text: str) -> str:
    """Fold every character of ``text`` with :func:`fold_char`; the length is unchanged."""
    if text.isascii():
        return text.lower()
    return "".join(fold_char(c) for c in text)


@functools.lru_cache(maxsize=1 << 16)
def _nfkc_length(ch: str) -> int:
    return len(unicodedata.normalize("NFKC", ch))


def read_vocab(path: str | Path) -> dict[str, int]:
    """``vocab.txt``: one token per line, its line number is its id."""
    with open(path, encoding="utf-8") as fh:
        return {line.rstrip("\n"): i for i, line in enumerate(fh) if line.rstrip("\n")}


def build_tokenizer(vocab: dict[str, int], *, nfkc: bool = True, lowercase: bool = True,
                    split: str = "char") -> Tokenizer:
    """A BERT tokenizer over ``vocab``: CJK characters split one by one, words into WordPieces.

    ``nfkc`` folds full-width forms (Ａ, １) to the half-width ones the vocabulary
    knows; offsets still point into the unnormalised text.  ``split="char"`` also
    isolates every character that is not an ASCII letter or digit (emoji, kana,
    symbols), so one unknown character never swallows its neighbours into an
    ``[UNK]``; ``split="bert"`` is BERT's own word splitting (for BERT vocabularies).
    """
    if split not in ("char", "bert"):
        raise ValueError(f"split must be 'char' or 'bert', not {split!r}")
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    steps: list[normalizers.Normalizer] = [normalizers.NFKC()] if nfkc else []
    # "char" isolates every CJK character itself (below), so BERT's spacing around them is not needed
    steps.append(normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=split == "bert",
                                            strip_accents=False if nfkc else None, lowercase=lowercase))
    tok.normalizer = normalizers.Sequence(steps)
    if split == "char":
        pattern = "[^0-9a-z]" if lowercase else "[^0-9A-Za-z]"
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(pattern), behavior="isolated")])
    else:
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


class TextTokenizer:
    """Turns text into token ids with character offsets; thread-safe (``tokenizers`` is)."""

    def __init__(self, vocab_path: str | Path, *, nfkc: bool = True, lowercase: bool = True,
                 split: str = "char"):
        self.vocab = read_vocab(vocab_path)
        missing = [t for t in ("[PAD]", "[UNK]") if t not in self.vocab]
        if missing:
            raise ValueError(f"{vocab_path} lacks the special tokens {missing}: is it a BERT-style vocab.txt?")
        self._tok = build_tokenizer(self.vocab, nfkc=nfkc, lowercase=lowercase, split=split)
        self.pad_id, self.unk_id = self.vocab["[PAD]"], self.vocab["[UNK]"]
        self.cls_id, self.sep_id = self.vocab.get("[CLS]"), self.vocab.get("[SEP]")
        self._nfkc = nfkc

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> Encoded:
        """Tokens of ``text``; whitespace and dropped control characters get no token."""
        return self._from_encoding(self._tok.encode(self.bounded(text), add_special_tokens=False))

    def encode_batch(self, texts: list[str]) -> list[Encoded]:
        if len(texts) == 1:  # one text: no hand-off to the tokenizer's thread pool
            return [self.encode(texts[0])]
        encodings = self._tok.encode_batch([self.bounded(t) for t in texts], add_special_tokens=False)
        return [self._from_encoding(e) for e in encodings]

    def bounded(self, text: str) -> str:
        """``text``, or, when NFKC would make it more than :data:`MAX_GROWTH` times as long, ``text`` with each
        character that expands past that folded to one (:func:`fold_char`): the same length, so the offsets
        are unchanged, and the model's work stays within ``MAX_GROWTH`` times the text's length."""
        if not self._nfkc or text.isascii() or len(unicodedata.normalize("NFKC", text)) <= MAX_GROWTH * len(text):
            return text
        return text.translate({ord(ch): fold_char(ch) for ch in set(text) if _nfkc_length(ch) > MAX_GROWTH})

    @staticmethod
    def _from_encoding(enc) -> Encoded:
        ids = np.asarray(enc.ids, dtype=np.int64)
        if not len(ids):
            empty = np.zeros(0, dtype=np.int64)
            return Encoded(empty, empty, empty)
        offsets = np.asarray(enc.offsets, dtype=np.int64)
        return Encoded(ids, offsets[:, 0].copy(), offsets[:, 1].copy())
