"""Ray Data (``ner.batch.annotate``, ``ner-batch --engine ray``) and Ray Serve replicas of the REST API,
on one local Ray instance bound to loopback, compared with in-process results."""
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import ner
from ner import samples
from ner.batch import cli as batch_cli

SENTENCES = [s for s in (samples.NEWS + samples.REPORT + samples.POST + samples.MIXED).split("。") if s]


def texts(n):
    return [f"{i}号文件。" + "。".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(1 + i % 3)) for i in range(n)]


def in_process(items):
    return [[e.to_dict() for e in ents] for ents in ner.load().recognize_batch(items)]


def test_annotate_adds_entities_equal_to_recognize_batch(ray_local):
    from ner.batch import annotate

    items = texts(300)
    ds = ray_local.data.from_items([{"key": i, "text": t} for i, t in enumerate(items)])
    rows = annotate(ds, text_column="text", concurrency=2).take_all()
    assert [r["key"] for r in rows] == list(range(len(items)))
    assert [r["entities"] for r in rows] == in_process(items)
    assert sum(len(r["entities"]) for r in rows) > len(items)


def test_ner_batch_engine_ray_writes_what_the_local_engine_writes(ray_local, tmp_path):
    items = texts(300)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
                           for i, t in enumerate(items)), encoding="utf-8")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(samples.NEWS.encode("gb18030"))
    (folder / "b.txt").write_text(samples.REPORT, encoding="utf-8")
    for engine in ("ray", "local"):
        for given, out in ((src, f"{engine}.jsonl"), (folder, f"{engine}-txt.jsonl")):
            rc = batch_cli.main([str(given), "--out", str(tmp_path / out), "--engine", engine, "--workers", "2", "--quiet"])
            assert rc == 0
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert (tmp_path / "ray-txt.jsonl").read_bytes() == (tmp_path / "local-txt.jsonl").read_bytes()
    rows = [json.loads(line) for line in (tmp_path / "ray.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["entities"] for r in rows] == in_process(items)
    assert rows[0]["id"] == "d0"  # a record's own id field is kept, as the local engine keeps it


@pytest.fixture
def serve_url(ray_local):
    """Ray Serve on a free loopback port with ``replicas`` replicas of the REST API; shut down afterwards."""
    from ray import serve

    from ner.bench.launch import free_port
    from ner_app.serve import build

    def start(replicas: int) -> str:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build({"replicas": str(replicas)}), name="ner", route_prefix="/")
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        serve.shutdown()


def test_serve_two_replicas_answer_concurrent_requests_like_in_process(serve_url):
    httpx = pytest.importorskip("httpx")
    from ray import serve

    url = serve_url(2)
    replicas = serve.status().applications["ner"].deployments["ner"].replica_states
    assert replicas.get("RUNNING") == 2
    assert httpx.get(f"{url}/healthz", timeout=30).json()["status"] == "ok"

    items = texts(160)
    want = in_process(items)

    def ask(i):
        r = httpx.post(f"{url}/api/v1/ner", json={"text": items[i]}, timeout=60)
        return r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(len(items))))
    assert [status for status, _ in answers] == [200] * len(items)
    assert [body["entities"] for _, body in answers] == want
    batch_answer = httpx.post(f"{url}/api/v1/ner", json={"texts": items[:5]}, timeout=60).json()
    assert [r["entities"] for r in batch_answer["results"]] == want[:5]
    refused = httpx.post(f"{url}/api/v1/ner", content=b"{", headers={"content-type": "application/json"}, timeout=60)
    assert refused.status_code == 400 and "error" in refused.json()


def descendants(pid: int) -> set[int]:
    """Every process started by ``pid``, directly or not (Ray's GCS and raylet are this process's children,
    its workers the raylet's)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, parent in parents.items() if parent == p and c not in found]
        found.update(kids)
        todo += kids
    return found


def test_a_local_ray_instance_listens_on_loopback_only(ray_local):
    import re
    import shutil
    import subprocess

    assert ray_local.util.get_node_ip_address() == "127.0.0.1"
    if not shutil.which("ss"):
        pytest.skip("no ss to list listening sockets")
    ours = descendants(os.getpid())
    listening = []
    for line in subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, timeout=30).stdout.splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if pids & ours:
            listening.append(line.split()[3])  # the local address:port
    assert len(listening) >= 3, listening  # the GCS, the raylet, the workers...
    assert [a for a in listening if not a.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:"))] == []


def test_engine_ray_skips_malformed_records_by_line_like_the_local_engine(ray_local, tmp_path, caplog):
    items = texts(6)
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in items[:3]] + ["{not json", json.dumps({"body": 1})]
    lines += [json.dumps({"text": t}, ensure_ascii=False) for t in items[3:]]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logs = {}
    for engine in ("ray", "local"):
        caplog.clear()
        rc = batch_cli.main([str(src), "--out", str(tmp_path / f"{engine}.jsonl"), "--engine", engine,
                             "--workers", "2", "--quiet"])
        assert rc == 0
        logs[engine] = sorted(r.getMessage() for r in caplog.records if "skipped" in r.getMessage())
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert logs["ray"] == logs["local"]
    assert [m.split(": ")[0] for m in logs["ray"]] == [f"{src} line 4", f"{src} line 5"]
    strict = batch_cli.main([str(src), "--out", str(tmp_path / "strict.jsonl"), "--engine", "ray", "--strict",
                             "--quiet"])
    assert strict == 1
    written = (tmp_path / "strict.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["entities"] for r in written] == in_process(items[:3])


def test_a_ray_worker_that_dies_is_reported_as_a_dead_worker(ray_local):
    from ner.batch import WorkerDied
    from ner.batch.ray import RayPool

    pool = RayPool(ray_local, 1, None, {"threads": 1, "precision": "int8"})
    try:
        assert pool.submit(None, [samples.SEED]).result(timeout=120) == in_process([samples.SEED])
        ray_local.kill(pool.actors[0])
        with pytest.raises(WorkerDied):  # ner.batch.run turns it into "a worker died ...; run the same command again"
            pool.submit(None, [samples.SEED]).result(timeout=120)
    finally:
        pool.shutdown()
