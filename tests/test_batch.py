"""``ner batch``: every input format, malformed records, limits, output order, resuming after Ctrl-C."""
import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

import ner
from ner import batch, samples
from ner.batch import BatchError, BatchOptions
from ner.batch import cli as batch_cli
from ner.batch.progress import save_progress
from ner.batch.writers import file_mark

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTENCES = [s for s in (samples.NEWS + samples.REPORT + samples.POST + samples.MIXED).split("。") if s] + [samples.SEED]


def corpus(n):
    """``n`` texts of one to four sample sentences, all different."""
    return [f"第{i}条。" + "。".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(1 + i % 4)) for i in range(n)]


def expected(texts):
    return [[e.to_dict() for e in ents] for ents in ner.load().recognize_batch(texts)]


def write_jsonl(path, texts, **extra):
    with open(path, "w", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            fh.write(json.dumps({"id": f"doc-{i}", "text": t, **extra}, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_jsonl_through_two_workers_equals_in_process_in_input_order(tmp_path):
    texts = corpus(120)
    src = write_jsonl(tmp_path / "in.jsonl", texts)
    stats = batch.run([src], tmp_path / "out.jsonl", workers=2, opts=BatchOptions(id_column="id"), chunk_chars=2_000,
                      progress=False)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [f"doc-{i}" for i in range(len(texts))]
    assert [r["entities"] for r in out] == expected(texts)
    assert (stats.records, stats.skipped, stats.total.chars) == (len(texts), 0, sum(map(len, texts)))
    assert stats.threads == max(1, batch.usable_cores() // 2)  # cores are shared out, not oversubscribed


def test_a_records_own_id_is_kept_with_its_json_type_by_default(tmp_path):
    texts = ["李明在上海工作。", "新华社北京电", "张三"]
    src = tmp_path / "in.jsonl"
    ids = [7, "doc-b", 2.5]
    src.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in zip(ids, texts))
                   + json.dumps({"text": "北京"}, ensure_ascii=False) + "\n", encoding="utf-8")
    batch.run([src], tmp_path / "out.jsonl", workers=0, progress=False)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [7, "doc-b", 2.5, f"{src}:4"]  # a record without an id: its place
    assert type(out[0]["id"]) is int and '{"id": 7, ' in (tmp_path / "out.jsonl").read_text(encoding="utf-8")


def test_keep_fields_pass_other_fields_through(tmp_path):
    src = tmp_path / "in.jsonl"
    records = [{"id": 1, "text": "李明在上海工作。", "lang": "zh", "meta": {"page": 3}}, {"id": 2, "text": "北京"}]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    batch.run([src], tmp_path / "out.jsonl", workers=0, progress=False, opts=BatchOptions(keep_fields=("lang", "meta")))
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [list(r) for r in out] == [["id", "lang", "meta", "entities"]] * 2
    assert [(r["id"], r["lang"], r["meta"]) for r in out] == [(1, "zh", {"page": 3}), (2, None, None)]
    with pytest.raises(batch.BatchError, match="needs a .jsonl output"):
        batch.run([src], tmp_path / "out.csv", workers=0, progress=False, opts=BatchOptions(keep_fields=("lang",)))
    with pytest.raises(batch.BatchError, match="already has that field"):
        batch.run([src], tmp_path / "o2.jsonl", workers=0, progress=False, opts=BatchOptions(keep_fields=("entities",)))


def test_cli_keeps_integer_ids_and_fields(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 41, "text": "李明在上海工作。", "url": "u1"}\n{"id": 42, "text": "北京"}\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "ner.batch", str(src), "--out", str(tmp_path / "o.jsonl"),
                           "--workers", "0", "--quiet", "--keep-fields", "url"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [(r["id"], r["url"]) for r in read_jsonl(tmp_path / "o.jsonl")] == [(41, "u1"), (42, None)]


def test_malformed_records_are_reported_by_line_and_skipped(tmp_path, caplog):
    good = [samples.SEED, "李明在上海工作。", "新华社北京电"]
    lines = [json.dumps({"text": good[0]}, ensure_ascii=False), "{not json", "", json.dumps(["a", "list"]),
             json.dumps({"body": "no text field"}), json.dumps({"text": 42}), json.dumps({"text": "长" * 51}, ensure_ascii=False),
             json.dumps({"text": good[1]}, ensure_ascii=False), b"\xff\xfe not utf-8".decode("latin-1"),
             json.dumps({"text": good[2]}, ensure_ascii=False)]
    src = tmp_path / "in.jsonl"
    src.write_bytes("\n".join(lines).replace("ÿþ", "\udcff\udcfe").encode("utf-8", "surrogateescape") + b"\n")
    with caplog.at_level(logging.WARNING, logger="ner.batch"):
        stats = batch.run([src], tmp_path / "out.jsonl", workers=0, opts=BatchOptions(max_chars=50), progress=False)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["entities"] for r in out] == expected(good)
    assert [r["id"] for r in out] == ["in.jsonl:1".replace("in.jsonl", str(src)), f"{src}:7", f"{src}:9"]
    assert stats.skipped == 6
    warnings = [r.getMessage() for r in caplog.records]
    for line, reason in [(2, "not valid JSON"), (4, "a JSON list"), (5, "'text' is missing"),
                         (6, "is a int, not a string"), (7, "51 characters is over --max-chars 50"),
                         (9, "2 byte(s) that are not utf-8 text read as U+FFFD"), (9, "not valid JSON")]:
        assert any(f"line {line}: " in w and reason in w for w in warnings), (line, warnings)


def test_strict_stops_at_the_first_malformed_record_keeping_those_before(tmp_path):
    texts = corpus(5)
    src = write_jsonl(tmp_path / "in.jsonl", texts)
    with open(src, "a", encoding="utf-8") as fh:
        fh.write("{broken\n" + json.dumps({"text": texts[0]}, ensure_ascii=False) + "\n")
    with pytest.raises(BatchError, match=r"in.jsonl line 6: not valid JSON.*--strict"):
        batch.run([src], tmp_path / "out.jsonl", workers=0, strict=True, progress=False)
    assert [r["entities"] for r in read_jsonl(tmp_path / "out.jsonl")] == expected(texts)
    rc = batch_cli.main([str(src), "--out", str(tmp_path / "cli.jsonl"), "--workers", "0", "--strict", "--quiet"])
    assert rc == 1


def test_csv_in_with_columns_bom_and_multiline_fields_to_csv_out(tmp_path):
    texts = ["张三在北京工作。\n第二行：李明去了上海。", samples.SEED, "没有实体的一句话"]
    src = tmp_path / "posts.csv"
    with open(src, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["post_id", "body", "likes"])
        for i, t in enumerate(texts):
            w.writerow([f"p{i}", t, i])
        fh.write('p9,"short row"\n')
    stats = batch.run([src], tmp_path / "out.csv", workers=0, opts=BatchOptions(text_column="body", id_column="post_id"),
                      progress=False)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    want = [{"id": f"p{i}", **{k: str(v) for k, v in e.items()}} for i, ents in enumerate(expected(texts)) for e in ents]
    assert rows == want
    assert list(rows[0]) == batch.CSV_COLUMNS
    assert (stats.records, stats.skipped) == (3, 1)
    with pytest.raises(BatchError, match="no column 'text' in the header"):
        batch.run([src], tmp_path / "bad.csv", workers=0, progress=False)


def test_txt_folder_one_document_per_file_any_encoding(tmp_path):
    folder = tmp_path / "reports"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(samples.NEWS.encode("gb18030"))
    (folder / "sub" / "b.txt").write_text(samples.REPORT, encoding="utf-8")
    (folder / "skip.md").write_text("not a text input")
    batch.run([folder], tmp_path / "out.jsonl", workers=0, progress=False)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [str(folder / "a.txt"), str(folder / "sub" / "b.txt")]
    assert [r["entities"] for r in out] == expected([samples.NEWS, samples.REPORT])


def test_parquet_in_and_out(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    texts = corpus(40)
    pq.write_table(pa.table({"key": list(range(40)), "text": texts}), tmp_path / "in.parquet", row_group_size=7)
    batch.run([tmp_path / "in.parquet"], tmp_path / "out.parquet", workers=0, opts=BatchOptions(id_column="key"),
              chunk_chars=1_000, progress=False)
    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table["id"] == [str(i) for i in range(40)]  # Parquet's id column is text
    assert table["entities"] == expected(texts)
    assert not (tmp_path / "out.parquet.parts").exists()


def test_refuses_unknown_inputs_and_foreign_progress(tmp_path):
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(BatchError, match="unknown input type '.docx'"):
        batch.run([tmp_path / "x.docx"], tmp_path / "o.jsonl")
    src = write_jsonl(tmp_path / "in.jsonl", corpus(3))
    with pytest.raises(BatchError, match="cannot tell the output format"):
        batch.run([src], tmp_path / "out.txt", workers=0)
    batch.run([src], tmp_path / "out.jsonl", workers=0, progress=False)
    with pytest.raises(BatchError, match="other inputs or options"):
        batch.run([src], tmp_path / "out.jsonl", workers=0, opts=BatchOptions(max_chars=10), progress=False)
    (tmp_path / "out.jsonl.progress.json").unlink()
    with pytest.raises(BatchError, match="--overwrite"):
        batch.run([src], tmp_path / "out.jsonl", workers=0, progress=False)


def test_a_rerun_cuts_off_what_was_written_after_the_last_commit(tmp_path):
    """A kill between writing a chunk and committing it leaves extra bytes; the rerun removes them."""
    texts = corpus(30)
    src = write_jsonl(tmp_path / "in.jsonl", texts)
    out = tmp_path / "out.jsonl"
    batch.run([src], out, workers=0, chunk_chars=500, progress=False)
    whole = out.read_bytes()
    progress = tmp_path / "out.jsonl.progress.json"
    # go back to the state after the chunk that ends at record 10, with half a record written after it
    cut = sum(len(line) for line in whole.splitlines(keepends=True)[:10])
    src_offset = sum(len(line) for line in src.read_bytes().splitlines(keepends=True)[:10])
    state = json.loads(progress.read_text())
    state.update({"done": False, "source": 0, "cursor": [src_offset, 10, 10], "records": 10, "skipped": 0,
                  "entities": len([e for ents in expected(texts[:10]) for e in ents]),
                  "chars": sum(map(len, texts[:10])), "output": file_mark(out, cut)})
    save_progress(progress, state)  # as the run saves it, with its checksum
    out.write_bytes(whole[:cut] + b'{"id": "half a rec')
    stats = batch.run([src], out, workers=0, progress=False)
    assert stats.resumed and stats.records == 30 and stats.this_run.chars == sum(map(len, texts[10:]))
    assert stats.total.chars == sum(map(len, texts))
    assert out.read_bytes() == whole


@pytest.mark.slow
def test_ctrl_c_then_rerun_writes_every_record_exactly_once(tmp_path):
    texts = corpus(3000)  # long enough that a quiet machine does not finish before the Ctrl-C arrives
    src = write_jsonl(tmp_path / "in.jsonl", texts)
    out, progress = tmp_path / "out.jsonl", tmp_path / "out.jsonl.progress.json"
    cmd = [sys.executable, "-m", "ner.batch", str(src), "--out", str(out), "--workers", "2", "--chunk-chars", "1500",
           "--id-column", "id", "--quiet"]
    first = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not progress.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    state = json.loads(progress.read_text())
    assert first.returncode == 130, err.decode()[-2000:]
    assert b"run the same command again to resume" in err and b"Traceback" not in err
    assert not state["done"] and 0 < state["records"] < len(texts)
    assert out.stat().st_size >= state["output"]["bytes"]  # anything after the last commit is cut off by the rerun
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == [f"doc-{i}" for i in range(len(texts))]
    assert [r["entities"] for r in rows] == expected(texts)
    assert json.loads(second.stdout.splitlines()[-1])["resumed"]
    assert json.loads(progress.read_text())["done"] is True


def test_cli_prints_the_figures_and_plain_errors(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", corpus(4))
    run = subprocess.run([sys.executable, "-m", "ner.batch", str(src), "--out", str(tmp_path / "o.jsonl"),
                          "--workers", "0", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert figures["total"]["records"] == 4 and figures["this_run"]["chars_per_s"] > 0
    missing = subprocess.run([sys.executable, "-m", "ner.batch", str(tmp_path / "nope.jsonl"), "--out",
                              str(tmp_path / "x.jsonl")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


# ------------------------------------------------------------ hostile inputs (issue 27)

def test_a_record_nested_too_deeply_is_skipped_between_two_good_ones(tmp_path, caplog):
    texts = ["张三在北京工作。", "李明去了上海。"]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": texts[0]}, ensure_ascii=False) + "\n" + "[" * 2000 + "]" * 2000 + "\n"
                   + '{"text": "x", "n": ' + "9" * 5000 + "}\n"
                   + json.dumps({"text": texts[1], "deep": [[[1]]]}, ensure_ascii=False) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        stats = batch.run([src], tmp_path / "out.jsonl", workers=0, progress=False)
    assert [r["entities"] for r in read_jsonl(tmp_path / "out.jsonl")] == expected(texts)
    assert stats.skipped == 2
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "line 2: not valid JSON (nested too deeply" in warnings and "line 3: not valid JSON" in warnings


def test_a_folder_symlink_out_of_it_and_a_fifo_are_not_read(tmp_path, caplog):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(samples.SEED, encoding="utf-8")
    outside = tmp_path / "secret.txt"
    outside.write_text("张三的密码", encoding="utf-8")
    (folder / "p.txt").symlink_to("/etc/passwd")
    (folder / "s.txt").symlink_to(outside)
    (folder / "inside.txt").symlink_to(folder / "a.txt")
    os.mkfifo(folder / "f.txt")
    with caplog.at_level(logging.WARNING):
        batch.run([folder], tmp_path / "out.jsonl", workers=0, progress=False)
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [str(folder / "a.txt"), str(folder / "inside.txt")]
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "p.txt: a symbolic link out of the folder" in warnings and "f.txt: not a regular file" in warnings
    batch.run([folder], tmp_path / "follow.jsonl", workers=0, progress=False, follow_symlinks=True)
    assert str(folder / "s.txt") in [r["id"] for r in read_jsonl(tmp_path / "follow.jsonl")]
    with pytest.raises(BatchError, match="not a regular file"):
        batch.run([folder / "f.txt"], tmp_path / "fifo.jsonl", workers=0, progress=False)


@pytest.mark.parametrize("encoding", ["utf-16", "gb18030", "utf-8-sig"])
def test_csv_and_jsonl_in_other_encodings_are_annotated_like_their_utf8_copy(tmp_path, encoding):
    texts = ["张三在北京工作。", "李明去了上海，见到了王芳。", samples.SEED]
    rows = "post_id,body\r\n" + "".join(f"p{i},{t}\r\n" for i, t in enumerate(texts))
    (tmp_path / "in.csv").write_bytes(rows.encode(encoding))
    (tmp_path / "in.jsonl").write_bytes("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                                                for i, t in enumerate(texts)).encode(encoding))
    batch.run([tmp_path / "in.csv"], tmp_path / "out.jsonl", workers=0, progress=False,
              opts=BatchOptions(text_column="body", id_column="post_id"))
    assert [r["entities"] for r in read_jsonl(tmp_path / "out.jsonl")] == expected(texts)
    batch.run([tmp_path / "in.jsonl"], tmp_path / "out2.jsonl", workers=0, progress=False)
    assert [r["entities"] for r in read_jsonl(tmp_path / "out2.jsonl")] == expected(texts)


def test_a_file_read_in_the_wrong_encoding_stops_the_run_naming_one_to_pass(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in corpus(20)).encode("gb18030"))
    with pytest.raises(BatchError, match="not utf-8 text; pass --encoding gb18030"):
        batch.run([src], tmp_path / "out.jsonl", workers=0, progress=False, opts=BatchOptions(encoding="utf-8"))
    assert not (tmp_path / "out.jsonl.progress.json").exists()


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path, how):
    src = write_jsonl(tmp_path / "in.jsonl", corpus(5))
    before = src.read_bytes()
    out = src
    if how == "symlink":
        out = tmp_path / "out.jsonl"
        out.symlink_to(src)
    elif how == "hardlink":
        out = tmp_path / "out.jsonl"
        os.link(src, out)
    rc = batch_cli.main([str(src), "--out", str(out), "--overwrite", "--workers", "0", "--quiet"])
    assert rc == 2 and src.read_bytes() == before
    with pytest.raises(BatchError, match="would write over the input"):
        batch.run([src], out, workers=0, overwrite=True, progress=False)


def _interrupted_run(tmp_path, n=40):
    """A finished run turned back into one interrupted after its second chunk (as a kill leaves it)."""
    texts = corpus(n)
    src = write_jsonl(tmp_path / "in.jsonl", texts)
    out, progress = tmp_path / "out.jsonl", tmp_path / "out.jsonl.progress.json"
    batch.run([src], out, workers=0, chunk_chars=500, progress=False)
    whole = out.read_bytes()
    cut = sum(len(line) for line in whole.splitlines(keepends=True)[:10])
    src_offset = sum(len(line) for line in src.read_bytes().splitlines(keepends=True)[:10])
    state = json.loads(progress.read_text())
    state.update({"done": False, "source": 0, "cursor": [src_offset, 10, 10], "records": 10, "skipped": 0,
                  "entities": sum(map(len, expected(texts[:10]))), "chars": sum(map(len, texts[:10])),
                  "output": file_mark(out, cut)})
    save_progress(progress, state)
    out.write_bytes(whole[:cut])
    return src, out, progress, whole


@pytest.mark.parametrize("edit", [
    {"output": {"bytes": 10**12}}, {"cursor": [0, 0, 0]}, {"cursor": [10**9, 10, 10]}, {"source": 7},
    {"output": "x"}, {"records": -1}, {"cursor": [5, 1, 1]}, {"output": {"bytes": 100, "tail": ""}}, "cut"])
@pytest.mark.parametrize("signed", [False, True])
def test_a_progress_file_that_does_not_fit_is_refused_and_the_output_kept(tmp_path, edit, signed):
    src, out, progress, _ = _interrupted_run(tmp_path)
    if edit == "cut":  # 100 bytes, with the checksum of those 100 bytes: inside the first record
        edit = {"output": file_mark(out, 100)}
    state = {**json.loads(progress.read_text()), **edit}
    if signed:  # rewritten with a valid checksum: the field checks still refuse it
        save_progress(progress, state)
    else:
        progress.write_text(json.dumps(state))
    before = out.read_bytes()
    if signed and edit == {"cursor": [0, 0, 0]}:
        return  # a deliberate forgery of a consistent state is not detectable; a hand edit is (unsigned case)
    rc = batch_cli.main([str(src), "--out", str(out), "--workers", "0", "--quiet"])
    assert rc == 2 and out.read_bytes() == before
    with pytest.raises(BatchError, match="--overwrite to start again"):
        batch.run([src], out, workers=0, progress=False)


def test_a_damaged_progress_file_and_a_changed_finished_output_are_refused(tmp_path):
    src, out, progress, whole = _interrupted_run(tmp_path)
    progress.write_text('{"version": 2, "cursor": [' + "[" * 50_000)
    with pytest.raises(BatchError, match="damaged"):
        batch.run([src], out, workers=0, progress=False)
    batch.run([src], out, workers=0, overwrite=True, progress=False)
    assert out.read_bytes() == whole
    with open(out, "ab") as fh:
        fh.write(b'{"id": "added"}\n')
    with pytest.raises(BatchError, match="changed since"):
        batch.run([src], out, workers=0, progress=False)


def test_the_summary_of_a_resumed_run_names_whole_run_totals_and_this_runs_figures(tmp_path):
    src, out, progress, whole = _interrupted_run(tmp_path)
    stats = batch.run([src], out, workers=0, progress=False)
    assert out.read_bytes() == whole
    figures = stats.to_dict()
    assert figures["total"]["records"] == 40 and figures["this_run"]["records"] == 30
    texts = corpus(40)
    assert figures["total"]["chars"] == sum(map(len, texts))
    assert figures["this_run"]["chars"] == sum(map(len, texts[10:]))
    assert figures["total"]["entities"] == sum(map(len, expected(texts)))
    assert figures["this_run"]["entities"] == sum(map(len, expected(texts[10:])))


@pytest.mark.slow
def test_kill_9_of_the_command_leaves_no_worker_running(tmp_path, toy_dir):
    src = write_jsonl(tmp_path / "in.jsonl", corpus(3000))
    cmd = [sys.executable, "-m", "ner.batch", str(src), "--out", str(tmp_path / "out.jsonl"), "--workers", "2",
           "--chunk-chars", "1500", "--model", str(toy_dir), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = tmp_path / "out.jsonl.progress.json"
    workers = []
    try:
        deadline = time.monotonic() + 120
        while not progress.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        workers += _children(proc.pid)
        assert proc.poll() is None and len(workers) >= 2, workers
        proc.kill()
        proc.wait(10)
        time.sleep(5)
        alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}") and not _zombie(pid)]
        assert alive == [], alive
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in workers:  # the test's own processes, by id, should the check have failed
            if os.path.exists(f"/proc/{pid}") and not _zombie(pid):
                os.kill(pid, signal.SIGKILL)


def _children(pid):
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be", "utf-32-le"])
def test_lines_in_any_encoding_are_cut_at_their_line_ends_and_bounded(tmp_path, encoding):
    from ner.batch.files import lines

    text = "甲\n" + "乙" * 50 + "\n丙\n" + "丁" * 50
    path = tmp_path / "t"
    path.write_bytes(text.encode(encoding))
    newline = "\n".encode(encoding)
    with open(path, "rb") as fh:
        got = list(lines(fh, 0, 40 * len(newline), newline))
    assert [None if line is None else line.decode(encoding) for _, line in got] == ["甲\n", None, "丙\n", None]
    assert got[-1][0] == path.stat().st_size
