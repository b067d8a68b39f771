"""The REST API (:func:`ner_app.create_app` without the page) as a Ray Serve deployment: replicas that each
load the model once.

    serve run ner_app.serve:app                                   # 2 replicas, 1 core each, http://127.0.0.1:8000
    serve run ner_app.serve:build replicas=4 threads=2            # 4 replicas of 2 ONNX Runtime threads
    serve run ner_app.serve:build min_replicas=1 max_replicas=8   # autoscaling between the bounds

Every replica builds the same REST app as ``python app.py``, by the same factory
(:func:`ner_app.create_app`: the model, ``NER_USER_DICT``, the engine gate, the routes, the request checks,
limits and error bodies), from the same ``NER_*`` variables; Serve's proxy spreads requests over the replicas and restarts one whose health
check fails.  The proxy is where the sockets are, so it gets ``python app.py``'s front
(:func:`proxy_middlewares`: the :class:`ner_app.guard.Guard` with its body limits and
timeouts, and the header deadline of :mod:`ner_app.http_server`) when Ray starts with

    export RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=ner_app.serve:proxy_middlewares
    export RAY_SERVE_DEFAULT_HTTP_HOST=127.0.0.1      # the proxy listens on loopback (the default here)

set in the environment of ``ray start`` / ``serve run`` (a proxy started without it has no guard:
:func:`build` logs a warning).  The Gradio page is not served here: run ``python app.py`` for it.
Needs the ray extra (``pip install "ai-ner-service[ray]"``).
"""
from __future__ import annotations

import logging
import os
from typing import Any

import uvicorn.config
from ray import serve
from starlette.middleware import Middleware

from ner import samples
from ner.commands import positive_int
from ner_app import create_app
from ner_app.memory import Trimmer, tune_allocator
from ner_app.config import Settings
from ner_app.guard import Guard
from ner_app.http_server import HeaderTimeoutProtocol

log = logging.getLogger(__name__)

#: Requests one replica works on at once; the REST app bounds its own queue with NER_QUEUE_SIZE behind this.
MAX_ONGOING = 8
#: Autoscaling aims at this many requests in flight per replica.
TARGET_ONGOING = 2

#: What Serve's proxy must be started with to get the guard (see the module docstring).
PROXY_CALLBACK = f"{__name__}:proxy_middlewares"
# issue 26: `serve run ner_app.serve:app` imports this module before it starts Ray, whose proxy inherits this
# environment: the documented command guards the proxy with no variable to remember
os.environ.setdefault("RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH", PROXY_CALLBACK)

#: The engine of this replica process, for the health check (set when the replica builds its app).
_replica: dict[str, Any] = {}


def build_api():
    """The REST app of one replica, as ``python app.py`` builds it (:func:`ner_app.create_app` without the page;
    the guard runs in Serve's proxy, :func:`proxy_middlewares`)."""
    settings = Settings.from_env()
    tune_allocator()
    app = create_app(settings, page=False, guard=False)
    _replica["engine"] = app.engine
    _replica["trimmer"] = Trimmer(settings.malloc_trim_s).start()
    log.info("replica ready: model %r", app.engine.name)
    return app


class ProxyProtocol(HeaderTimeoutProtocol):
    """The HTTP protocol of Serve's proxy: h11 with ``python app.py``'s header deadline (set by
    :func:`proxy_middlewares` from ``NER_HEADER_TIMEOUT``)."""


def proxy_middlewares() -> list[Middleware]:
    """``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=ner_app.serve:proxy_middlewares``: called once in each
    proxy process before it listens.  Its sockets get ``python app.py``'s front: the :class:`Guard` (body
    size and time limits, the readable 413, the security headers) as the outermost middleware, and uvicorn's
    protocol replaced by :class:`ProxyProtocol`, so half-sent headers get the same 408 after the same time."""
    settings = Settings.from_env()
    ProxyProtocol.header_timeout_s = settings.header_timeout_s
    # Serve builds its uvicorn.Config with the default http="auto": that name now means the guarded protocol
    uvicorn.config.HTTP_PROTOCOLS["auto"] = f"{__name__}:ProxyProtocol"
    log.info("Serve proxy guarded: body limit %d bytes, header/body timeouts %g/%g s", settings.max_body_bytes,
             settings.header_timeout_s, settings.body_timeout_s)
    # issue 26: whole bodies first, so stalled bodies never take the replicas' request slots
    return [Middleware(Guard, settings=settings, buffer_bodies=True)]


class Replica:
    """One replica of the REST API: Serve builds its app with :func:`build_api` and checks its health.

    A plain module-level class (decorated below, not in place), so a replica imports it from this module
    and shares the module's ``_replica`` with :func:`build_api` instead of unpickling a copy."""

    def check_health(self) -> None:
        """Serve calls this every 10 s: the model must still answer; raising marks the replica for a restart."""
        engine = _replica.get("engine")
        if engine is None:
            raise RuntimeError("the model is not loaded")
        engine.recognize(samples.SEED)


NerReplica = serve.deployment(name="ner", num_replicas=2, max_ongoing_requests=MAX_ONGOING, health_check_period_s=10,
                              health_check_timeout_s=30, ray_actor_options={"num_cpus": 1})(
    serve.ingress(build_api)(Replica))


def build(args: dict[str, str]):
    """``serve run ner_app.serve:build key=value...``: ``replicas`` (default 2) or ``min_replicas``/``max_replicas``
    (autoscaling), ``threads`` per replica (default 1: one core each, so replicas do not oversubscribe)."""
    unknown = set(args) - {"replicas", "min_replicas", "max_replicas", "threads"}
    if unknown:
        raise ValueError(f"unknown argument(s) {sorted(unknown)}; use replicas, min_replicas, max_replicas, threads")
    if os.environ.get("RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH") != PROXY_CALLBACK:
        log.warning("Serve's proxy may run without the app's guard (no body limits or timeouts against stalled "
                    "clients): start Ray with RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=%s", PROXY_CALLBACK)
    threads = positive_int(args, "threads", 1)
    actor = {"num_cpus": threads, "runtime_env": {"env_vars": {"NER_THREADS": str(threads)}}}
    if "min_replicas" in args or "max_replicas" in args:
        low = positive_int(args, "min_replicas", 1)
        high = positive_int(args, "max_replicas", max(low, 2))
        if high < low:
            raise ValueError(f"max_replicas={high} is below min_replicas={low}")
        scaling = {"min_replicas": low, "max_replicas": high, "target_ongoing_requests": TARGET_ONGOING}
        return NerReplica.options(num_replicas="auto", autoscaling_config=scaling, ray_actor_options=actor).bind()
    return NerReplica.options(num_replicas=positive_int(args, "replicas", 2), ray_actor_options=actor).bind()



#: ``serve run ner_app.serve:app``: the default deployment (2 replicas of 1 core and 1 thread each).
app = build({})
