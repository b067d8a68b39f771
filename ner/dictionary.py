"""User dictionaries: entries that force an entity onto the text, or block one of the model's spans.

The file is UTF-8, one entry per line; what people type into the page's box is read the same way::

    # comments start with '#' (at the start of a line, or after a space or tab)
    字节跳动<TAB>ORG        a forced entry: every occurrence of 字节跳动 is an ORG
    字节跳动 ORG            the same: a space, comma or colon also separates text and type
    字节跳动：机构名         (full-width ones too), and a type may be given by its Chinese name
    -星巴克<TAB>PER         a blocked entry: the model's PER span 星巴克 is removed
    -星巴克                 blocked whatever type the model gave it

With a tab on the line, the tab separates text and type (so the text may hold spaces:
``Bank of China<TAB>ORG``); without one, the type is the last word after the last run of
spaces, commas or colons.  A type is a code (``ORG``) or a name: 人名, 地名, 机构名 for
PER, LOC, ORG, and the model's ``display_names`` for the others
(:meth:`Dictionary.resolve`, which the recognizer applies).

Semantics, applied after the model (:meth:`Dictionary.apply`):

1. Blocked entries remove every predicted span whose text is the entry's text and whose
   type is the entry's type (any type when the entry names none).
2. Forced entries are matched on the caller's own string (one Aho-Corasick pass, :class:`Matcher`),
   exactly and case-sensitively, in time linear in the text whatever the entries.  Where matches overlap, the leftmost wins, and of those
   starting at the same character the longest.  An entry that begins (ends) with an ASCII
   letter or digit does not match when the text continues with one there, so ``Apple``
   does not match inside ``Pineapple``; CJK text, emoji and punctuation are no boundary
   problem (``用字节跳动😀`` matches ``字节跳动``).
3. A forced match wins over every model span it overlaps: those spans are dropped and
   the match is added with ``score`` 1.0 and ``source`` ``"dictionary"``.

Offsets are half-open code-point offsets into the caller's string, like every
:class:`~ner.entity.Entity`, so ``text[e.start:e.end] == e.text`` holds for dictionary
entities too.  When two dictionaries apply (the recognizer's own and a per-call one),
they apply in that order: the second one's blocked entries can also remove the first
one's matches, and its forced entries win over both.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .entity import TYPE_NAMES, Entity
from .errors import FormatError

SOURCE = "dictionary"
_LABEL = re.compile(r"[^\W\d][\w.]*")
_CODES = {name: code for code, name in TYPE_NAMES.items()}
#: a comment: '#' at the start of the line or after whitespace, to the end of the line
_COMMENT = re.compile(r"(?:^|\s)#.*", re.S)
#: TEXT, then a run of separators (spaces, commas, colons; full-width too), then the last word: the type
_SPLIT = re.compile(r"(.*?)[\s,，:：]+([^\s,，:：]+)", re.S)


@dataclass(frozen=True)
class DictEntry:
    """One line of a dictionary: ``label`` is ``None`` only for a block of every type."""

    text: str
    label: str | None
    blocked: bool = False
    line: int = 0


@functools.lru_cache(maxsize=1024)
def _valid_label(label: str) -> bool:
    return bool(_LABEL.fullmatch(label))


def parse_line(raw: str, where: str, lineno: int) -> DictEntry | None:
    """The entry of one line (``None`` for a blank or comment line); ``FormatError`` names ``where:lineno``
    and has the fields ``line``, ``kind`` (``"text"``, ``"type-missing"``, ``"tabs"`` or ``"label"``) and
    ``value`` (the line)."""
    line = raw.rstrip("\r\n")
    body = _COMMENT.sub("", line).rstrip()  # a leading tab stays: "<TAB>ORG" is an entry without text
    if not body.strip():
        return None
    blocked = body.lstrip().startswith("-")
    if blocked:
        body = body.lstrip()[1:]
    if "\t" in body:
        text, _, label = body.partition("\t")
        if "\t" in label.strip():
            raise FormatError.at(where, lineno, f"expected TEXT<TAB>TYPE, found more than one tab in {line!r}",
                                 "tabs", line)
    else:
        split = _SPLIT.fullmatch(body.strip())
        text, label = (split.group(1), split.group(2)) if split else (body, "")
    text, label = text.strip(), label.strip()
    if not text:
        raise FormatError.at(where, lineno, f"the entry has no text: {line!r}", "text", line)
    if not label and not blocked:
        raise FormatError.at(where, lineno, f"expected TEXT and TYPE separated by a tab, spaces, a comma or a "
                                            f"colon (for example 字节跳动 ORG), found no type in {line!r}",
                             "type-missing", line)
    if label and not _valid_label(label):
        raise FormatError.at(where, lineno, f"{label!r} is not a type name (letters, digits, '_' or '.', "
                                            f"for example ORG)", "label", label)
    return DictEntry(text, label or None, blocked, lineno)


class Dictionary:
    """Forced and blocked entries, matched with one Aho-Corasick automaton; immutable and thread-safe."""

    def __init__(self, entries: Iterable[DictEntry] = (), name: str = "<dictionary>"):
        self.name = name
        #: text -> (type, line) of each forced entry; (text, type or None) -> line of each blocked one
        self.forced: dict[str, tuple[str, int]] = {}
        self.blocked: dict[tuple[str, str | None], int] = {}
        for e in entries:
            self._add(e)
        self._build()

    def _add(self, e: DictEntry) -> None:
        if e.blocked:
            self.blocked.setdefault((e.text, e.label), e.line)
            return
        seen = self.forced.setdefault(e.text, (e.label, e.line))  # type: ignore[arg-type]
        if not _same_type(seen[0], e.label):
            raise _conflict(self.name, e.line, e.text, e.label, seen)

    def _build(self) -> None:
        self._matcher = Matcher((text, label) for text, (label, _) in self.forced.items()) if self.forced else None

    @classmethod
    def parse(cls, text: str, name: str = "<dictionary>") -> "Dictionary":
        """A dictionary from the lines of ``text`` (for example what a visitor typed); errors name ``name:line``."""
        d = cls((), name)
        forced = d.forced
        ok: dict[str, bool] = {}
        for n, raw in enumerate(text.split("\n"), 1):
            word, tab, label = raw.partition("\t")
            label = label[:-1] if label.endswith("\r") else label
            # the common line, TEXT<TAB>TYPE with nothing to trim, without the general parser's work
            if (tab and word and word[0] != "-" and "#" not in word and not word[0].isspace()
                    and not word[-1].isspace()):
                valid = ok.get(label)
                if valid is None:
                    valid = ok[label] = "\t" not in label and _valid_label(label)
                if valid:
                    seen = forced.setdefault(word, (label, n))
                    if seen[0] != label and not _same_type(seen[0], label):
                        raise _conflict(name, n, word, label, seen)
                    continue
            entry = parse_line(raw, name, n)
            if entry is not None:
                d._add(entry)
        d._build()
        return d

    @classmethod
    def load(cls, path: str | Path) -> "Dictionary":
        """Read a UTF-8 dictionary file (a byte-order mark is allowed)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FormatError(f"cannot read the dictionary {str(path)!r}: {exc.strerror}", where=str(path),
                              kind="io") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise FormatError.at(str(path), line, f"not UTF-8 (byte {data[exc.start]:#04x}); save the dictionary "
                                                  f"as UTF-8", "encoding") from None
        return cls.parse(text, str(path))

    def __len__(self) -> int:
        return len(self.forced) + len(self.blocked)

    def __repr__(self) -> str:
        return f"Dictionary({self.name!r}, forced={len(self.forced)}, blocked={len(self.blocked)})"

    @property
    def types(self) -> set[str]:
        """Every type an entry names."""
        return {label for label, _ in self.forced.values()} | {label for _, label in self.blocked if label}

    def check_types(self, types: Sequence[str]) -> None:
        """Raise ``FormatError`` naming the first entry whose type is not one of ``types`` (the model's)."""
        self.resolve(types)

    def resolve(self, types: Sequence[str], names: Mapping[str, str] | None = None) -> "Dictionary":
        """This dictionary with every type name turned into one of ``types`` (the model's): a type code stays,
        人名/地名/机构名 and ``names`` (type -> display name, e.g. the model's ``{"PRODUCT": "产品"}``) become
        their type.  ``self`` when nothing changes; ``FormatError`` (``kind="type"``) names the first entry
        whose type is none of them."""
        if self.types <= set(types):
            return self
        known = {**{TYPE_NAMES[t]: t for t in types if t in TYPE_NAMES},
                 **{name: t for t, name in (names or {}).items() if t in types}, **{t: t for t in types}}
        unknown = self.types - set(known)
        if unknown:
            bad = [(line, text, label) for text, (label, line) in self.forced.items() if label in unknown]
            bad += [(line, text, label) for (text, label), line in self.blocked.items() if label in unknown]
            line, text, label = min(bad)
            aliases = [name for name, t in known.items() if name != t]
            choices = ", ".join(types) + (f"; or their names {', '.join(aliases)}" if aliases else "")
            raise FormatError.at(self.name, line, f"type {label!r} of {text!r} is not one of the model's types "
                                                  f"({choices})", "type", label)
        entries = [DictEntry(text, known[label], False, line) for text, (label, line) in self.forced.items()]
        entries += [DictEntry(text, label and known[label], True, line)
                    for (text, label), line in self.blocked.items()]
        return Dictionary(sorted(entries, key=lambda e: e.line), self.name)

    def matches(self, text: str) -> list[Entity]:
        """The forced entries found in ``text``: leftmost, then longest, non-overlapping, sorted."""
        if self._matcher is None or not text:
            return []
        return [Entity(start, end, label, text[start:end], 1.0, SOURCE) for start, end, label in self._matcher(text)]

    def apply(self, text: str, entities: Sequence[Entity]) -> list[Entity]:
        """``entities`` of ``text`` (sorted, non-overlapping) with this dictionary applied (see the module doc)."""
        kept = list(entities)
        if self.blocked:
            kept = [e for e in kept if (e.text, e.label) not in self.blocked and (e.text, None) not in self.blocked]
        forced = self.matches(text)
        if not forced:
            return kept
        starts = [f.start for f in forced]
        ends = [f.end for f in forced]

        def overlaps(e: Entity) -> bool:
            k = bisect.bisect_right(starts, e.start) - 1  # the last forced span starting at or before e
            return (k >= 0 and ends[k] > e.start) or (k + 1 < len(starts) and starts[k + 1] < e.end)

        return sorted([e for e in kept if not overlaps(e)] + forced)


