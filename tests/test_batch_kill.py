"""``ner-batch`` killed with SIGKILL (one worker mid-chunk, then the whole command mid-run) and resumed writes every
record exactly once, in input order (:func:`ner.bench.soak.kill_and_resume`, also part of the soak benchmark)."""
from ner.bench.soak import kill_and_resume


def test_a_batch_run_killed_with_sigkill_then_resumed_writes_every_record_once(tmp_path, toy_dir):
    report = kill_and_resume(tmp_path, records=3000, model=str(toy_dir), timeout=240)
    assert report["after_worker_kill"]["exit"] == 2, report
    assert "a worker died" in report["after_worker_kill"]["message"] and "resume" in report["after_worker_kill"]["message"]
    assert "Traceback" not in report["after_worker_kill"]["message"]
    assert report["worker_killed_after_records"] > 0, report
    assert report["command_killed_after_records"] > report["worker_killed_after_records"], report
    assert report["resume_exit"] == 0
    assert (report["lines"], report["distinct_ids"], report["in_input_order"]) == (3000, 3000, True)
