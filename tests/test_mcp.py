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
