"""Batch NER on Ray: ``annotate(ds)`` adds an ``entities`` column to a Ray Dataset with one model per actor, and
``ner-batch --engine ray`` annotates the local run's chunks with Ray actors (:class:`RayPool`).

    import ray
    from ner.batch import annotate
    ds = ray.data.read_parquet("s3://bucket/news/")          # or read_json / read_csv / from_items
    out = annotate(ds, text_column="text", concurrency=8)
    out.write_parquet("s3://bucket/news-ner/")

Ray's batch-inference pattern for a CPU model: ``map_batches`` with a callable class,
so each actor loads the model once and then serves many batches.  The ``entities``
of a row equal ``[e.to_dict() for e in ner.load(model).recognize(text)]`` exactly.
``ner-batch --engine ray`` (:func:`run_files`) is the local batch engine with its chunks
annotated by Ray actors.  A Ray instance started here listens on loopback only (:func:`init_ray`).
Ray is an optional extra (``pip install "ai-ner-service[ray]"``), imported only here.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .._optional import require
from ..textio import well_formed
from .local import WorkerDied, annotate_texts, run, usable_cores
from .progress import Stats
from .writers import entities_type

log = logging.getLogger(__name__)

#: Ray's switch for single machines: the node's address is 127.0.0.1, so a local instance listens on loopback only.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


class Annotator:
    """The callable class of :func:`annotate`: loads the model once per actor, then annotates Arrow batches."""

    def __init__(self, text_column: str, model: str | None, max_chars: int | None, options: dict):
        import ner

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
        texts = [well_formed(t) for t in texts]  # the one decoding rule: a lone surrogate is U+FFFD
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


def init_ray(address: str | None = None, **options) -> Any:
    """The ``ray`` module, initialised: joined to the cluster at ``address`` (``ray start --head`` prints it;
    "auto" finds a local one), or, with no address, a Ray instance started on this machine that listens on
    loopback only, with no dashboard and no usage report.

    Ray gives a node the machine's network address and opens its ports (GCS, raylet, object manager, agents,
    workers) there; its own switch for single machines (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) makes the
    address 127.0.0.1, so every port listens on loopback.  A user who wants other machines to join starts
    Ray with ``ray start --head`` and passes ``address``.
    """
    ray = require("ray", "Ray", extra="ray")
    if ray.is_initialized():
        if address:
            log.warning("Ray is already initialised in this process; --address %s is not used", address)
        return ray
    if address:
        ray.init(address=address, **options)
        return ray
    os.environ.update(LOOPBACK)  # Ray's processes started from here read it
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False  # this process read the variable when it imported ray
    ray.init(**{"include_dashboard": False, **options})
    return ray


class _Worker:
    """One Ray actor of :class:`RayPool`: loads the model once, then annotates chunks of texts."""

    def __init__(self, model: str | None, options: dict):
        import ner

        self.rec = ner.load(model, **options)

    def annotate(self, texts: list[str]) -> list[list[dict]]:
        return annotate_texts(self.rec, texts)


class RayPool:
    """The pool of ``ner-batch --engine ray``: ``workers`` actors of ``options["threads"]`` CPUs each.

    It has the shape of the local engine's process pool (:meth:`submit` returns a future), so
    :func:`ner.batch.local.run` reads the inputs, reports malformed records by line (``--strict`` stops),
    keeps the input order and resumes exactly as with local workers; only the annotating runs on Ray.
    """

    def __init__(self, ray: Any, workers: int, model: str | None, options: dict):
        self.ray = ray
        actor = ray.remote(num_cpus=options.get("threads", 1))(_Worker)
        self.actors = [actor.remote(model, options) for _ in range(max(1, workers))]
        self.turn = 0

    def submit(self, fn, texts: list[str]) -> Future:
        """``fn`` is the local engine's worker function; an actor runs its own :meth:`_Worker.annotate`."""
        actor = self.actors[self.turn % len(self.actors)]
        self.turn += 1  # in turn: the run commits chunks in order anyway, and each actor takes one at a time
        done: Future = Future()

        def settle(fut: Future) -> None:
            exc = fut.exception()
            if exc is None:
                done.set_result(fut.result())
            elif isinstance(exc, self.ray.exceptions.RayActorError):
                first = (str(exc).strip().splitlines() or ["no reason given"])[0][:300]
                done.set_exception(WorkerDied(f"a worker died (a Ray actor: {first})"))
            else:
                done.set_exception(exc)

        actor.annotate.remote(texts).future().add_done_callback(settle)
        return done

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


def run_files(inputs: list[str | Path], out: str | Path, *, address: str | None = None,
              workers: int | None = None, threads: int | None = None, **options) -> Stats:
    """``ner-batch --engine ray``: :func:`ner.batch.local.run` with its chunks annotated by Ray actors
    (:class:`RayPool`), on the cluster at ``address`` or on a loopback-only local instance (:func:`init_ray`).

    The inputs are read here, by the local engine's readers: only this machine needs them, and the output
    is the local engine's byte for byte, resumable the same way.  ``workers`` actors (default: the cluster's
    CPUs // ``threads``) of ``threads`` threads (default 1); ``options`` as for :func:`ner.batch.local.run`.
    """
    ray = init_ray(address)
    threads = threads or 1
    workers = workers or max(1, int(ray.cluster_resources().get("CPU", usable_cores())) // threads)
    return run(inputs, out, workers=workers, threads=threads,
               make_pool=lambda n, model, opts: RayPool(ray, n, model, opts), **options)
