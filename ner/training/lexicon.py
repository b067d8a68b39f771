"""Building the lexicon feature table from word lists (``data/lexicon``), jieba's dictionary and mined names."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from .._optional import require
from ..features import LEXICON_TYPES, TYPE_BITS, aux_bits, build_lexicon
from ..tokenizer import TextTokenizer

#: lexicon sources by short name -> (file under data/lexicon, type bit); "jieba" is the jieba package's dict.
#: "corp" (company short names and brands, noisy) is its own feature type, never merged into ORG.
LEXICON_FILES = {"per": ("per.txt", TYPE_BITS["PER"]), "loc": ("loc.txt", TYPE_BITS["LOC"]),
                 "org": ("org.txt", TYPE_BITS["ORG"]), "corp": ("org_company_short_wainshine.txt", TYPE_BITS["CORP"])}
#: the project's own name lists, written by :mod:`ner.training.latin` (brands) and by hand (products)
LISTS = Path(__file__).resolve().with_name("lists")
BRANDS = LISTS / "brands.tsv"
PRODUCTS = LISTS / "products.txt"


def read_names(path: Path) -> list[str]:
    """Names of a list file: the first tab-separated field of each line, ``#`` comments and blanks skipped."""
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n").split("\t")[0] for line in fh if line.strip() and not line.startswith("#")]


#: the project's own lists (ner/training/lists, see :mod:`ner.training.latin`): "brand" adds Latin-script and
#: today's brand names to CORP; "prod" is a sixth type, PROD (products, models, software: no entity).
LIST_FILES = {"brand": (BRANDS, TYPE_BITS["CORP"]), "prod": (PRODUCTS, TYPE_BITS["PROD"])}
LEXICON_SOURCES = ("per", "loc", "org", "jieba", "corp", "brand", "prod")
JIEBA_TAGS = {"nr": TYPE_BITS["PER"], "ns": TYPE_BITS["LOC"], "nt": TYPE_BITS["ORG"]}
PROPER_TAGS = {"nr", "nrt", "nrfg", "nt", "nz"}  # proper nouns that are not places (ns)


def lexicon_types(sources: Sequence[str]) -> list[str]:
    """The feature types a lexicon built from ``sources`` has: CORP (and then PROD) join the four only when asked
    for; type bits are positions, so PROD brings CORP's column along, empty or not."""
    if "prod" in sources:
        return list(LEXICON_TYPES) + ["CORP", "PROD"]
    return list(LEXICON_TYPES) + (["CORP"] if {"corp", "brand"} & set(sources) else [])


def mined_names(path: Path) -> Iterator[tuple[str, str]]:
    """``(name, type)`` of each entry of a mined-names file (``name<TAB>type<TAB>count<TAB>source`` lines, ``#``
    comments, as :mod:`ner.training.silver` writes it): the one reader of that format."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip() or line.startswith("#"):
                continue
            name, label = line.rstrip("\n").split("\t")[:2]
            yield name, label


def mined_bits(path: Path) -> dict[str, int]:
    """A mined-names file's PER/LOC/ORG names of two characters or more, as lexicon type bits."""
    entries: dict[str, int] = {}
    for name, label in mined_names(path):
        if label in ("PER", "LOC", "ORG") and len(name) >= 2:
            entries[name] = entries.get(name, 0) | TYPE_BITS[label]
    return entries


def read_lexicon_entries(data_dir: Path, sources: Sequence[str], mined: Path | None = None) -> dict[str, int]:
    proper, common = aux_bits(len(lexicon_types(sources)))
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
                    bits = TYPE_BITS["WORD"] | JIEBA_TAGS.get(tag, 0) | (proper if tag in PROPER_TAGS else common)
                    entries[word] = entries.get(word, 0) | bits
            continue
        if name in LIST_FILES:
            path, bit = LIST_FILES[name]
            words = read_names(path)
        else:
            fname, bit = LEXICON_FILES[name]
            with open(data_dir / "lexicon" / fname, encoding="utf-8") as fh:
                words = [line.strip() for line in fh]
        for word in words:
            if len(word) >= 2:
                entries[word] = entries.get(word, 0) | bit
    if mined:
        for word, bits in mined_bits(mined).items():
            entries[word] = entries.get(word, 0) | bits
    return entries


def build_lexicon_file(data_dir: Path, sources: Sequence[str], tok: TextTokenizer, out: Path, mined: Path | None = None):
    """Hash the lexicon ``sources`` (and a mined-names file) through ``tok`` into ``out`` (lexicon.npz)."""
    entries = read_lexicon_entries(data_dir, sources, mined)
    words = list(entries)
    ids_of = {w: [int(i) for i in e.ids] for w, e in zip(words, tok.encode_batch(words))}
    lex = build_lexicon(entries, tok.vocab, lexicon_types(sources), lambda w: ids_of[w])
    lex.save(out)
    return lex
