"""The one CSV writer of the project (the page's download, ``ner-batch``, ``python -m ner --format csv``):
RFC 4180 rows whose every text cell a spreadsheet reads as text, never as a formula.

One column order for every CSV: one row per entity, its fields in :data:`ENTITY_FIELDS` order
(``text,type,start,end,score,source``, as :meth:`ner.Entity.to_dict`); a CSV of many records (``ner-batch``)
leads each row with the record's ``id`` (:data:`RECORD_FIELDS`).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

#: A cell starting with one of these is a formula to a spreadsheet program (OWASP "CSV Injection"; ASVS adds NUL).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
#: Entity rows: the fields of :meth:`ner.Entity.to_dict`, in this order.
ENTITY_FIELDS = ["text", "type", "start", "end", "score", "source"]
#: Entity rows of a CSV of many records: the record's id, then :data:`ENTITY_FIELDS`.
RECORD_FIELDS = ["id", *ENTITY_FIELDS]


def safe_cell(value):
    """``value`` as a spreadsheet will read it as plain text: a string starting with = + - @ tab, CR or NUL
    gets a leading ``'`` (OWASP's rule; the quote is shown, the formula never runs).  Numbers are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_rows(rows: Iterable[Sequence]) -> str:
    """``rows`` as CSV text: CRLF line ends (so a CR or LF inside a cell is quoted), every cell :func:`safe_cell`."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([safe_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def entity_rows(entities: Iterable[dict], record_id=None) -> list[list]:
    """One row per entity dict (``Entity.to_dict`` shape) in :data:`ENTITY_FIELDS` order, led by ``record_id``
    when given (the rows of :data:`RECORD_FIELDS`)."""
    lead = [] if record_id is None else [record_id]
    return [[*lead, *(e[k] for k in ENTITY_FIELDS)] for e in entities]


def entities_csv(entities: Iterable[dict]) -> str:
    """A header row of :data:`ENTITY_FIELDS`, then one row per entity dict (``Entity.to_dict`` shape)."""
    return csv_rows([ENTITY_FIELDS, *entity_rows(entities)])
