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
