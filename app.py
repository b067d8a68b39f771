"""AI 智能实体侦测服务: a Gradio page and a JSON REST API for Chinese NER (PER, LOC, ORG) on one server.

Run ``python app.py`` and open http://127.0.0.1:7860.  Routes:

* ``/``                the page; Gradio client endpoints ``/recognize`` (text -> HighlightedText value)
                       and ``/extract`` (text -> ``{"entities": [...]}``), batched up to 16 requests
* ``POST /api/v1/ner`` ``{"text": "..."}`` -> ``{"entities": [...]}``;
                       ``{"texts": [...]}`` -> ``{"results": [{"entities": [...]}, ...]}``
* ``GET /healthz``     ``{"status": "ok", "model": name}``;  ``/docs``: the REST API's OpenAPI page

Environment variables:

* ``NER_MODEL``           a model directory (inside models/, the cache, or $NER_MODEL_ROOTS) or a ModelScope id
                          such as damo/nlp_raner_named-entity-recognition_chinese-base-news, exported to ONNX
                          on first start and cached (default: the embedded model, models/zh-ner-lite)
* ``NER_MODEL_ROOTS``     extra directories (os.pathsep-separated) that NER_MODEL may point into
* ``NER_CACHE``           where ModelScope models are downloaded and exported (default ~/.cache/ner)
* ``NER_THREADS``         ONNX Runtime intra-op threads (default: the cores, at most 4)
* ``NER_MAX_CHARS``       most characters per text (default 100000); longer texts are refused, never cut
* ``NER_MAX_TEXTS``       most texts per REST batch request (default 64)
* ``NER_QUEUE_SIZE``      most requests waiting in the Gradio queue, and REST requests in flight (default 64)
* ``NER_ENGINE_SLOTS``    recognitions running at once; the rest wait (default 2: one call already uses every core)
* ``NER_MAX_BODY_BYTES``  largest request body (default 8 MiB, at least what one maximal text needs)
* ``GRADIO_SERVER_NAME``  address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
* ``GRADIO_SERVER_PORT``  port (default 7860)

The limits that keep one client from taking the server (request and answer sizes,
header/body/shutdown timeouts, the upload cache, CORS and framing) are listed with
their settings in SECURITY.md.
"""
from __future__ import annotations

import logging
import sys

import ner
from ner_app import create_app
from ner_app.config import Settings
from ner_app.http_server import bind, serve
from ner_app.memory import Trimmer, tune_allocator

log = logging.getLogger(__name__)


def main() -> None:
    tune_allocator()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        log.error("cannot start: %s", exc)
        sys.exit(2)
    try:  # before the model loads: a taken port is known at once
        sock = bind(settings)
    except OSError as exc:
        log.error("cannot start: %s", exc.strerror)
        sys.exit(2)
    try:
        app = create_app(settings)
    except (ValueError, ner.NerError) as exc:  # a bad model or NER_USER_DICT (FormatError names its line)
        log.error("cannot start: %s", exc)
        sys.exit(2)
    log.info("model %r loaded and warmed; serving on http://%s:%d", app.engine.name, settings.host, settings.port)
    trimmer = Trimmer(settings.malloc_trim_s).start()
    serve(app, settings, on_stop=[app.stop, trimmer.stop], on_exit=[app.remove_files], sock=sock)


if __name__ == "__main__":
    main()
