"""The inputs of a batch run: finding the files, reading their records from a cursor, cutting them into chunks.

Every reader (``.txt``: one document per file; JSONL; CSV/TSV; Parquet) yields ``(cursor after it, record)``,
so a run can stop after any record and resume from the cursor it saved.  A record that cannot be annotated is
a :class:`Malformed` with its file and line; the run logs and skips it (``--strict``: stops at it).  Texts and
ids follow the decoding rule of every entry point (:mod:`ner.textio`).
"""
from __future__ import annotations

import csv
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from .._optional import require
from ..errors import BatchError, StrictStop
from ..textio import decode_bytes, well_formed
from .files import SURROGATE, Source, Stream, decode, lines, open_stream

log = logging.getLogger(__name__)

#: Default limits: characters of one record (as the server's NER_MAX_CHARS), and the size of one chunk.
MAX_CHARS = 100_000
CHUNK_CHARS = 50_000
CHUNK_RECORDS = 256
#: Bytes a UTF-8 character may take: a line (or file) longer than 4 * max_chars + this is refused unread.
LINE_SLACK = 64 * 1024
#: The field a record's id is taken from when ``--id-column`` is not given (and the record has one).
ID_FIELD = "id"
#: What a record's id may be: a JSON scalar, kept as it was in a JSONL input.
RecordId = str | int | float | bool


