"""Building the lexicon feature table from word lists (``data/lexicon``) and jieba's dictionary."""
from __future__ import annotations

from pathlib import Path

from .._optional import require
from ..features import COMMON_BIT, LEXICON_TYPES, PROPER_BIT, TYPE_BITS, build_lexicon
from ..tokenizer import TextTokenizer

#: lexicon sources by short name -> (file under data/lexicon, type bit); "jieba" is the jieba package's dict.
LEXICON_FILES = {"per": ("per.txt", TYPE_BITS["PER"]), "loc": ("loc.txt", TYPE_BITS["LOC"]),
                 "org": ("org.txt", TYPE_BITS["ORG"])}
JIEBA_TAGS = {"nr": TYPE_BITS["PER"], "ns": TYPE_BITS["LOC"], "nt": TYPE_BITS["ORG"]}
PROPER_TAGS = {"nr", "nrt", "nrfg", "nt", "nz"}  # proper nouns that are not places (ns)


def read_lexicon_entries(data_dir: Path, sources: list[str]) -> dict[str, int]:
    entries: dict[str, int] = {}
    for name in sources:
        if name == "jieba":
            jieba = require("jieba", "The jieba lexicon")
            with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) < 3:
                        continue
                    word, _, tag = parts[:3]
                    bits = TYPE_BITS["WORD"] | JIEBA_TAGS.get(tag, 0) | (PROPER_BIT if tag in PROPER_TAGS else COMMON_BIT)
                    entries[word] = entries.get(word, 0) | bits
            continue
        fname, bit = LEXICON_FILES[name]
        with open(data_dir / "lexicon" / fname, encoding="utf-8") as fh:
            for line in fh:
                word = line.strip()
                if len(word) >= 2:
                    entries[word] = entries.get(word, 0) | bit
    return entries


def build_lexicon_file(data_dir: Path, sources: list[str], tok: TextTokenizer, out: Path):
    """Hash the lexicon ``sources`` through ``tok`` into ``out`` (lexicon.npz); returns the Lexicon."""
    entries = read_lexicon_entries(data_dir, sources)
    words = list(entries)
    ids_of = {w: [int(i) for i in e.ids] for w, e in zip(words, tok.encode_batch(words))}
    lex = build_lexicon(entries, tok.vocab, list(LEXICON_TYPES), lambda w: ids_of[w])
    lex.save(out)
    return lex
