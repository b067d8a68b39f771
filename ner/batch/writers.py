"""The outputs of a batch run: JSONL, CSV and Parquet writers that append chunks and commit them durably.

Each :class:`Writer` returns, at every commit, the state a resumed run needs to cut the output back to
that point (a byte length, or a count of Parquet parts).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from .._optional import require
from ..csvout import RECORD_FIELDS, csv_rows, entity_rows
from .sources import BatchError, BatchOptions, Record

#: Output formats by the suffix of ``--out``.
FORMATS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}
#: Bytes at the end of a committed output whose checksum the progress file keeps.
TAIL_BYTES = 4096
#: Columns of the CSV output: one row per entity, led by its record's id (the one order of :mod:`ner.csvout`).
CSV_COLUMNS = RECORD_FIELDS


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
        return file_mark(self.path, self.fh.tell())

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
        self.write_rows(row for r, ents in zip(records, found) for row in entity_rows(ents, r.id))

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
        last = self.parts / f"part-{self.count - 1:07d}.parquet"
        return {"parts": self.count, "tail": file_mark(last)["tail"] if self.count else ""}

    def finish(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with self.pq.ParquetWriter(tmp, self.schema) as out:
            for i in range(self.count):
                out.write_table(self.pq.read_table(self.parts / f"part-{i:07d}.parquet"))
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts)


WRITERS: dict[str, type[Writer]] = {"jsonl": JsonlWriter, "csv": CsvWriter, "parquet": ParquetWriter}


def file_mark(path: Path, size: int | None = None) -> dict:
    """``{"bytes": size, "tail": checksum}`` of the first ``size`` bytes of ``path`` (default: all of it): the
    checksum covers their last :data:`TAIL_BYTES`, so checking a resumed output reads 4 KiB, not the whole."""
    with open(path, "rb") as fh:
        if size is None:
            size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read(min(size, TAIL_BYTES))
    return {"bytes": size, "tail": hashlib.sha256(tail).hexdigest()}


def check_output(fmt: str, out: Path, output: object) -> None:
    """Raise :class:`BatchError` unless ``out`` holds what a progress file's ``output`` says was committed:
    at least that many bytes (never extended with a hole), ending as they ended; or the Parquet parts."""
    if fmt == "parquet" and isinstance(output, dict) and "parts" in output:
        count, tail = output.get("parts"), output.get("tail")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0 or not isinstance(tail, str):
            raise BatchError("its output field is not a count of parts")
        for i in range(count):
            if not (parts_dir(out) / f"part-{i:07d}.parquet").is_file():
                raise BatchError(f"part {i} of the output is missing")
        if count and file_mark(parts_dir(out) / f"part-{count - 1:07d}.parquet")["tail"] != tail:
            raise BatchError("the last part of the output is not the one written")
        return
    if not isinstance(output, dict) or set(output) != {"bytes", "tail"}:
        raise BatchError("its output field is not the size and checksum of an output")
    size, tail = output["bytes"], output["tail"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(tail, str):
        raise BatchError("its output size is not a size")
    have = out.stat().st_size if out.is_file() else 0
    if have < size:
        raise BatchError(f"it records {size:,} bytes written, the output has {have:,}")
    if size and file_mark(out, size)["tail"] != tail:
        raise BatchError(f"the output's first {size:,} bytes are not the ones written")
    if size:
        with open(out, "rb") as fh:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                raise BatchError(f"the output's first {size:,} bytes end inside a record")


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def output_format(out: Path, given: str | None = None) -> str:
    fmt = given or FORMATS.get(out.suffix.lower())
    if fmt not in WRITERS:
        raise BatchError(f"cannot tell the output format of {out.name!r}: end it in {', '.join(FORMATS)} "
                         f"or pass --format")
    return fmt


def check_keep_fields(opts: BatchOptions, fmt: str) -> None:
    """``--keep-fields`` go into a JSONL output, and none may be named like an output field."""
    if not opts.keep_fields:
        return
    if fmt != "jsonl":
        raise BatchError(f"--keep-fields needs a .jsonl output (a record per line); --out is {fmt}")
    taken = {"id", "entities"} & set(opts.keep_fields)
    if taken:
        raise BatchError(f"--keep-fields {sorted(taken)[0]!r}: the output already has that field; "
                         f"use --id-column for the id")