@dataclass(frozen=True)
class Record:
    """One text to annotate, the id its output carries and the input fields it passes through
    (``--keep-fields``, in that order)."""

    id: RecordId
    text: str
    fields: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Malformed:
    """A record that cannot be annotated: where it is (file and line) and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class Cursor:
    """How far one source was read: byte offset (row for Parquet), records seen, lines read."""

    offset: int = 0
    ordinal: int = 0
    line: int = 0


@dataclass(frozen=True)
class BatchOptions:
    """What decides the content of the output (and so must not change between a run and its resumption)."""

    text_column: str = "text"
    #: the id field; None: the record's "id" field when it has one, else INPUT:N
    id_column: str | None = None
    max_chars: int = MAX_CHARS
    #: of JSONL and CSV inputs: "auto" detects it per file (byte-order mark, then the detector), as for .txt
    encoding: str = "auto"
    #: input fields copied into each output record (JSONL output)
    keep_fields: tuple[str, ...] = ()

    @property
    def max_line_bytes(self) -> int:
        return 4 * self.max_chars + LINE_SLACK


def read_source(src: Source, start: Cursor, opts: BatchOptions) -> Iterator[tuple[Cursor, Record | Malformed]]:
    """``(cursor after it, record)`` for each record of ``src`` from ``start`` on."""
    readers = {"txt": _read_txt, "jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}
    return readers[src.kind](src, start, opts)


def _read_txt(src: Source, start: Cursor, opts: BatchOptions):
    if start.ordinal:
        return
    size = src.path.stat().st_size
    done = Cursor(size, 1, 0)
    if size > opts.max_line_bytes:
        yield done, Malformed(src.name, f"{size} bytes is more than --max-chars {opts.max_chars} characters can take")
        return
    with open(src.path, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            yield done, Malformed(src.name, "not a regular file")
            return
        data = fh.read(opts.max_line_bytes + 1)
    if len(data) > opts.max_line_bytes:
        yield done, Malformed(src.name, f"it grew past what --max-chars {opts.max_chars} characters can take")
        return
    text, encoding, confident = decode_bytes(data)
    if not confident:
        log.warning("%s: the encoding is a guess (%s)", src.name, encoding)
    yield done, _checked(Record(src.name, text), src.name, opts)


def _checked(rec: Record, where: str, opts: BatchOptions) -> Record | Malformed:
    if len(rec.text) > opts.max_chars:
        return Malformed(where, f"{len(rec.text)} characters is over --max-chars {opts.max_chars}")
    return rec


def _read_jsonl(src: Source, start: Cursor, opts: BatchOptions):
    ordinal, line_no = start.ordinal, start.line
    stream = open_stream(src, opts.encoding)
    with open(src.path, "rb") as fh:
        for offset, line in lines(fh, max(start.offset, stream.bom), opts.max_line_bytes, stream.newline):
            line_no += 1
            decoded = "" if line is None else decode(line, stream.encoding)
            if line is not None and not decoded.strip():
                continue  # blank lines are not records
            ordinal += 1
            where = f"{src.name} line {line_no}"
            cursor = Cursor(offset, ordinal, line_no)
            if line is None:
                yield cursor, Malformed(where, f"the line is over {opts.max_line_bytes} bytes (--max-chars "
                                               f"{opts.max_chars})")
                continue
            _warn_unreadable(decoded, where, stream.encoding)
            try:
                obj = json.loads(decoded)
            except ValueError as exc:  # bad syntax or escapes, an integer of more than 4,300 digits
                yield cursor, Malformed(where, f"not valid JSON ({exc})")
                continue
            except RecursionError:
                yield cursor, Malformed(where, "not valid JSON (nested too deeply to read)")
                continue
            if not isinstance(obj, dict):
                yield cursor, Malformed(where, f"a JSON {type(obj).__name__}, not an object with a "
                                               f"{opts.text_column!r} field")
                continue
            yield cursor, _field_record(obj.get, src, ordinal, where, opts)


def _field_record(get, src: Source, ordinal: int, where: str, opts: BatchOptions) -> Record | Malformed:
    """The record of one JSON object or CSV row, by the text and id columns."""
    text = get(opts.text_column)
    if not isinstance(text, str):
        what = "missing" if text is None else f"a {type(text).__name__}, not a string"
        return Malformed(where, f"the text column {opts.text_column!r} is {what}")
    rid: RecordId
    if opts.id_column is None:
        value = get(ID_FIELD)
        # a record's own id, as it was (an integer stays an integer); else its place in the input
        rid = value if isinstance(value, (str, int, float, bool)) else f"{src.name}:{ordinal}"
    else:
        value = get(opts.id_column)
        if value is None or isinstance(value, (dict, list)):
            return Malformed(where, f"the id column {opts.id_column!r} is missing or not a plain value")
        rid = value
    if isinstance(rid, str):
        rid = well_formed(rid)
    fields = tuple((name, get(name)) for name in opts.keep_fields)
    for name, value in fields:
        if isinstance(value, (dict, list)):
            try:
                json.dumps(value, ensure_ascii=False)
            except (RecursionError, ValueError):
                return Malformed(where, f"the field {name!r} is nested too deeply to be written back")
    return _checked(Record(rid, well_formed(text), fields), where, opts)


def _warn_unreadable(decoded: str, where: str, encoding: str) -> None:
    """Log how many bytes of a record were not ``encoding`` (each becomes U+FFFD)."""
    bad = len(SURROGATE.findall(decoded))
    if bad:
        log.warning("%s: %d byte(s) that are not %s text read as U+FFFD (set --encoding if the file is in "
                    "another encoding)", where, bad, encoding)


def _read_csv(src: Source, start: Cursor, opts: BatchOptions):
    csv.field_size_limit(opts.max_line_bytes)
    delimiter = "\t" if src.path.suffix.lower() == ".tsv" else ","
    stream = open_stream(src, opts.encoding)
    with open(src.path, "rb") as fh:
        lines = _CsvLines(fh, opts, stream)
        try:
            header = next(csv.reader(lines.read(0, 0), delimiter=delimiter))
        except StopIteration:
            return
        for column in (opts.text_column, opts.id_column, *opts.keep_fields):
            if column is not None and column not in header:
                raise BatchError(f"{src.name}: no column {column!r} in the header ({', '.join(header)}); "
                                 f"set --text-column / --id-column / --keep-fields")
        ordinal = start.ordinal
        offset, line_no = (start.offset, start.line) if start.offset else (lines.offset, lines.line)
        reader = csv.reader(lines.read(offset, line_no), delimiter=delimiter)
        while True:
            first = lines.line + 1
            try:
                row, problem = next(reader), None
            except StopIteration:
                return
            except csv.Error as exc:
                row, problem = [], str(exc)
            if lines.problem:
                problem, lines.problem = lines.problem, None
            if not row and problem is None:
                continue  # blank lines are not records
            ordinal += 1
            cursor, where = Cursor(lines.offset, ordinal, lines.line), f"{src.name} line {first}"
            if problem is None and len(row) != len(header):
                problem = f"{len(row)} fields, the header has {len(header)}"
            if problem is not None:
                yield cursor, Malformed(where, problem)
                continue
            _warn_unreadable("".join(row), where, lines.stream.encoding)
            yield cursor, _field_record(dict(zip(header, row)).get, src, ordinal, where, opts)


class _CsvLines:
    """The lines of a CSV file for :mod:`csv`, keeping the byte offset and line number after each one.

    An undecodable byte stays a lone surrogate (``surrogateescape``) so its record can be reported; a line over
    the limit is replaced by an empty one and noted in ``problem``."""

    def __init__(self, fh, opts: BatchOptions, stream: Stream):
        self.fh, self.opts, self.stream = fh, opts, stream
        self.offset = self.line = 0
        self.problem: str | None = None

    def read(self, offset: int, line: int) -> Iterator[str]:
        self.line = line
        # a byte-order mark at the start of the file is not part of the first column's name
        for end, raw in lines(self.fh, max(offset, self.stream.bom), self.opts.max_line_bytes, self.stream.newline):
            self.offset, self.line = end, self.line + 1
            if raw is None:
                self.problem = f"the line is over {self.opts.max_line_bytes} bytes (--max-chars {self.opts.max_chars})"
                yield "\n"
            else:
                yield decode(raw, self.stream.encoding)


def _read_parquet(src: Source, start: Cursor, opts: BatchOptions):
    pq = require("pyarrow.parquet", "Reading Parquet")
    pf = pq.ParquetFile(src.path)
    names = pf.schema_arrow.names
    columns = [c for c in (opts.text_column, opts.id_column, *opts.keep_fields) if c is not None]
    for column in columns:
        if column not in names:
            raise BatchError(f"{src.name}: no column {column!r} ({', '.join(names)}); set --text-column / "
                             f"--id-column / --keep-fields")
    if opts.id_column is None and ID_FIELD in names and ID_FIELD not in columns:
        columns.append(ID_FIELD)  # the records' own ids
    rows, size = max(1, pf.metadata.num_rows), src.path.stat().st_size
    groups: list[int] = []
    seen = 0
    for g in range(pf.num_row_groups):  # whole row groups before the cursor are not read at all
        n = pf.metadata.row_group(g).num_rows
        if not groups and seen + n <= start.offset:
            seen += n
        else:
            groups.append(g)
    row, ordinal = seen, start.ordinal
    if not groups:
        return
    for batch in pf.iter_batches(batch_size=1024, row_groups=groups, columns=columns):
        data = batch.to_pydict()
        for k in range(batch.num_rows):
            row += 1
            if row <= start.offset:
                continue
            ordinal += 1
            # the offset is the row; the line field carries the bytes read so far, for the progress bar
            cursor = Cursor(row, ordinal, size * row // rows)
            values = {c: data[c][k] for c in columns}
            yield cursor, _field_record(values.get, src, ordinal, f"{src.name} row {row}", opts)


@dataclass
class Chunk:
    """Records read in a row, and where the inputs stand after them."""

    records: list[Record] = field(default_factory=list)
    skipped: int = 0
    chars: int = 0
    source: int = 0
    cursor: Cursor = Cursor()
    done_bytes: int = 0


def read_chunks(sources: list[Source], source: int, cursor: Cursor, opts: BatchOptions, strict: bool,
                chunk_chars: int = CHUNK_CHARS, chunk_records: int = CHUNK_RECORDS) -> Iterator[Chunk]:
    """The records of ``sources`` from ``(source, cursor)`` on, in chunks of bounded size; malformed ones are
    logged and counted (or raise :class:`BatchError` when ``strict``)."""
    before = [0]
    for s in sources:
        before.append(before[-1] + s.path.stat().st_size)
    read = _bytes_read(sources[source], cursor) if source < len(sources) else 0
    chunk = Chunk(source=source, cursor=cursor, done_bytes=before[source] + read)
    for i in range(source, len(sources)):
        start = cursor if i == source else Cursor()
        for cur, item in read_source(sources[i], start, opts):
            if isinstance(item, Malformed):
                if strict:
                    if chunk.records or chunk.skipped:
                        yield chunk
                    raise StrictStop(f"{item.where}: {item.reason} (--strict stops here; without it the record "
                                     f"is skipped)")
                log.warning("%s: %s; skipped", item.where, item.reason)
                chunk.skipped += 1
            else:
                chunk.records.append(item)
                chunk.chars += len(item.text)
            chunk.source, chunk.cursor = i, cur
            chunk.done_bytes = before[i] + _bytes_read(sources[i], cur)
            if chunk.chars >= chunk_chars or len(chunk.records) >= chunk_records:
                yield chunk
                chunk = Chunk(source=i, cursor=cur, done_bytes=chunk.done_bytes)
    chunk.source, chunk.cursor, chunk.done_bytes = len(sources), Cursor(), before[-1]
    yield chunk  # the last one, perhaps empty: it marks the inputs as read to the end


def _bytes_read(src: Source, cursor: Cursor) -> int:
    return cursor.line if src.kind == "parquet" else cursor.offset
