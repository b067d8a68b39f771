"""Post-processing of decoded spans: split a place *before* an organisation from the organisation.

MSRA annotates ``北京清华大学`` as one ORG, but users expect ``北京``/LOC +
``清华大学``/ORG.  MSRA is right to keep ``上海人民出版社`` or ``赞比亚国防部``
whole: there the place is part of the name.  The rule splits an ORG span
``P + R`` only when ``P`` is a lexicon place, ``R`` is itself a lexicon
organisation whose name stands alone (it does not start with a generic word
such as 人民/国家/国防, which needs the place to be a name), and ``R`` has at
least ``min_rest`` characters.
"""
from __future__ import annotations

import numpy as np

from .features import Lexicon, hash_sequence

LOC_BIT, ORG_BIT = 2, 4


class LocOrgSplitter:
    """Callable ``(text, spans) -> spans`` over sorted ``(start, end, label, score)`` tuples."""

    def __init__(self, lexicon: Lexicon, tokenizer, generic_prefixes: list[str], min_rest: int = 3,
                 loc_bit: int = LOC_BIT, org_bit: int = ORG_BIT):
        self.lexicon, self.tokenizer = lexicon, tokenizer
        self.generic = tuple(generic_prefixes)
        self.min_rest, self.loc_bit, self.org_bit = min_rest, loc_bit, org_bit

    @classmethod
    def from_spec(cls, spec, tokenizer) -> "LocOrgSplitter | None":
        cfg = spec.postprocess.get("split_loc_org")
        if not cfg or not spec.lexicon_file:
            return None
        lexicon = Lexicon.load(spec.file(spec.lexicon_file))
        return cls(lexicon, tokenizer, cfg.get("generic_prefixes", []), cfg.get("min_rest", 3),
                   cfg.get("loc_bit", LOC_BIT), cfg.get("org_bit", ORG_BIT))

    def _bits(self, ids) -> int:
        h = np.uint64(hash_sequence(ids))
        keys = self.lexicon.keys
        pos = int(np.searchsorted(keys, h))
        return int(self.lexicon.bits[pos]) if pos < len(keys) and keys[pos] == h else 0

    def split(self, name: str) -> int:
        """Length of the place prefix to split off ``name``, 0 to keep it whole."""
        if len(name) < 2 + self.min_rest:
            return 0
        enc = self.tokenizer.encode(name)
        if len(enc.ids) != len(name):
            return 0
        ids = [int(i) for i in enc.ids]
        for cut in range(len(ids) - self.min_rest, 1, -1):  # longest place first
            if not self._bits(ids[:cut]) & self.loc_bit:
                continue
            rest = name[cut:]
            if rest.startswith(self.generic):
                return 0
            return cut if self._bits(ids[cut:]) & self.org_bit else 0
        return 0

    def __call__(self, text: str, spans):
        out = []
        for s, e, label, score in spans:
            cut = self.split(text[s:e]) if label == "ORG" else 0
            if cut:
                out.append((s, s + cut, "LOC", score))
                out.append((s + cut, e, "ORG", score))
            else:
                out.append((s, e, label, score))
        return out
