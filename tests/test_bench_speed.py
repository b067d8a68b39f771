"""The speed commands of issue 22 print figures for every setting they compare (no timing is asserted)."""
import pytest

import ner.crf
from ner.bench import decode as bench_decode
from ner.bench import session as bench_session


@pytest.mark.slow
def test_session_bench_reports_each_setting_against_the_default():
    (row,) = bench_session.measure(None, [20], repeats=2, rounds=1)
    assert row["chars"] == 20 and row["windows"] == 1
    names = set(row["ms"])
    assert {"threads=1", "threads=2", "spinning", "io binding", "features only"} <= names
    default = next(iter(row["ratio"]))
    assert default.startswith("default") and row["ratio"][default] == 1.0
    assert all(v > 0 for v in row["ms"].values())


@pytest.mark.slow
@pytest.mark.skipif(ner.crf.KERNEL != "c", reason="ner._crfkernel is not built here")
def test_decode_bench_checks_and_times_both_tag_set_sizes():
    rows = bench_decode.measure(None, [100], repeats=2, rounds=1)
    assert [r["tags"] for r in rows] == [13, 41]
    assert all(r["numpy_ms"] > 0 and r["c_ms"] > 0 for r in rows)


@pytest.mark.slow
def test_threads_bench_reports_every_mode_for_every_caller_count():
    from ner.bench import threads as bench_threads

    res = bench_threads.measure(None, [20], [1, 2], seconds=0.05, rounds=1)
    assert res["other_sessions_mb"] >= 0
    assert [(r["chars"], r["callers"]) for r in res["results"]] == [(20, 1), (20, 2)]
    for r in res["results"]:
        assert set(r["modes"]) == {"engine", "sleeping", "spinning", "one thread"}
        assert all(v["chars_per_s"] > 0 for v in r["modes"].values())


@pytest.mark.slow
def test_verbose_bench_splits_a_call_into_onnx_runtime_and_the_rest():
    from ner.bench import latency

    text = latency.profile_call(None, "int8", chars=100, calls=5, top=5)
    assert "of which ONNX Runtime" in text and "tottime" in text
