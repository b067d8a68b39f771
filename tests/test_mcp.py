"""The recognizer as an MCP tool: an MCP client (the ``mcp`` package) lists the tools of the real server on
loopback and calls them with the seed sentence."""
from __future__ import annotations

import asyncio
import json

import pytest

from ner import samples

mcp = pytest.importorskip("mcp", reason="the MCP tools need gradio[mcp] (pip install 'gradio[mcp]')")


async def _session_do(url: str, work):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}/gradio_api/mcp/") as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await work(session)


def run(url: str, work, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(_session_do(url, work), timeout))


def test_mcp_lists_the_recognizer_with_documented_arguments(server_url):
    tools = {t.name: t for t in run(server_url, lambda s: _tools(s))}
    assert set(tools) == {"extract_entities", "highlight_entities"}
    extract = tools["extract_entities"]
    assert "organizations" in extract.description and "/api/v1/ner" in extract.description
    props = extract.inputSchema["properties"]
    assert list(props) == ["text", "min_score", "types", "offsets"]
    assert extract.inputSchema.get("required", ["text"]) == ["text"]
    assert "JavaScript" in props["offsets"].get("description", "")


async def _tools(session):
    return (await session.list_tools()).tools


def test_mcp_call_returns_the_entities_of_the_seed_sentence(server_url):
    async def call(session):
        return await session.call_tool("extract_entities", {"text": samples.SEED})

    result = run(server_url, call)
    assert not result.isError, result
    payload = json.loads(result.content[0].text)  # JSON text, not Python's repr
    assert result.structuredContent == payload  # and the same object as structured content
    found = [(e["text"], e["type"]) for e in payload["entities"]]
    # the toy model also tags the 大 of 大会; the four real entities come first
    assert found[:4] == [("张三", "PER"), ("北京", "LOC"), ("清华大学", "ORG"), ("上海", "LOC")]
    assert all(samples.SEED[e["start"]:e["end"]] == e["text"] for e in payload["entities"])


def test_mcp_highlight_tool_answers_json_tokens(server_url):
    async def call(session):
        return await session.call_tool("highlight_entities", {"text": samples.SEED})

    tokens = json.loads(run(server_url, call).content[0].text)
    assert "".join(t["token"] for t in tokens) == samples.SEED and all(t["token"] for t in tokens)
    assert ("张三", "PER") in [(t["token"], t["class_or_confidence"]) for t in tokens]


def test_mcp_call_with_a_bad_argument_is_a_tool_error(server_url):
    async def call(session):
        return await session.call_tool("extract_entities", {"text": samples.SEED, "min_score": 3})

    result = run(server_url, call)
    assert result.isError and "min_score" in result.content[0].text


def _rpc(url: str, body: bytes, session: str | None = None) -> tuple[dict, str | None]:
    """One JSON-RPC request as raw bytes (an MCP client cannot even encode a lone surrogate): the answer and the
    session id."""
    import httpx

    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream",
               **({"mcp-session-id": session} if session else {})}
    r = httpx.post(f"{url}/gradio_api/mcp/", content=body, headers=headers, timeout=30)
    assert r.status_code in (200, 202), r.text
    data = [line[5:].strip() for line in r.text.splitlines() if line.startswith("data:")]
    return (json.loads(data[-1]) if data else (r.json() if r.content else {})), r.headers.get("mcp-session-id")


def test_mcp_reads_a_lone_surrogate_as_u_fffd_as_rest_does(server_url):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    answer, session = _rpc(server_url, json.dumps(init).encode())
    assert answer["result"]["serverInfo"]["version"] == "1"  # not the MCP library's version
    _rpc(server_url, b'{"jsonrpc": "2.0", "method": "notifications/initialized"}', session)
    call = (b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "extract_entities", '
            b'"arguments": {"text": "\\ud800\\u5f20\\u4e09\\u5728\\u5317\\u4eac"}}}')
    answer, _ = _rpc(server_url, call, session)
    result = answer["result"]
    assert not result.get("isError"), result
    payload = json.loads(result["content"][0]["text"])
    assert [(e["text"], e["start"]) for e in payload["entities"]][:2] == [("张三", 1), ("北京", 4)]


def test_many_concurrent_mcp_calls_wait_their_turn_and_are_all_answered(server_url):
    """100 tool calls at once (issue 26: 78 of them timed out through Gradio's loop back into the server)."""
    text = "张三在北京清华大学任职。" * 28  # about 340 characters

    async def one(k: int):
        from mcp import ClientSession
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(f"{server_url}/gradio_api/mcp/") as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                return await session.call_tool("extract_entities", {"text": "我" * k + text})

    async def all_of_them():
        return await asyncio.wait_for(asyncio.gather(*(one(k) for k in range(100))), 300)

    results = asyncio.run(all_of_them())
    assert [r.isError for r in results] == [False] * 100
    for k, r in enumerate(results):
        first = json.loads(r.content[0].text)["entities"][0]
        assert (first["text"], first["start"]) == ("张三", k)
