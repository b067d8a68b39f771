"""Corpus-scale NER: stream files of texts through worker processes into JSONL, CSV or Parquet, resumably.

    python -m ner.batch INPUT... --out OUT [--workers N] [--text-column text] [--id-column id] [--keep-fields a b]
    ner-batch INPUT... --out OUT            (the same, as a console script)

Inputs: ``.txt`` files or folders of them (one document per file, encoding detected
by :func:`ner.textio.decode_bytes`), ``.jsonl``/``.ndjson`` (one JSON object per line),
``.csv``/``.tsv`` (a header row) and ``.parquet``.  The output format follows the
suffix of ``--out``: ``.jsonl`` (one line per record: ``{"id", "entities"}``, plus the fields named by
``--keep-fields``, copied as they are), ``.csv`` (one row per entity: id, type, start, end, text, score,
source; a cell starting like a spreadsheet formula gets a leading ``'``) or ``.parquet`` (one row per
record, ``entities`` a list of structs).  Entities have the shape of
:meth:`ner.Entity.to_dict`, as every API returns them.  A record's id is its ``--id-column`` field;
without that option, its ``id`` field when it has one (in JSONL with its JSON type: an integer
stays an integer), else ``INPUT:N``, the N-th record of INPUT.

The run streams: inputs are read line by line (or Parquet batch by batch) in chunks
of a bounded size, at most two chunks per worker are in flight, so memory does not
grow with the input.  Output is written in input order.  After each chunk the
output is flushed and a sidecar ``OUT.progress.json`` records how far the inputs
were read and how long the output was; running the same command again after an
interruption (Ctrl-C, a kill, a crash) cuts the output back to that point and
goes on from there, so every record is written exactly once.  A malformed record
(bad JSON, a missing text column, too many characters) is reported with its line
and skipped; ``--strict`` stops at the first one instead.  Texts and ids follow the decoding rule of every
entry point (:mod:`ner.textio`): a byte that is not part of a character (logged with its line) and a lone
surrogate (a JSON ``"\\ud800"``) become U+FFFD, one for one.
"""
from __future__ import annotations

import collections
import csv
import json
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from .._optional import require
from ..csvout import csv_rows
from ..errors import NerError
from ..textio import well_formed

log = logging.getLogger(__name__)

#: Input kinds by file suffix.
KINDS = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
#: Output formats by the suffix of ``--out``.
FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
#: Columns of the CSV output: one row per entity.
CSV_COLUMNS = ["id", "type", "start", "end", "text", "score", "source"]
#: Default limits: characters of one record (as the server's NER_MAX_CHARS), and the size of one chunk.
MAX_CHARS = 100_000
CHUNK_CHARS = 50_000
CHUNK_RECORDS = 256
#: Windows per ONNX Runtime call in a worker: 16 keeps a worker near 145 MB (32: 175 MB) at the same speed.
BATCH_SIZE = 16
#: Characters per recognize_batch call inside a chunk (see :func:`annotate_texts`).
CALL_CHARS = 8_000
#: Bytes a UTF-8 character may take: a line (or file) longer than 4 * max_chars + this is refused unread.
LINE_SLACK = 64 * 1024
PROGRESS_VERSION = 1


class BatchError(NerError):
    """A batch run that cannot start or go on; the message says what to change."""


class StrictStop(BatchError):
    """``--strict``: the run stopped at a malformed record (everything before it is written)."""


class WorkerDied(BrokenProcessPool):
    """A worker of a pool that is not a process pool (a Ray actor) died with a chunk in hand."""


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
class Source:
    """One input file; ``name`` (the path as given) prefixes the default ids ``name:1``, ``name:2``..."""

    path: Path
    kind: str
    name: str


@dataclass(frozen=True)
class Cursor:
    """How far one source was read: byte offset (row for Parquet), records seen, lines read."""

    offset: int = 0
    ordinal: int = 0
    line: int = 0


