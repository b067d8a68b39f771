"""Corpus-scale NER: stream files of texts through worker processes into JSONL, CSV or Parquet, resumably.

    python -m ner.batch INPUT... --out OUT [--workers N] [--text-column text] [--id-column id] [--keep-fields a b]
    ner-batch INPUT... --out OUT            (the same, as a console script)

Inputs: ``.txt`` files or folders of them (one document per file, encoding detected
by :func:`ner.textio.decode_bytes`; regular files inside the folder only), ``.jsonl``/``.ndjson`` (one JSON object per line),
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
goes on from there, so every record is written exactly once (the progress file is checked against the
inputs and the output first: anything that does not fit is refused).  A malformed record
(bad JSON, nesting too deep, a missing text column, too many characters) is reported with its line
and skipped; ``--strict`` stops at the first one instead.  Texts and ids follow the decoding rule of every
entry point (:mod:`ner.textio`): a byte that is not part of a character (logged with its line) and a lone
surrogate (a JSON ``"\\ud800"``) become U+FFFD, one for one.

The modules: :mod:`~ner.batch.files` (finding inputs: regular files only; encodings and line ends),
:mod:`~ner.batch.sources` (reading records from a cursor, chunks),
:mod:`~ner.batch.writers` (JSONL, CSV, Parquet), :mod:`~ner.batch.progress` (the resumable state, figures, bar),
:mod:`~ner.batch.local` (the run over worker processes), :mod:`~ner.batch.ray` (Ray actors for the run, and
:func:`annotate` for Ray Datasets) and :mod:`~ner.batch.cli` (``ner-batch``).
"""
from .local import WorkerDied, run, usable_cores
from .progress import Stats
from .ray import annotate
from .sources import BatchError, BatchOptions, StrictStop
from .writers import CSV_COLUMNS

__all__ = ["run", "annotate", "BatchError", "BatchOptions", "StrictStop", "WorkerDied", "Stats", "CSV_COLUMNS",
           "usable_cores"]
