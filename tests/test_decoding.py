"""One decoding rule on every road in (the CLI's argument, ``--file`` and stdin, batch records; the server's own
tests are in test_security): a byte that is not part of a character, or a lone surrogate, becomes U+FFFD,
one for one, and offsets stay code-point offsets into what was sent."""
import csv
import json
import subprocess
import sys

import ner
from ner import batch
from ner.batch import BatchOptions
from ner.textio import decode_bytes, from_utf8, well_formed

from conftest import ROOT

SENT = "张三\ufffd在北京"  # what "张三<byte 0xff>在北京" reads as
RAW = "张三".encode() + b"\xff" + "在北京".encode()
WANT = [("张三", "PER", 0, len("张三")), ("北京", "LOC", len("张三\ufffd在"), len("张三\ufffd在北京"))]


def spans(entities):
    return [(e["text"], e["type"], e["start"], e["end"]) for e in entities]


def run_cli(args, stdin=b""):
    return subprocess.run([sys.executable, "-m", "ner", *args], input=stdin, capture_output=True, cwd=ROOT,
                          timeout=120)


def test_stray_bytes_become_one_replacement_each():
    assert from_utf8(RAW) == SENT
    assert from_utf8("北京".encode()[:2] + b"!") == "\ufffd\ufffd!"  # a cut character: one U+FFFD per byte
    assert well_formed("\ud800张三") == "\ufffd张三"
    assert decode_bytes(RAW) == (SENT, "utf-8", False)


def test_cli_argument_with_an_undecodable_byte():
    out = run_cli([RAW])  # argv bytes, as the shell passes "$(printf '张三\xff在北京')"
    assert out.returncode == 0, out.stderr.decode()
    assert spans(json.loads(out.stdout)["entities"]) == WANT


def test_cli_file_with_an_undecodable_byte(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(RAW)
    out = run_cli(["--file", str(path)])
    assert out.returncode == 0, out.stderr.decode()
    assert spans(json.loads(out.stdout)["entities"]) == WANT
    assert "not UTF-8" in out.stderr.decode()


def test_cli_stdin_with_an_undecodable_byte():
    out = run_cli([], stdin=RAW)
    assert out.returncode == 0, out.stderr.decode()
    assert spans(json.loads(out.stdout)["entities"]) == WANT


def test_batch_records_with_stray_bytes_and_lone_surrogates(tmp_path, caplog):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": "a", "text": "' + RAW + b'"}\n{"id": "b", "text": "\\ud800' + "张三在北京".encode() + b'"}\n')
    batch.run([src], tmp_path / "out.jsonl", workers=0, opts=BatchOptions(id_column="id"), progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    rec = ner.load()
    assert rows[0]["entities"] == [e.to_dict() for e in rec.recognize(SENT)]
    assert spans(rows[0]["entities"]) == WANT
    assert rows[1]["entities"] == [e.to_dict() for e in rec.recognize("\ufffd张三在北京")]
    assert any("line 1: 1 byte(s) that are not utf-8" in r.getMessage() for r in caplog.records)


def test_batch_csv_and_txt_records_with_a_stray_byte(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"id,text\nx\xff," + RAW + b"\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_bytes(RAW)
    batch.run([src], tmp_path / "out.csv", workers=0, opts=BatchOptions(id_column="id"), progress=False)
    batch.run([tmp_path / "docs"], tmp_path / "txt.jsonl", workers=0, progress=False)
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["id"], r["text"], r["type"], int(r["start"]), int(r["end"])) for r in rows] == \
        [("x\ufffd", *w) for w in WANT]
    txt = json.loads((tmp_path / "txt.jsonl").read_text(encoding="utf-8"))
    assert spans(txt["entities"]) == WANT
