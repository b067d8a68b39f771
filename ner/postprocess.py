"""Post-processing of decoded spans: split a place *before* an organisation from the organisation.

MSRA annotates ``北京清华大学`` as one ORG, but users expect ``北京``/LOC +
``清华大学``/ORG.  MSRA is right to keep ``上海人民出版社`` or ``赞比亚国防部``
whole: there the place is part of the name.  The rule splits an ORG span
``P + R`` only when

- ``P + R`` is not itself a lexicon organisation,
- ``P`` is a lexicon place and ``R`` (at least ``min_rest`` characters) a lexicon organisation,
- ``R``'s name stands alone: it does not begin with a common word (jieba tags
  人民, 文艺, 国防, 全国 as common nouns, 清华, 华为, 复旦 as proper ones), with
  another place (美国 + 中国商会), or with one of ``generic_prefixes``.
"""
from __future__ import annotations

import numpy as np

from .features import TYPE_BITS, Lexicon, hash_sequence

LOC_BIT, ORG_BIT = TYPE_BITS["LOC"], TYPE_BITS["ORG"]


class LocOrgSplitter:
    """Callable ``(text, token ids, spans) -> spans`` over sorted span tuples (see :meth:`__call__`)."""

    def __init__(self, lexicon: Lexicon, tokenizer, generic_prefixes: list[str], min_rest: int = 3,
                 loc_bit: int = LOC_BIT, org_bit: int = ORG_BIT):
        self.lexicon, self.tokenizer = lexicon, tokenizer
        self.generic = tuple(generic_prefixes)
        self.min_rest, self.loc_bit, self.org_bit = min_rest, loc_bit, org_bit

    @classmethod
    def from_spec(cls, spec, tokenizer, lexicon: Lexicon | None) -> "LocOrgSplitter | None":
        """The rule as ``config.json`` configures it, over the model's own (already loaded) lexicon."""
        cfg = spec.postprocess.get("split_loc_org")
        if not cfg or lexicon is None:
            return None
        return cls(lexicon, tokenizer, cfg.get("generic_prefixes", []), cfg.get("min_rest", 3),
                   cfg.get("loc_bit", LOC_BIT), cfg.get("org_bit", ORG_BIT))

    def _bits(self, ids) -> int:
        h = np.uint64(hash_sequence(ids))
        keys = self.lexicon.keys
        pos = int(np.searchsorted(keys, h))
        return int(self.lexicon.bits[pos]) if pos < len(keys) and keys[pos] == h else 0

    def split(self, name: str, ids=None) -> int:
        """Length of the place prefix to split off ``name``, 0 to keep it whole.

        ``ids`` are the name's token ids when the caller has them (one per character).
        """
        if len(name) < 2 + self.min_rest:
            return 0
        if ids is None:
            ids = self.tokenizer.encode(name).ids
        if len(ids) != len(name):
            return 0
        ids = [int(i) for i in ids]
        if self._bits(ids) & self.org_bit:  # a known organisation name as a whole
            return 0
        for cut in range(len(ids) - self.min_rest, 1, -1):  # longest place first
            if not self._bits(ids[:cut]) & self.loc_bit:
                continue
            rest = name[cut:]
            if rest.startswith(self.generic) or not self._bits(ids[cut:]) & self.org_bit:
                return 0
            return cut if self._stands_alone(ids[cut:]) else 0
        return 0

    def _stands_alone(self, ids) -> bool:
        """The organisation name does not begin with a common word or a place."""
        for k in range(len(ids) - 1, 1, -1):  # its longest lexicon word prefix decides
            bits = self._bits(ids[:k])
            if bits & self.lexicon.proper_bit:  # jieba: a proper noun that is not a place (清华, 阿里, 华为)
                return True
            if bits & (self.loc_bit | self.lexicon.common_bit):
                return False
        return True

    def __call__(self, text: str, ids, spans):
        """Spans ``(start, end, label, score, first_token, end_token)`` with place + organisation ORGs split."""
        out = []
        for s, e, label, score, ta, tb in spans:
            cut = self.split(text[s:e], ids[ta:tb]) if label == "ORG" else 0
            if cut:
                out.append((s, s + cut, "LOC", score, ta, ta + cut))
                out.append((s + cut, e, "ORG", score, ta + cut, tb))
            else:
                out.append((s, e, label, score, ta, tb))
        return out


#: How far below every other score a forbidden tag's emission is put (it can never win).
_FORBIDDEN = -1.0e4


def script_space_breaks(shape: np.ndarray) -> np.ndarray:
    """``breaks[i]``: whitespace separates token ``i`` from token ``i + 1`` and exactly one of the two is a
    Latin letter or digit (``512GB 官方``, ``戴森 Dyson``), from :func:`~ner.features.shape_features` rows."""
    alnum = (shape[:, 0] + shape[:, 3]) > 0
    out = np.zeros(len(shape), dtype=bool)
    out[:-1] = (shape[:-1, 5] > 0) & (alnum[:-1] != alnum[1:])
    return out


class ScriptSpaceRule:
    """No entity is decoded across a space between a CJK run and a Latin or digit run.

    A name that holds a space keeps it when both sides are Latin (``Tim Cook``).  Applied before
    decoding, as a constraint: at a break the tag before must end an entity (or be O) and the tag
    after must begin one (or be O), so the decoder finds the best path that obeys it.
    """

    def __init__(self, prefixes: list[str], scheme: str):
        ends = ("B", "I") if scheme == "BIOES" else ()
        starts = ("I", "E") if scheme == "BIOES" else ("I",)
        self.no_end = np.array([p in ends for p in prefixes])
        self.no_start = np.array([p in starts for p in prefixes])

    @classmethod
    def from_spec(cls, spec, prefixes: list[str]) -> "ScriptSpaceRule | None":
        """The rule where ``config.json`` asks for it (``postprocess.script_space``) and the model reads shapes."""
        if not spec.postprocess.get("script_space") or not spec.shape_features:
            return None
        return cls(prefixes, spec.scheme)

    def apply(self, emissions: np.ndarray, breaks: np.ndarray) -> None:
        """Forbid, in place, the tags that would carry an entity across each break of one window's
        ``emissions (length, tags)``; ``breaks`` has the window's length."""
        at = np.nonzero(breaks[: len(emissions) - 1])[0]
        if len(at):
            emissions[np.ix_(at, np.nonzero(self.no_end)[0])] = _FORBIDDEN
            emissions[np.ix_(at + 1, np.nonzero(self.no_start)[0])] = _FORBIDDEN
