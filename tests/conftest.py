import inspect
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Which kind of test each module holds (pytest -m unit / app / e2e / export); unlisted modules are unit tests.
KINDS = {"test_api": "app", "test_app": "app", "test_bad_input": "app", "test_model_source": "app",
         "test_browser": "e2e", "test_load": "e2e", "test_raner_export": "export",
         "test_distributed": "e2e", "test_docker": "e2e", "test_mcp": "app", "test_page": "e2e",
         "test_page_model": "e2e", "test_finetune": "e2e", "test_serve_guard": "e2e",
         "test_batch_kill": "e2e", "test_readme": "e2e", "test_page_i18n": "e2e"}
SLOW = {"app", "e2e", "export"}


def _starts_a_server(item) -> bool:
    """A test that runs ``python app.py`` (or another process) end to end, whatever module it sits in."""
    if {"server_url", "live"} & set(getattr(item, "fixturenames", ())):  # the shared servers of the app tests
        return True
    try:
        source = inspect.getsource(item.function)
    except (OSError, TypeError):
        return False
    return any(word in source for word in ("running_server(", "run_app(", "subprocess.", "chromium", "playwright"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        kind = KINDS.get(module) or ("app" if module.startswith("test_security") else "unit")
        if kind in ("unit", "app") and _starts_a_server(item):
            kind = "e2e"  # -m "not e2e" stays quick: in-process tests only
        item.add_marker(getattr(pytest.mark, kind))
        if kind in SLOW:
            item.add_marker(pytest.mark.slow)


DATA = Path(os.environ.get("NER_DATA", ROOT.parent / "shared" / "data"))
#: Debian's chromium, headless, for the browser tests (one launch recipe for all of them).
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-quic", "--no-first-run", "--disable-sync"]


def check_contract(text, entities):
    """What every result must satisfy: in bounds, ``text == source[start:end]``, sorted, non-overlapping."""
    last_end = 0
    for e in entities:
        assert 0 <= e.start < e.end <= len(text)
        assert e.text == text[e.start : e.end]
        assert e.start >= last_end
        assert e.label in ("PER", "LOC", "ORG")
        assert 0.0 <= e.score <= 1.0
        last_end = e.end


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory):
    import toy_model

    return toy_model.build(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="session")
def toy(toy_dir):
    import ner

    return ner.load(toy_dir, batch_size=4)


@pytest.fixture(scope="session")
def data_dir():
    if not (DATA / "msra" / "test.tsv").is_file():
        pytest.skip(f"the corpora are not at {DATA} (set NER_DATA to ../shared/data)")
    return DATA


@pytest.fixture(scope="session")
def server_url(toy_dir):
    """Base URL of the real server (``python app.py``) serving the toy model, shared by the app tests."""
    from server_util import running_server

    with running_server(toy_dir) as (url, _proc):
        yield url


#: What the Ray instance of the tests gives its processes: Serve's proxy gets the app's guard, with short timeouts.
RAY_ENV = {"RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH": "ner_app.serve:proxy_middlewares",
           "NER_HEADER_TIMEOUT": "4", "NER_BODY_TIMEOUT": "4"}


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the session (2 CPUs, loopback only, no dashboard, no usage report)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    from ner.batch.ray import init_ray

    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)  # Ray's processes (the proxy, the replicas) inherit them at start
    try:
        ray = init_ray(num_cpus=2, log_to_driver=False, configure_logging=False)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    try:
        yield ray
    finally:
        try:
            from ray import serve

            serve.shutdown()
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()
