"""Every road in gives the same answer to the same bad input: REST, Gradio's /call, /call/v2, /run, /api and the
queue, gradio_client, and MCP all go through the one request check (ner_app.request), with the same status and
the same message; page events reached around the page answer 4xx; the one factory builds what is served."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from conftest import ROOT
from ner_app.config import MIB, Settings

LIMITS = Settings()
SEED = "张三在北京清华大学任职。"

#: (what is wrong, the REST body, the Gradio data list, status, words of the message)
CASES = [
    ("null text", {"text": None}, [None], 422, "text must be a string, not null"),
    ("a number for text", {"text": 123}, [123], 422, "text must be a string, not a number"),
    ("a list for text", {"text": ["张三"], "min_score": 0.5}, [["张三"], 0.5], 422,
     "text must be a string, not a list"),
    ("an object for text", {"text": {"a": 1}}, [{"a": 1}], 422, "text must be a string, not an object"),
    ("min_score 5", {"text": SEED, "min_score": 5}, [SEED, 5], 422, "min_score must be a number from 0 to 1, not 5"),
    ("an unknown type", {"text": SEED, "types": ["XX"]}, [SEED, 0, ["XX"]], 422, '"XX" is not a type of this model'),
    ("types not a list", {"text": SEED, "types": "PER"}, [SEED, 0, "PER"], 422, "types must be a list"),
    ("bad offsets", {"text": SEED, "offsets": "bytes"}, [SEED, 0, None, "bytes"], 422, "offsets must be one of"),
    ("100,001 characters", {"text": "张" * (LIMITS.max_chars + 1)}, ["张" * (LIMITS.max_chars + 1)], 413,
     f"text has {LIMITS.max_chars + 1} characters; at most {LIMITS.max_chars} per text"),
    ("2,700,000 characters", {"text": "张" * 2_700_000}, ["张" * 2_700_000], 413,
     f"text has 2700000 characters; at most {LIMITS.max_chars} per text"),
]
FIELDS = ("text", "min_score", "types", "offsets")


def _message(r: httpx.Response) -> str:
    body = r.json()
    assert "Traceback" not in r.text and "/work" not in r.text
    return body["error"]


def gradio_roads(url: str, data: list) -> dict[str, httpx.Response]:
    """The same call sent by each Gradio road: ``/call``, ``/call/v2``, ``/run``, ``/api`` and the queue."""
    fn_index = _fn_index(url, "extract")
    with httpx.Client(base_url=f"{url}/gradio_api", timeout=120) as c:
        out = {road: c.post(f"/{road}/extract", json={"data": data}) for road in ("call", "run", "api")}
        out["call/v2"] = c.post("/call/v2/extract", json=dict(zip(FIELDS, data)))
        out["queue"] = c.post("/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": "roads"})
    return out


def _fn_index(url: str, api_name: str) -> int:
    config = httpx.get(f"{url}/config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


async def _mcp_call(url: str, arguments: dict):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}/gradio_api/mcp/") as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await session.call_tool("extract_entities", arguments)


@pytest.mark.parametrize(("case", "body", "data", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_the_same_bad_input_gets_the_same_status_and_message_on_every_road(server_url, case, body, data, status,
                                                                           words):
    rest = httpx.post(f"{server_url}/api/v1/ner", json=body, timeout=120)
    assert rest.status_code == status, rest.text
    message = _message(rest)
    assert words in message
    for road, r in gradio_roads(server_url, data).items():
        assert (road, r.status_code, _message(r)) == (road, status, message)
    pytest.importorskip("mcp")
    arguments = dict(zip(FIELDS, data))
    if len(json.dumps(arguments)) > LIMITS.max_body_bytes:  # the MCP client escapes every character (6 bytes)
        with pytest.raises(BaseException) as refused:  # the body is over the server's limit: 413 before reading
            asyncio.run(asyncio.wait_for(_mcp_call(server_url, arguments), 120))
        assert "413" in repr(refused.value.exceptions if hasattr(refused.value, "exceptions") else refused.value)
        return
    result = asyncio.run(asyncio.wait_for(_mcp_call(server_url, arguments), 120))
    assert result.isError and result.content[0].text == message


def test_a_refused_parameter_is_reported_against_it_on_the_gradio_roads(server_url):
    (r,) = [gradio_roads(server_url, [SEED, 0, ["XX"]])["call"]]
    (detail,) = r.json()["detail"]
    assert detail["parameter_name"] == "types" and '"XX"' in detail["message"]


def test_gradio_client_is_refused_with_the_message_against_the_parameter(server_url):
    from gradio_client import Client

    client = Client(server_url, verbose=False)
    with pytest.raises(Exception, match="- text: text must be a string, not a number"):
        client.predict(123, api_name="/extract")
    with pytest.raises(Exception, match=r'- types: types: "XX" is not a type'):
        client.predict(SEED, 0, ["XX"], api_name="/extract")
    assert client.predict(SEED, api_name="/extract")["entities"]


def test_data_that_is_not_a_call_is_400_on_every_gradio_road(server_url):
    for road, r in gradio_roads(server_url, []).items():
        assert r.status_code == 400 and "no text sent" in _message(r), (road, r.text)
    r = httpx.post(f"{server_url}/gradio_api/run/extract", json={"data": [SEED, 0, None, "utf16", "more"]})
    assert r.status_code == 400 and "at most 4" in _message(r)


def test_good_calls_are_answered_on_every_road(server_url):
    for road in ("run", "api"):
        r = httpx.post(f"{server_url}/gradio_api/{road}/extract", json={"data": [SEED]}, timeout=60)
        assert r.status_code == 200 and r.json()["data"][0]["entities"], r.text
    r = httpx.post(f"{server_url}/gradio_api/call/extract", json={"data": [SEED]}, timeout=60)
    assert r.status_code == 200 and r.json()["event_id"]


def test_page_events_reached_around_the_page_answer_4xx(server_url):
    calls = {
        "analyze 100,001 characters": ("run/analyze", ["张" * 100_001, None]),
        "analyze_file /etc/passwd": ("run/analyze_file", ["/etc/passwd", None]),
        "set_filters through /api": ("api/set_filters", [5, ["XX"], None, None]),
        "an example that is not there": ("run/load_example", [99999]),
        "an unknown endpoint": ("run/nothing", []),
    }
    for what, (path, data) in calls.items():
        r = httpx.post(f"{server_url}/gradio_api/{path}", json={"data": data}, timeout=60)
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text)
        assert "Traceback" not in r.text and "/work" not in r.text
    for fn_index in (99, -1):
        r = httpx.post(f"{server_url}/gradio_api/run/predict", json={"data": [], "fn_index": fn_index})
        assert r.status_code == 404, r.text
    assert httpx.get(f"{server_url}/healthz").status_code == 200


def test_a_json_rpc_body_nested_deep_is_a_400_not_a_recursion(server_url):
    body = b"[" * 100_000 + b"]" * 100_000
    r = httpx.post(f"{server_url}/gradio_api/mcp/", content=body, timeout=30,
                   headers={"content-type": "application/json", "accept": "application/json, text/event-stream"})
    assert r.status_code == 400 and "nested" in r.text
    assert httpx.get(f"{server_url}/healthz").status_code == 200


def test_the_queue_cap_holds_exactly_when_many_arrive_together():
    """Gradio checks the cap, then awaits the request's validator before adding it: 80 arriving together all
    passed a cap of 64.  With :func:`ner_app.gradio_edge.bound_queue` exactly the cap is taken (the same
    wrapper bounds each client's queued events)."""
    from ner_app.gradio_edge import bound_queue

    class Queue:
        max_size = 64
        event_queue_per_concurrency_id: dict = {}

        def __init__(self):
            self.events: list[object] = []

        def __len__(self):
            return len(self.events)

        async def push(self, body, request, username):
            if len(self) >= self.max_size:
                return False, "full", "queue_full"
            await asyncio.sleep(0.01)  # the validator
            self.events.append(body)
            return True, "id", "success"

    async def flood(queue) -> int:
        results = await asyncio.gather(*(queue.push(i, None, None) for i in range(80)))
        return sum(ok for ok, _, _ in results)

    class Blocks:
        _queue = Queue()

    assert asyncio.run(flood(Queue())) == 80  # Gradio's own check overshoots
    bound_queue(Blocks._queue, per_client=1000)
    assert asyncio.run(flood(Blocks._queue)) == 64 and len(Blocks._queue) == 64


# ------------------------------------------------------------ the one factory

@pytest.fixture(scope="module")
def served(toy_dir):
    """``create_app(Settings(...))`` as Starlette's TestClient serves it."""
    from starlette.testclient import TestClient

    import ner
    from ner_app import create_app

    app = create_app(Settings(model=str(toy_dir), max_body_bytes=MIB), engine=ner.load(toy_dir))
    try:
        # a loopback name: the Host allow-list of a server bound to loopback (NER_ALLOWED_HOSTS) refuses others
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield client
    finally:
        app.stop()
        app.remove_files()


def test_create_app_answers_health_the_page_and_rest(served):
    assert served.get("/healthz").json() == {"status": "ok", "model": "toy"}
    page = served.get("/")
    assert page.status_code == 200 and "gradio" in page.text.lower()
    r = served.post("/api/v1/ner", json={"text": SEED})
    assert r.status_code == 200 and [e["text"] for e in r.json()["entities"]][:2] == ["张三", "北京"]
    # the guard is part of what create_app returns: a 2 MiB body is refused before it is read
    big = served.post("/api/v1/ner", content=b"x" * (2 * MIB), headers={"content-type": "application/json"})
    assert big.status_code == 413 and "over the limit" in big.json()["error"]
    assert served.post("/gradio_api/run/extract", json={"data": [None]}).status_code == 422


def test_app_py_is_settings_the_factory_and_serve():
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    assert "create_app(settings)" in source and "Settings.from_env()" in source
    for own in ("def create_app", "def build_demo", "mount_gradio_app", "Guard(", "FileArea", "environ"):
        assert own not in source, own
    serve_source = (ROOT / "ner_app" / "serve.py").read_text(encoding="utf-8")
    assert "create_app(" in serve_source and "create_api" not in serve_source


def test_the_rest_schema_is_written_from_the_one_request_check(served):
    from ner_app.request import FIELDS

    spec = served.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/ner"]["post"]["requestBody"]["content"]["application/json"]
    props = body["schema"]["properties"]
    assert list(props) == list(FIELDS)
    assert props["text"]["maxLength"] == LIMITS.max_chars and props["min_score"]["maximum"] == 1
    assert props["types"]["items"]["enum"] == ["PER", "LOC", "ORG"]
    assert all(props[k]["description"] == FIELDS[k] for k in FIELDS)


def test_docs_try_it_out_as_pressed_and_every_listed_example_answer_200(served):
    """Swagger UI pre-fills "Try it out" with the first listed example (or else the schema's own example): each
    is a valid request."""
    spec = served.get("/openapi.json").json()
    body = spec["paths"]["/api/v1/ner"]["post"]["requestBody"]["content"]["application/json"]
    prefilled = [next(iter(body["examples"].values()))["value"], body["schema"]["example"]]
    for request in prefilled + [e["value"] for e in body["examples"].values()]:
        r = served.post("/api/v1/ner", json=request)
        assert r.status_code == 200, (request, r.text)
        assert r.json().get("entities") or r.json().get("results")
    assert set(prefilled[0]) == set(prefilled[1]) == {"text"}


def test_no_path_of_the_factory_is_left_after_remove(toy_dir, tmp_path):
    import ner
    from ner_app import create_app

    app = create_app(Settings(temp_dir=str(tmp_path)), engine=ner.load(toy_dir))
    assert app.files is not None and Path(app.files.root).parent == tmp_path
    app.stop()
    app.remove_files()
    assert list(tmp_path.iterdir()) == []