@dataclass(frozen=True)
class Options:
    """What decides the content of the output (and so must not change between a run and its resumption)."""

    text_column: str = "text"
    #: the id field; None: the record's "id" field when it has one, else INPUT:N
    id_column: str | None = None
    max_chars: int = MAX_CHARS
    encoding: str = "utf-8"
    #: input fields copied into each output record (JSONL output)
    keep_fields: tuple[str, ...] = ()

    @property
    def max_line_bytes(self) -> int:
        return 4 * self.max_chars + LINE_SLACK


# ---------------------------------------------------------------- inputs


def find_sources(inputs: list[str | Path]) -> list[Source]:
    """Each input file, and each ``.txt`` file under an input folder (sorted), in the order given."""
    sources: list[Source] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".txt")
            if not files:
                raise BatchError(f"folder {str(given)!r} holds no .txt files")
            sources += [Source(p, "txt", str(Path(given) / p.relative_to(path))) for p in files]
        elif path.is_file():
            kind = KINDS.get(path.suffix.lower())
            if kind is None:
                raise BatchError(f"{str(given)!r}: unknown input type {path.suffix!r}; "
                                 f"use one of {', '.join(sorted(KINDS))} or a folder of .txt files")
            sources.append(Source(path, kind, str(given)))
        else:
            raise BatchError(f"input {str(given)!r} does not exist")
    if not sources:
        raise BatchError("no inputs given")
    return sources