#: The units matching works on: a run of ASCII letters and digits is one (an entry never starts or ends inside
#: one, so ``Apple`` is not found in ``Pineapple``), every other character is one.
_UNIT = re.compile(r"[A-Za-z0-9]+|.", re.S)
#: Unit numbers are below this (the key of an edge is state * _WIDTH + unit number).
_WIDTH = 1 << 22


class Matcher:
    """Leftmost-longest, non-overlapping matching of many strings in one pass: time linear in the text.

    Reporting every overlapping match and choosing afterwards costs (text length x entries nested in each
    other): 300 entries 张, 张张, ... over "张" * 50,000 are 15 million matches.  Instead the automaton is built
    over the entries *reversed* and run over the text backwards: in the state reached at a character, the
    longest entry that is a suffix of what was read (one look-up, computed at build time) is the longest entry
    that *starts* at that character.  A greedy walk forwards over those starts (take the one at the leftmost
    free character, skip to its end) is then exactly the leftmost-longest rule, with a bounded amount of work
    per character.  (``pyahocorasick``'s ``iter_long`` means to do the same, but misses matches: 2.3.1 finds
    nothing of 知识产权 in 国家知识产权 when 国家知识产权局 is an entry.)
    """

    def __init__(self, entries: Iterable[tuple[str, str]]):
        #: each distinct unit of the entries -> a small number; every state's edges in one dict keyed by
        #: state * _WIDTH + unit number (a dict per state would cost four times the memory)
        self._ids: dict[str, int] = {}
        goto: dict[int, int] = {}
        parent, via = array("l", [0]), array("l", [0])  # per state: the state before it, the unit number between
        #: per state: the entry it completes, as (units, characters, label), or None
        term: list[tuple[int, int, str] | None] = [None]
        for text, label in entries:
            units = _UNIT.findall(text)
            state = 0
            for unit in reversed(units):
                uid = self._ids.setdefault(unit, len(self._ids))
                nxt = goto.get(state * _WIDTH + uid)
                if nxt is None:
                    nxt = goto[state * _WIDTH + uid] = len(term)
                    parent.append(state)
                    via.append(uid)
                    term.append(None)
                state = nxt
            term[state] = (len(units), len(text), label)
        if len(self._ids) >= _WIDTH:
            raise ValueError(f"a dictionary may hold at most {_WIDTH - 1:,} distinct characters and words")
        fail = array("l", bytes(len(term) * array("l").itemsize))
        longest = term  # the longest entry that is a suffix of the state's string (filled in below)
        depth = array("l", [0]) * len(term)
        for state in range(1, len(term)):  # a parent is always created before its children
            depth[state] = depth[parent[state]] + 1
        for state in sorted(range(1, len(term)), key=depth.__getitem__):  # breadth first
            f, uid = fail[parent[state]], via[state]
            if parent[state]:
                while f and f * _WIDTH + uid not in goto:
                    f = fail[f]
                fail[state] = f = goto.get(f * _WIDTH + uid, 0)
            if longest[state] is None:
                longest[state] = longest[fail[state]]
        self._goto, self._fail, self._longest = goto, fail, longest

    def __call__(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, label)`` of each match in ``text``, in order; code-point offsets."""
        units = _UNIT.findall(text)
        ids, goto, fail, longest = self._ids, self._goto, self._fail, self._longest
        starts: list[tuple[int, tuple[int, int, str]]] = []  # (unit index, the longest entry starting there)
        state, i = 0, len(units)
        for unit in reversed(units):
            i -= 1
            uid = ids.get(unit)
            if uid is None:  # in no entry: back to the start
                state = 0
                continue
            nxt = goto.get(state * _WIDTH + uid)
            while nxt is None and state:
                state = fail[state]
                nxt = goto.get(state * _WIDTH + uid)
            state = nxt or 0
            found = longest[state]
            if found is not None:
                starts.append((i, found))
        if not starts:
            return []
        offset = list(itertools.accumulate(map(len, units), initial=0)) if len(units) != len(text) else None
        out, free = [], 0
        for i, (n_units, n_chars, label) in reversed(starts):
            if i >= free:
                free = i + n_units
                start = offset[i] if offset else i
                out.append((start, start + n_chars, label))
        return out


def _same_type(a: str | None, b: str | None) -> bool:
    """Whether two type names written in a dictionary name one type (``ORG`` and ``机构名``)."""
    return a == b or (a is not None and b is not None and _CODES.get(a, a) == _CODES.get(b, b))


def _conflict(where: str, line: int, text: str, label: str | None, seen: tuple[str, int]) -> FormatError:
    return FormatError.at(where, line, f"{text!r} is forced as {label} here but as {seen[0]} on line {seen[1]}; "
                                       f"keep one", "conflict", text)


def as_dictionary(value: "str | Path | Dictionary | None") -> Dictionary | None:
    """A :class:`Dictionary` from a path or an existing one (``None`` stays ``None``)."""
    if value is None or isinstance(value, Dictionary):
        return value
    if isinstance(value, (str, Path)):
        return Dictionary.load(value)
    raise TypeError(f"dictionary must be a path or a ner.Dictionary, not {type(value).__name__}")
