"""The JSON REST API (``POST /api/v1/ner``, ``GET /healthz``) as a FastAPI app that Gradio is mounted on."""
from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

from . import view
from .config import Settings
from .gate import Engine, EngineClosed
from .request import EXAMPLE, InFlight, Refused, RequestChecks

log = logging.getLogger(__name__)


class EntityOut(BaseModel):
    text: str = Field(description="the entity, equal to source[start:end]")
    type: str = Field(description="one of the model's types (PER, LOC, ORG for the embedded model)")
    start: int = Field(description="first character (code point offset, inclusive; UTF-16 with offsets=utf16)")
    end: int = Field(description="end character (exclusive)")
    score: float = Field(description="model confidence in [0, 1]; 1.0 for a dictionary entity")
    source: str = Field(description='"model", or "dictionary" for an entity a user dictionary forced')


class NerResult(BaseModel):
    entities: list[EntityOut]


class NerBatchResult(BaseModel):
    results: list[NerResult]


class ErrorOut(BaseModel):
    error: str


class ApiError(Exception):
    """A request the API refuses; ``message`` is safe to show to the caller."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


DESCRIPTION = """中文命名实体识别（人名 PER、地名 LOC、机构名 ORG）。偏移量是所发送文本中的半开区间码点偏移，
`text == 原文[start:end]`；孤立的代理字符（半个表情符号）按 U+FFFD 读取，一个码点换一个，偏移量仍然对应原文。
点击接口，再点 **Try it out** 与 **Execute**，即可用示例直接调用本服务。

