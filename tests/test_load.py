"""A short, bounded run of the load test (ner.bench.load) against the real server: no errors, no mix-ups."""
from ner.bench import load as load_test


def test_concurrent_clients_get_their_own_results(server_url):
    res = load_test.run(server_url, None, clients=8, seconds=6, max_requests=400, n_texts=24, use_gradio=True,
                       warmup_s=2)
    assert res["requests"] > 0
    assert res["errors"] == 0, res["error_samples"]
    assert res["mismatches"] == 0, res["mismatch_samples"]
    assert res["by_endpoint"]["rest"]["requests"] > 0 and res["by_endpoint"]["extract"]["requests"] > 0


def test_load_test_refuses_non_loopback_targets():
    import pytest

    with pytest.raises(SystemExit, match="loopback"):
        load_test.run("http://10.0.0.1:7860", None, 1, 1, 1, 1, False)
