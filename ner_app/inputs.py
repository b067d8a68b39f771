"""The client endpoints' typed, documented inputs and result: every value stays what the client sent, so the one
request check (:mod:`ner_app.request`) names a wrong one, and ``view_api()`` describes every parameter and the
result's fields.

These adjust component instances rather than subclass them: Gradio writes a ``.pyi`` stub next to
the module of every component subclass.
"""
from __future__ import annotations

import json
from typing import Any

import gradio as gr

from .request import EXAMPLE


def api_text(label: str, description: str) -> gr.Textbox:
    """A hidden ``gr.Textbox`` for ``/recognize`` and ``/extract`` that passes the client's value on as sent
    (``gr.Textbox`` would turn a list into ``"['…']"`` and a number into text): the one request check refuses
    anything but a string."""
    box = describe(as_sent(gr.Textbox(label=label, visible=False)), description)
    box.example_payload = box.example_value = lambda: EXAMPLE  # type: ignore[method-assign]
    return box


def entities_json(label: str) -> gr.JSON:
    """``/extract``'s result, described by its schema (``view_api()`` shows its fields, not "any valid json")."""
    entity = {"type": "object", "properties": {
        "text": {"type": "string"}, "type": {"type": "string"}, "start": {"type": "integer"},
        "end": {"type": "integer"}, "score": {"type": "number"}, "source": {"type": "string"}}}
    result = gr.JSON(label=label, visible=False)
    result.api_info = lambda: {  # type: ignore[method-assign]
        "type": "object", "properties": {"entities": {"type": "array", "items": entity}},
        "additional_description": 'text == input[start:end]; source is "model" or "dictionary"'}
    return result


def as_sent(component: Any) -> Any:
    """``component`` passing the client's value on unchanged, so the endpoint's validator, not the component's
    own check (a bare HTTP 400), says what is wrong with it."""
    component.preprocess = lambda payload: payload
    return component


def describe(component: Any, description: str) -> Any:
    """``component`` with ``description`` in its API info: what ``view_api()`` and the API panel say of it."""
    base = component.api_info
    component.api_info = lambda: {**base(), "additional_description": description}
    return component


def json_tool_results(blocks: gr.Blocks) -> None:
    """Make the MCP tools of ``blocks`` answer JSON text (``json.loads`` gives the entities).

    Gradio's MCP server writes a dict or list result as ``str(result)``, Python's repr with single
    quotes, which no JSON parser reads; this writes those results with ``json.dumps`` instead and
    leaves every other result (files, images) to Gradio.  A no-op when the MCP server is off.
    """
    server = getattr(blocks, "mcp_server_obj", None)
    if server is None:
        return
    original = server.postprocess_output_data
    types = server.types

    def postprocess_output_data(data: Any, root_url: str) -> list:
        if isinstance(data, (list, tuple)) and all(isinstance(x, (dict, list)) and not _is_file(x) for x in data):
            return [types.TextContent(type="text", text=json.dumps(x, ensure_ascii=False)) for x in data]
        return original(data, root_url)

    server.postprocess_output_data = postprocess_output_data
    _structured_results(server)


def _structured_results(server: Any) -> None:
    """A tool result that is one JSON object also goes out as the MCP result's ``structuredContent`` (MCP
    2025-06-18), so a client reads the entities without parsing text; Gradio fills it only for tools it was told
    about, with its text blocks.  No-op where the ``mcp`` package has no structured content."""
    low = getattr(server, "mcp_server", None)
    types = server.types
    if low is None or "structuredContent" not in getattr(types.CallToolResult, "model_fields", {}):
        return
    original = low.request_handlers.get(types.CallToolRequest)
    if original is None:
        return

    async def call_tool(request: Any) -> Any:
        answer = await original(request)
        result = getattr(answer, "root", None)
        if (isinstance(result, types.CallToolResult) and not result.isError and result.structuredContent is None
                and len(result.content) == 1 and getattr(result.content[0], "type", None) == "text"):
            try:
                data = json.loads(result.content[0].text)
            except ValueError:
                return answer
            if isinstance(data, dict):
                return types.ServerResult(result.model_copy(update={"structuredContent": data}))
        return answer

    low.request_handlers[types.CallToolRequest] = call_tool


def _is_file(value: object) -> bool:
    return isinstance(value, dict) and "path" in value and "meta" in value