Chinese named-entity recognition (PER, LOC, ORG). Offsets are half-open code-point offsets into the text sent,
`text == source[start:end]`. A lone surrogate (half an emoji) is read as U+FFFD, one code point for one, so offsets
still index the text sent. Open a route, press **Try it out**, pick an example and **Execute** to call this server.
"""
TAGS = [{"name": "识别 · recognition", "description": "找出文本中的实体 · find the entities in texts"},
        {"name": "状态 · health", "description": "服务是否在运行、加载了哪个模型 · liveness and the loaded model"}]
#: the request examples /docs offers ("Try it out" sends them as they are)
EXAMPLES = {
    "one": {"summary": "一段文本 · one text", "value": {"text": EXAMPLE}},
    "batch": {"summary": "多段文本 · several texts", "value": {"texts": ["李明在上海工作。", "新华社北京电"]}},
    "dictionary": {"summary": "本次请求的词典 · this request's dictionary",
                   "value": {"text": "我在字节跳动工作，常去星巴克。", "dictionary": ["字节跳动 ORG", "-星巴克 PER"]}},
    "filters": {"summary": "按类型与置信度筛选 · filter by type and score",
                "value": {"text": EXAMPLE, "types": ["PER", "ORG"], "min_score": 0.5}},
    "utf16": {"summary": "JavaScript 偏移量 · UTF-16 offsets", "value": {"text": "😀张三在北京", "offsets": "utf16"}},
}


def create_api(engine: Engine, settings: Settings, notice: str | None = None,
               docs_assets: str | None = None, docs_css: str | None = None,
               checks: RequestChecks | None = None, in_flight: InFlight | None = None) -> FastAPI:
    """A FastAPI app with the REST routes; mount the Gradio UI on it afterwards.

    ``checks``: the server's request checks (:mod:`ner_app.request`; default: made from ``settings`` and the
    engine's types); ``in_flight``: the bound on requests being worked on that REST shares with the other roads
    outside Gradio's queue (default: its own, of ``NER_QUEUE_SIZE``).

    ``docs_assets``: a folder holding Swagger UI's files, served at ``/docs/assets`` so ``/docs`` needs
    no internet (:func:`swagger_ui_folder`); None: FastAPI's default page (Swagger UI from a CDN).
    ``docs_css``: a style sheet written into the ``/docs`` page (the page's look).
    """
    if checks is None:
        checks = RequestChecks(settings, *view.engine_types(engine))
    in_flight = in_flight or InFlight(settings.queue_size)
    app = FastAPI(title="AI 智能实体侦测服务 API · Chinese NER API", version="1.0", redoc_url=None,
                  docs_url=None if docs_assets else "/docs", description=DESCRIPTION, openapi_tags=TAGS,
                  swagger_ui_parameters={"tryItOutEnabled": True, "defaultModelsExpandDepth": 0})
    # Pages of other origins may not read the answers unless NER_CORS_ORIGINS names them; Gradio sees
    # this middleware on its parent and adds no CORS headers of its own to the page's routes.
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                       allow_headers=["content-type"], allow_credentials=False)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused):
        return error_response(exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return error_response(422, "the request does not match the API schema; see /docs")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        if isinstance(exc, ClientDisconnect):  # the client left mid-request (also inside the Gradio mount)
            return error_response(400, "the client closed the connection")
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(500, "internal server error")

    if docs_assets:
        # OpenAPI 3.0: the Swagger UI that swagger-ui-bundle ships (4.x) does not read 3.1 documents
        app.openapi_version = "3.0.3"
        # Swagger UI from this server's own copy (the swagger-ui-bundle package), so /docs works offline
        app.mount("/docs/assets", StaticFiles(directory=docs_assets), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        def docs() -> HTMLResponse:
            page = get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} · 文档 docs",
                                       swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                       swagger_css_url="/docs/assets/swagger-ui.css",
                                       swagger_favicon_url="/docs/assets/favicon-32x32.png",
                                       swagger_ui_parameters=app.swagger_ui_parameters)
            if not docs_css:
                return page
            themed = bytes(page.body).replace(b"</head>", f"<style>{docs_css}</style></head>".encode(), 1)
            return HTMLResponse(themed)

    @app.api_route("/healthz", methods=["GET", "HEAD"], summary="服务状态与模型 · liveness and the loaded model",
                   tags=[TAGS[1]["name"]])
    def healthz() -> dict:
        return {"status": "ok", "model": engine.name, **({"notice": notice} if notice else {})}

    # one slot per request being recognized, taken once its body is read: a slow or stalled client holds none.
    # NER_QUEUE_SIZE bounds the REST API (with /run and MCP) like the Gradio queue.
    @app.post("/api/v1/ner", summary="识别一段或多段文本中的实体 · find entities in one text or a list of texts",
              tags=[TAGS[0]["name"]],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": checks.schema(), "examples": EXAMPLES}}}},
              responses={200: {"model": NerResult | NerBatchResult,
                               "description": '{"entities": [...]} for "text", {"results": [...]} for "texts"'},
                         400: {"model": ErrorOut}, 408: {"model": ErrorOut}, 413: {"model": ErrorOut},
                         415: {"model": ErrorOut}, 422: {"model": ErrorOut}, 500: {"model": ErrorOut}, 503: {"model": ErrorOut}})
    async def recognize(request: Request):
        call = checks.body(await read_body(request, settings.max_body_bytes))
        texts, options = call.texts, call.options
        if in_flight.full():  # every slot is taken: say so at once rather than queue without bound
            return busy("the server is busy; retry in a moment")
        async with in_flight:
            try:
                if options.dictionary is not None:
                    found = await run_in_threadpool(lambda: engine.recognize_batch(
                        texts, dictionary=options.dictionary))
                else:
                    found = await run_in_threadpool(engine.recognize_batch, texts)
            except EngineClosed:
                return busy("the server is shutting down; retry in a moment")
            except Exception:
                log.exception("recognition failed for %d text(s)", len(texts))
                return error_response(500, "recognition failed inside the engine; the request can be retried")
        results = [{"entities": view.entity_dicts(t, options.keep(ents), options.offsets)}
                   for t, ents in zip(texts, found)]
        # orjson (a dependency of Gradio): the same compact UTF-8 JSON as json.dumps(ensure_ascii=False), faster
        body = orjson.dumps(results[0] if call.single else {"results": results})
        if len(body) > settings.max_response_bytes:
            raise ApiError(413, f"the answer would be {len(body)} bytes, over the limit of "
                                f"{settings.max_response_bytes} bytes; send fewer or shorter texts")
        return Response(body, media_type="application/json")

    # Without this, unknown /api paths and wrong methods would fall through to the Gradio mount's HTML 404
    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                   include_in_schema=False)
    async def unknown_api_route(request: Request, rest: str):
        if request.url.path == "/api/v1/ner" and request.method != "POST":
            return JSONResponse({"error": f"use POST, not {request.method}"}, status_code=405,
                                headers={"Allow": "POST"})
        return error_response(404, "no such API route; see /docs")

    return app


def swagger_ui_folder() -> str | None:
    """Swagger UI's files from the ``swagger-ui-bundle`` package (None when it is not installed)."""
    try:
        import swagger_ui_bundle
    except ImportError:
        log.warning("swagger-ui-bundle is not installed: /docs loads Swagger UI from a CDN (pip install "
                    "swagger-ui-bundle for offline docs)")
        return None
    return str(swagger_ui_bundle.swagger_ui_path)


async def read_body(request: Request, limit: int) -> bytes:
    """The JSON body, refused with 415/413 before reading when its type or declared size is wrong."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, f"Content-Type must be application/json, not {ctype or 'missing'!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {int(declared)} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"request body is over the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to answer; no traceback for that
        raise ApiError(400, "the client closed the connection before the whole body arrived") from None
    return b"".join(chunks)


def busy(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "1"})