def read_source(src: Source, start: Cursor, opts: Options) -> Iterator[tuple[Cursor, Record | Malformed]]:
    """``(cursor after it, record)`` for each record of ``src`` from ``start`` on."""
    readers = {"txt": _read_txt, "jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}
    return readers[src.kind](src, start, opts)


def _read_txt(src: Source, start: Cursor, opts: Options):
    if start.ordinal:
        return
    size = src.path.stat().st_size
    done = Cursor(size, 1, 0)
    if size > opts.max_line_bytes:
        yield done, Malformed(src.name, f"{size} bytes is more than --max-chars {opts.max_chars} characters can take")
        return
    from ..textio import decode_bytes

    text, encoding, confident = decode_bytes(src.path.read_bytes())
    if not confident:
        log.warning("%s: the encoding is a guess (%s)", src.name, encoding)
    yield done, _checked(Record(src.name, text), src.name, opts)


def _checked(rec: Record, where: str, opts: Options) -> Record | Malformed:
    if len(rec.text) > opts.max_chars:
        return Malformed(where, f"{len(rec.text)} characters is over --max-chars {opts.max_chars}")
    return rec


def _lines(fh, offset: int, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """``(offset after it, line)`` of a binary file from ``offset``; a line over ``limit`` bytes is read past
    in bounded pieces and given as None, so one huge line never sits in memory whole."""
    fh.seek(offset)
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        offset += len(line)
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = fh.readline(1 << 20)
                offset += len(line)
            yield offset, None
        else:
            yield offset, line


def _read_jsonl(src: Source, start: Cursor, opts: Options):
    ordinal, line_no = start.ordinal, start.line
    with open(src.path, "rb") as fh:
        for offset, line in _lines(fh, start.offset, opts.max_line_bytes):
            line_no += 1
            if line is not None and not line.strip():
                continue  # blank lines are not records
            ordinal += 1
            where = f"{src.name} line {line_no}"
            cursor = Cursor(offset, ordinal, line_no)
            if line is None:
                yield cursor, Malformed(where, f"the line is over {opts.max_line_bytes} bytes (--max-chars "
                                               f"{opts.max_chars})")
                continue
            decoded = line.decode(opts.encoding, "surrogateescape")
            _warn_unreadable(decoded, where, opts)
            try:
                obj = json.loads(decoded)
            except ValueError as exc:
                yield cursor, Malformed(where, f"not valid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                yield cursor, Malformed(where, f"a JSON {type(obj).__name__}, not an object with a "
                                               f"{opts.text_column!r} field")
                continue
            yield cursor, _field_record(obj.get, src, ordinal, where, opts)


def _field_record(get, src: Source, ordinal: int, where: str, opts: Options) -> Record | Malformed:
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
    return _checked(Record(rid, well_formed(text), fields), where, opts)


def _warn_unreadable(decoded: str, where: str, opts: Options) -> None:
    """Log how many bytes of a record were not ``opts.encoding`` (each becomes U+FFFD)."""
    bad = len(_SURROGATE.findall(decoded))
    if bad:
        log.warning("%s: %d byte(s) that are not %s text read as U+FFFD (set --encoding if the file is in "
                    "another encoding)", where, bad, opts.encoding)


def _read_csv(src: Source, start: Cursor, opts: Options):
    csv.field_size_limit(opts.max_line_bytes)
    delimiter = "\t" if src.path.suffix.lower() == ".tsv" else ","
    with open(src.path, "rb") as fh:
        lines = _CsvLines(fh, opts)
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
            _warn_unreadable("".join(row), where, opts)
            yield cursor, _field_record(dict(zip(header, row)).get, src, ordinal, where, opts)


_SURROGATE = re.compile("[\udc80-\udcff]")


class _CsvLines:
    """The lines of a CSV file for :mod:`csv`, keeping the byte offset and line number after each one.

    An undecodable byte stays a lone surrogate (``surrogateescape``) so its record can be reported; a line over
    the limit is replaced by an empty one and noted in ``problem``."""

    def __init__(self, fh, opts: Options):
        self.fh, self.opts = fh, opts
        self.offset = self.line = 0
        self.problem: str | None = None

    def read(self, offset: int, line: int) -> Iterator[str]:
        self.line = line
        # a byte-order mark at the start of the file is not part of the first column's name
        encoding = "utf-8-sig" if offset == 0 and self.opts.encoding.lower().replace("_", "-") == "utf-8" \
            else self.opts.encoding
        for end, raw in _lines(self.fh, offset, self.opts.max_line_bytes):
            self.offset, self.line = end, self.line + 1
            if raw is None:
                self.problem = f"the line is over {self.opts.max_line_bytes} bytes (--max-chars {self.opts.max_chars})"
                yield "\n"
            else:
                yield raw.decode(encoding, "surrogateescape")
            encoding = self.opts.encoding


def _read_parquet(src: Source, start: Cursor, opts: Options):
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


# ---------------------------------------------------------------- chunks and workers


@dataclass
class Chunk:
    """Records read in a row, and where the inputs stand after them."""

    records: list[Record] = field(default_factory=list)
    skipped: int = 0
    chars: int = 0
    source: int = 0
    cursor: Cursor = Cursor()
    done_bytes: int = 0


def chunks(sources: list[Source], source: int, cursor: Cursor, opts: Options, strict: bool,
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


_worker_rec = None


def _init_worker(model: str | None, options: dict) -> None:
    """Each worker process loads the model once; Ctrl-C is the parent's to handle (it stops the pool)."""
    global _worker_rec
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import ner

    _worker_rec = ner.load(model, **options)


def _annotate(texts: list[str]) -> list[list[dict]]:
    assert _worker_rec is not None, "the worker was not initialised"
    return annotate_texts(_worker_rec, texts)


def annotate_texts(rec, texts: list[str], call_chars: int = CALL_CHARS) -> list[list[dict]]:
    """``[e.to_dict() for e in entities]`` of each text, in calls of about ``call_chars`` characters.

    One ``recognize_batch`` call decodes all its windows at once, and its peak memory grows with the characters
    it is given (measured: 264 MB of Python allocations for 50,000 characters, 14 MB for 2,700), so a chunk goes
    through in smaller calls; the results are the same (a text's entities never depend on its batch-mates)."""
    found: list[list[dict]] = []
    start, size = 0, 0
    for end, text in enumerate(texts, 1):
        size += len(text)
        if size >= call_chars or end == len(texts):
            found += [[e.to_dict() for e in ents] for ents in rec.recognize_batch(texts[start:end])]
            start, size = end, 0
    return found


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class InProcess:
    """The pool's interface in the calling process (``--workers 0``): for debugging and small inputs."""

    def __init__(self, model: str | None, options: dict):
        import ner

        self.rec = ner.load(model, **options)

    def submit(self, fn, texts: list[str]) -> Future:
        fut: Future = Future()
        fut.set_result(annotate_texts(self.rec, texts))
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


# ---------------------------------------------------------------- outputs


class Writer:
    """Appends annotated chunks to the output; :meth:`commit` makes them durable and returns the state to resume."""

    def __init__(self, path: Path, state: dict | None):
        self.path = path

    def write(self, records: list[Record], found: list[list[dict]]) -> None:
        raise NotImplementedError

    def commit(self) -> dict:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once every record is written."""

    def close(self) -> None:
        """Release files, whether or not the run finished."""


class _AppendWriter(Writer):
    """A text output appended to; resuming cuts it back to the length of the last commit."""

    def __init__(self, path: Path, state: dict | None):
        super().__init__(path, state)
        size = (state or {}).get("bytes", 0)
        self.fh = open(path, "r+b" if size else "wb")
        self.fh.truncate(size)
        self.fh.seek(size)
        if not size:
            self.start()

    def start(self) -> None:
        pass

    def commit(self) -> dict:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return {"bytes": self.fh.tell()}

    def close(self) -> None:
        self.fh.close()


class JsonlWriter(_AppendWriter):
    def write(self, records, found):
        self.fh.write("".join(json.dumps({"id": r.id, **dict(r.fields), "entities": ents}, ensure_ascii=False) + "\n"
                              for r, ents in zip(records, found)).encode("utf-8"))


class CsvWriter(_AppendWriter):
    """One row per entity, by the project's one CSV writer (:func:`ner.csvout.csv_rows`): an id or entity text
    starting like a formula (``=1+1``) gets a leading ``'``, so a spreadsheet shows it and runs nothing."""

    def start(self):
        self.write_rows([CSV_COLUMNS])

    def write(self, records, found):
        self.write_rows([r.id, *(e[k] for k in CSV_COLUMNS[1:])] for r, ents in zip(records, found) for e in ents)

    def write_rows(self, rows) -> None:
        self.fh.write(csv_rows(rows).encode("utf-8"))


def entities_type():
    """The Arrow type of an ``entities`` column: a list of structs shaped like :meth:`ner.Entity.to_dict`."""
    pa = require("pyarrow", "Parquet output")
    return pa.list_(pa.struct([("text", pa.string()), ("type", pa.string()), ("start", pa.int64()),
                               ("end", pa.int64()), ("score", pa.float64()), ("source", pa.string())]))


class ParquetWriter(Writer):
    """Each chunk is one part file in ``OUT.parts/`` (renamed into place when complete); :meth:`finish` streams
    the parts into ``OUT`` as row groups.  A Parquet file cannot be appended to, so resuming needs the parts."""

    def __init__(self, path: Path, state: dict | None):
        super().__init__(path, state)
        self.pa = require("pyarrow", "Parquet output")
        self.pq = require("pyarrow.parquet", "Parquet output")
        self.parts = parts_dir(path)
        self.count = (state or {}).get("parts", 0)
        self.parts.mkdir(exist_ok=True)
        for p in self.parts.iterdir():  # written after the last commit: not part of the output
            if not p.name.startswith("part-") or int(p.stem.split("-")[1].split(".")[0]) >= self.count:
                p.unlink()
        self.schema = self.pa.schema([("id", self.pa.string()), ("entities", entities_type())])

    def write(self, records, found):
        table = self.pa.table({"id": [str(r.id) for r in records], "entities": found}, schema=self.schema)
        part = self.parts / f"part-{self.count:07d}.parquet"
        tmp = part.with_suffix(".tmp")
        self.pq.write_table(table, tmp)
        os.replace(tmp, part)
        self.count += 1

    def commit(self) -> dict:
        return {"parts": self.count}

    def finish(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self.pq.ParquetWriter(tmp, self.schema) as out:
            for i in range(self.count):
                out.write_table(self.pq.read_table(self.parts / f"part-{i:07d}.parquet"))
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts)


WRITERS: dict[str, type[Writer]] = {"jsonl": JsonlWriter, "csv": CsvWriter, "parquet": ParquetWriter}


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.json")


def _save_progress(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------- the run


@dataclass
class Stats:
    """What a run did (this invocation's figures; ``records`` and ``skipped`` count the whole output)."""

    records: int = 0
    skipped: int = 0
    entities: int = 0
    chars: int = 0
    seconds: float = 0.0
    resumed: bool = False
    workers: int = 0
    threads: int = 0

    @property
    def chars_per_s(self) -> float:
        return self.chars / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {"records": self.records, "skipped": self.skipped, "entities": self.entities, "chars": self.chars,
                "seconds": round(self.seconds, 2), "chars_per_s": round(self.chars_per_s), "resumed": self.resumed,
                "workers": self.workers, "threads_per_worker": self.threads}


def output_format(out: Path, given: str | None = None) -> str:
    fmt = given or FORMATS.get(out.suffix.lower())
    if fmt not in WRITERS:
        raise BatchError(f"cannot tell the output format of {out.name!r}: end it in {', '.join(FORMATS)} "
                         f"or pass --format")
    return fmt


def check_keep_fields(opts: Options, fmt: str) -> None:
    """``--keep-fields`` go into a JSONL output, and none may be named like an output field."""
    if not opts.keep_fields:
        return
    if fmt != "jsonl":
        raise BatchError(f"--keep-fields needs a .jsonl output (a record per line); --out is {fmt}")
    taken = {"id", "entities"} & set(opts.keep_fields)
    if taken:
        raise BatchError(f"--keep-fields {sorted(taken)[0]!r}: the output already has that field; "
                         f"use --id-column for the id")


def prepare_output(out: Path, fingerprint: dict, overwrite: bool) -> dict | None:
    """The saved progress of an interrupted run to resume, or None for a fresh start (old output removed)."""
    progress = progress_path(out)
    if progress.is_file() and not overwrite:
        try:
            state = json.loads(progress.read_text(encoding="utf-8"))
        except ValueError:
            raise BatchError(f"{progress.name} is damaged; rerun with --overwrite to start again") from None
        if state.get("version") != PROGRESS_VERSION or state.get("fingerprint") != fingerprint:
            raise BatchError(f"{progress.name} belongs to a run with other inputs or options; rerun with "
                             f"--overwrite to start again, or choose another --out")
        return state
    if (out.exists() or parts_dir(out).exists()) and not overwrite:
        raise BatchError(f"{out} exists and is not an interrupted run of this command; pass --overwrite to replace it")
    for stale in (out, progress):
        stale.unlink(missing_ok=True)
    shutil.rmtree(parts_dir(out), ignore_errors=True)
    return None


def fingerprint(sources: list[Source], fmt: str, opts: Options, model: str | None, precision: str) -> dict:
    """What the output depends on: a resumed run must have the same inputs (size, mtime) and options."""
    import ner

    model_dir = Path(model) if model else ner.default_model_dir()
    # the model's files by size and mtime too: a model replaced in the same directory must not resume
    files = sorted([f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in model_dir.iterdir() if f.is_file())
    return {"inputs": [[str(s.path.resolve()), s.path.stat().st_size, s.path.stat().st_mtime_ns] for s in sources],
            "format": fmt, "options": [opts.text_column, opts.id_column, opts.max_chars, opts.encoding,
                                       list(opts.keep_fields)],
            "model": [str(model_dir.resolve()), precision, files]}


def run(inputs: list[str | Path], out: str | Path, *, workers: int | None = None, threads: int | None = None,
        model: str | None = None, precision: str = "int8", opts: Options = Options(), fmt: str | None = None,
        strict: bool = False, overwrite: bool = False, progress: bool = True, chunk_chars: int = CHUNK_CHARS,
        batch_size: int = BATCH_SIZE, make_pool=None) -> Stats:
    """Annotate every record of ``inputs`` into ``out``, resuming an interrupted run of the same command.

    ``workers`` processes (default: one per usable core; 0 = in this process) each
    run an ONNX Runtime session of ``threads`` threads (default: cores // workers).
    ``make_pool(workers, model, options)``, when given, makes the pool instead (``submit(fn, texts)`` -> a
    future, ``shutdown``): :class:`ner.distributed.RayPool` for ``--engine ray``.
    Raises :class:`BatchError` for unusable inputs or options, at the first malformed record when ``strict``,
    and when a worker dies (killed, out of memory); ``KeyboardInterrupt`` leaves a resumable run.
    """
    out = Path(out)
    sources = find_sources(inputs)
    fmt = output_format(out, fmt)
    if opts.max_chars < 1:
        raise BatchError(f"--max-chars must be at least 1, not {opts.max_chars}")
    check_keep_fields(opts, fmt)
    cores = usable_cores()
    workers = cores if workers is None else workers
    if workers < 0:
        raise BatchError(f"--workers must be 0 (in this process) or more, not {workers}")
    threads = threads or max(1, cores // max(1, workers))
    mark = fingerprint(sources, fmt, opts, model, precision)
    state = prepare_output(out, mark, overwrite)
    if state and state.get("done"):
        log.info("%s is already complete (%d records); nothing to do", out, state["records"])
        return Stats(records=state["records"], skipped=state["skipped"], resumed=True, workers=workers,
                     threads=threads)
    stats = Stats(records=(state or {}).get("records", 0), skipped=(state or {}).get("skipped", 0),
                  resumed=state is not None, workers=workers, threads=threads)
    source, cursor = (state["source"], Cursor(*state["cursor"])) if state else (0, Cursor())
    writer = WRITERS[fmt](out, state["output"] if state else None)
    options = {"precision": precision, "threads": threads, "batch_size": batch_size}
    pool: ProcessPoolExecutor | InProcess
    if make_pool is not None:
        pool = make_pool(workers, model, options)
    elif workers == 0:
        pool = InProcess(model, options)
    else:
        import multiprocessing

        # spawn: a fresh interpreter per worker, never a fork of a process with threads and open sessions
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(model, options))
    bar = _progress_bar(sum(s.path.stat().st_size for s in sources), progress)
    pending: collections.deque[tuple[Chunk, Future]] = collections.deque()
    t0 = time.perf_counter()

    def commit(chunk: Chunk, found: list[list[dict]]) -> None:
        writer.write(chunk.records, found)
        stats.records += len(chunk.records)
        stats.skipped += chunk.skipped
        stats.entities += sum(len(f) for f in found)
        stats.chars += chunk.chars
        _save_progress(progress_path(out), {
            "version": PROGRESS_VERSION, "fingerprint": mark, "source": chunk.source,
            "cursor": [chunk.cursor.offset, chunk.cursor.ordinal, chunk.cursor.line], "records": stats.records,
            "skipped": stats.skipped, "output": writer.commit(), "done": False})
        if bar is not None:
            bar.update(chunk.done_bytes - bar.n)
            rate = stats.chars / max(1e-9, time.perf_counter() - t0)
            bar.set_postfix_str(f"{stats.records:,} records, {rate / 1000:.1f}k chars/s", refresh=False)

    try:
        try:
            for chunk in chunks(sources, source, cursor, opts, strict, chunk_chars=chunk_chars):
                pending.append((chunk, pool.submit(_annotate, [r.text for r in chunk.records])))
                while len(pending) > 2 * max(1, workers):  # bounded: at most two chunks per worker in flight
                    done, fut = pending.popleft()
                    commit(done, fut.result())
        except StrictStop:
            while pending:  # strict stop: keep what was read before the bad record
                done, fut = pending.popleft()
                commit(done, fut.result())
            raise
        while pending:
            done, fut = pending.popleft()
            commit(done, fut.result())
        writer.finish()
        stats.seconds = time.perf_counter() - t0
        _save_progress(progress_path(out), {"version": PROGRESS_VERSION, "fingerprint": mark, "done": True,
                                            "records": stats.records, "skipped": stats.skipped,
                                            "stats": stats.to_dict()})
    except BrokenProcessPool as exc:  # the chunks it held were never committed: resuming writes them once
        why = str(exc) if isinstance(exc, WorkerDied) else "a worker died (killed, or out of memory)"
        raise BatchError(f"{why}; the {stats.records} records before its chunk are written: run the same command "
                         f"again to resume") from None
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)
        writer.close()
        if bar is not None:
            bar.close()
    return stats


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        log.info("install tqdm (the batch extra) for a progress bar")
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="ner batch", smoothing=0.1,
                dynamic_ncols=True)
