"""The REST API (:func:`ner_app.rest.create_api`) as a Ray Serve deployment: replicas that each load the model once.

    serve run ner_app.serve:app                                   # 2 replicas, 1 core each, http://127.0.0.1:8000
    serve run ner_app.serve:build replicas=4 threads=2            # 4 replicas of 2 ONNX Runtime threads
    serve run ner_app.serve:build min_replicas=1 max_replicas=8   # autoscaling between the bounds

Every replica builds the same FastAPI app as ``python app.py`` (``POST /api/v1/ner``,
``GET /healthz``, the same limits from the same ``NER_*`` variables); Serve's proxy
spreads requests over the replicas and restarts one whose health check fails.
The Gradio page is not served here: run ``python app.py`` for it.  Needs the ray
extra (``pip install "ai-ner-service[ray]"``).
"""
from __future__ import annotations

import logging
from typing import Any

from ray import serve

from ner import samples
from ner.settings import positive_int
from ner_app.config import Settings
from ner_app.model_source import open_model
from ner_app.rest import create_api

log = logging.getLogger(__name__)

#: Requests one replica works on at once; the REST app bounds its own queue with NER_QUEUE_SIZE behind this.
MAX_ONGOING = 8
#: Autoscaling aims at this many requests in flight per replica.
TARGET_ONGOING = 2

#: The recognizer of this replica process, for the health check (set when the replica builds its app).
_replica: dict[str, Any] = {}


def build_api():
    """The REST app of one replica: the model named by ``NER_MODEL`` (default: embedded), loaded and warmed once."""
    settings = Settings.from_env()
    options = {"threads": settings.threads} if settings.threads else {}
    rec, notice = open_model(settings.model, **options)
    rec.recognize(samples.SEED)
    _replica["rec"] = rec
    log.info("replica ready: model %r", rec.name)
    return create_api(rec, settings, notice=notice)


class Replica:
    """One replica of the REST API: Serve builds its app with :func:`build_api` and checks its health.

    A plain module-level class (decorated below, not in place), so a replica imports it from this module
    and shares the module's ``_replica`` with :func:`build_api` instead of unpickling a copy."""

    def check_health(self) -> None:
        """Serve calls this every 10 s: the model must still answer; raising marks the replica for a restart."""
        rec = _replica.get("rec")
        if rec is None:
            raise RuntimeError("the model is not loaded")
        rec.recognize(samples.SEED)


NerReplica = serve.deployment(name="ner", num_replicas=2, max_ongoing_requests=MAX_ONGOING, health_check_period_s=10,
                              health_check_timeout_s=30, ray_actor_options={"num_cpus": 1})(
    serve.ingress(build_api)(Replica))


def build(args: dict[str, str]):
    """``serve run ner_app.serve:build key=value...``: ``replicas`` (default 2) or ``min_replicas``/``max_replicas``
    (autoscaling), ``threads`` per replica (default 1: one core each, so replicas do not oversubscribe)."""
    unknown = set(args) - {"replicas", "min_replicas", "max_replicas", "threads"}
    if unknown:
        raise ValueError(f"unknown argument(s) {sorted(unknown)}; use replicas, min_replicas, max_replicas, threads")
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


