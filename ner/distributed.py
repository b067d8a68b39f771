"""NER over Ray Data: ``annotate(ds)`` adds an ``entities`` column with one model per actor, on one machine or a cluster.

    import ray, ner.distributed
    ds = ray.data.read_parquet("s3://bucket/news/")          # or read_json / read_csv / from_items
    out = ner.distributed.annotate(ds, text_column="text", concurrency=8)
    out.write_parquet("s3://bucket/news-ner/")

Ray's batch-inference pattern for a CPU model: ``map_batches`` with a callable class,
so each actor loads the model once and then serves many batches.  The ``entities``
of a row equal ``[e.to_dict() for e in ner.load(model).recognize(text)]`` exactly.
Ray is an optional extra (``pip install "ai-ner-service[ray]"``), imported only here.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from ._optional import require
from .batch import ID_FIELD, BatchError, Options, Record, Stats, WRITERS, find_sources, output_format, \
    prepare_output, usable_cores

log = logging.getLogger(__name__)

#: Reading and decoding reserve no CPU: the annotating actors take one CPU per thread, and a read task waiting for a
#: CPU they hold would wait for ever (measured: a 2-CPU instance with 2 actors never started reading).
LIGHT = {"num_cpus": 0}


class Annotator:
    """The callable class of :func:`annotate`: loads the model once per actor, then annotates Arrow batches."""

    def __init__(self, text_column: str, model: str | None, max_chars: int | None, options: dict):
        import ner

        from .batch import entities_type

        self.rec = ner.load(model, **options)
        self.text_column = text_column
        self.max_chars = max_chars
        self.type = entities_type()

    def __call__(self, batch):
        import pyarrow as pa

        texts = batch.column(self.text_column).to_pylist()
        for text in texts:
            if not isinstance(text, str):
                raise ValueError(f"column {self.text_column!r} holds a {type(text).__name__}, not a string")
            if self.max_chars is not None and len(text) > self.max_chars:
                raise ValueError(f"a text of {len(text)} characters is over the limit of {self.max_chars} "
                                 f"(max_chars); split it or raise the limit")
        found = [[e.to_dict() for e in ents] for ents in self.rec.recognize_batch(texts)]
        return batch.append_column("entities", pa.array(found, type=self.type))


def annotate(ds: Any, text_column: str = "text", model: str | Path | None = None, concurrency: int | None = None, *,
             threads: int = 1, batch_size: int = 64, max_chars: int | None = None, precision: str = "int8") -> Any:
    """``ds`` (a Ray Dataset) with an ``entities`` column: the entities of each row's ``text_column``.

    ``concurrency`` actors (default: the cluster's CPUs // ``threads``) each load
    ``model`` (a directory present on every node; default the embedded model) once
    and run an ONNX Runtime session of ``threads`` threads.  Lazy, like every Ray
    Data transform: nothing runs until the dataset is consumed or written.
    """
    ray = require("ray", "Annotating a Ray Dataset", extra="ray")
    if concurrency is None:
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    options = {"precision": precision, "threads": threads}
    return ds.map_batches(Annotator, batch_format="pyarrow", batch_size=batch_size,
                          compute=ray.data.ActorPoolStrategy(size=concurrency), num_cpus=threads,
                          fn_constructor_kwargs={"text_column": text_column, "model": str(model) if model else None,
                                                 "max_chars": max_chars, "options": options})


def run_files(inputs: list[str | Path], out: str | Path, *, opts: Options = Options(), fmt: str | None = None,
              model: str | None = None, precision: str = "int8", address: str | None = None,
              workers: int | None = None, threads: int | None = None, overwrite: bool = False,
              batch_size: int = 64) -> Stats:
    """``ner batch --engine ray``: read ``inputs`` with Ray Data, :func:`annotate`, write ``out`` in input order.

    Joins the cluster at ``address`` (``ray start --head`` prints it; "auto" finds
    a local one), or starts Ray on this machine.  Unlike the local engine it does
    not resume and does not skip malformed records: Ray reads whole files with
    pyarrow, and a bad record stops the run with Ray's message.
    """
    ray = require("ray", "ner batch --engine ray", extra="ray")
    out = Path(out)
    sources = find_sources(inputs)
    fmt = output_format(out, fmt)
    if opts.keep_fields:
        raise BatchError("--keep-fields needs the local engine (leave out --engine ray)")
    prepare_output(out, {}, overwrite)
    if not ray.is_initialized():
        # a new local instance needs no dashboard; a cluster is joined as it is
        ray.init(address=address, **({} if address else {"include_dashboard": False}))
    elif address:
        log.warning("Ray is already initialised in this process; --address %s is not used", address)
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    cpus = int(ray.cluster_resources().get("CPU", usable_cores()))
    threads = threads or 1
    concurrency = workers or max(1, cpus // threads)
    writer = WRITERS[fmt](out, None)
    stats = Stats(workers=concurrency, threads=threads)
    t0 = time.perf_counter()
    try:
        for group in _groups(sources):
            ds, names = _read(ray, group, opts)
            done = annotate(ds, opts.text_column, model, concurrency, threads=threads, batch_size=batch_size,
                            max_chars=opts.max_chars, precision=precision)
            ordinal = 0
            for batch in done.iter_batches(batch_format="pyarrow", batch_size=batch_size):
                rows = batch.to_pydict()
                records = []
                for k, text in enumerate(rows[opts.text_column]):
                    ordinal += 1
                    if "path" in rows:
                        rid = names[rows["path"][k]]
                    elif opts.id_column is not None:
                        rid = rows[opts.id_column][k]
                    elif ID_FIELD in rows and rows[ID_FIELD][k] is not None:
                        rid = rows[ID_FIELD][k]  # the record's own id, as the local engine keeps it
                    else:
                        rid = f"{names[None]}:{ordinal}"
                    records.append(Record(rid, text))
                writer.write(records, rows["entities"])
                stats.records += len(records)
                stats.entities += sum(len(e) for e in rows["entities"])
                stats.chars += sum(len(r.text) for r in records)
        writer.commit()
        writer.finish()
    finally:
        writer.close()
    stats.seconds = time.perf_counter() - t0
    return stats


def _groups(sources):
    """Consecutive .txt files form one dataset (they are many and small); every other file is its own."""
    group: list = []
    for s in sources:
        if s.kind == "txt":
            group.append(s)
            continue
        if group:
            yield group
            group = []
        yield [s]
    if group:
        yield group


def _read(ray, group, opts: Options):
    """A Ray Dataset of one group of sources, and the names its ids are made from."""
    first = group[0]
    if first.kind == "txt":
        names = {str(s.path.resolve()): s.name for s in group}
        ds = ray.data.read_binary_files(list(names), include_paths=True, **LIGHT)
        ds = ds.map(_decode_file, fn_kwargs={"column": opts.text_column}, **LIGHT)
        return ds, names
    path, columns = str(first.path.resolve()), [c for c in (opts.text_column, opts.id_column) if c]
    if first.kind == "jsonl":
        ds = ray.data.read_json(path, lines=True, file_extensions=None, **LIGHT)
    elif first.kind == "csv":
        ds = ray.data.read_csv(path, file_extensions=None, **LIGHT,
                               parse_options=_csv_parse_options(first.path.suffix.lower() == ".tsv"))
    elif first.kind == "parquet":
        ds = ray.data.read_parquet(path, columns=columns, file_extensions=None, **LIGHT)
    else:
        raise BatchError(f"--engine ray cannot read {first.name!r}")
    missing = [c for c in columns if c not in ds.columns()]
    if missing:
        raise BatchError(f"{first.name}: no column {missing[0]!r} ({', '.join(ds.columns())}); "
                         f"set --text-column / --id-column")
    return ds.select_columns(columns), {None: first.name}


def _csv_parse_options(tsv: bool):
    from pyarrow import csv as pacsv

    return pacsv.ParseOptions(delimiter="\t" if tsv else ",")


def _decode_file(row: dict, column: str) -> dict:
    from .textio import decode_bytes

    text, _encoding, _confident = decode_bytes(row["bytes"])
    return {"path": row["path"], column: text}
