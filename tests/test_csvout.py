"""Every CSV the project writes goes through :mod:`ner.csvout`: no cell a spreadsheet would run as a formula."""
import csv
import io
import subprocess
import sys

from ner import batch, csvout
from ner.batch import BatchOptions
from ner.batch import cli as batch_cli
from ner.outputs import render

from conftest import ROOT

FORMULAS = ["=1+1", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\0=1"]
#: ids of a CSV input (a CR inside a field reads back as LF there, so it is left out)
IDS = [f for f in FORMULAS if f != "\r=1"]


def cells(text: str) -> list[str]:
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


def test_the_writer_quotes_formula_cells_and_keeps_numbers():
    out = csvout.csv_rows([[f, -1, 0.5] for f in FORMULAS])
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert [r[0] for r in rows] == ["'" + f for f in FORMULAS]
    assert {(r[1], r[2]) for r in rows} == {("-1", "0.5")}  # numbers stay numbers
    assert out.endswith("\r\n")


def test_ner_batch_csv_of_a_formula_id_column_has_no_live_formula(tmp_path):
    src = tmp_path / "in.csv"
    with open(src, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i, f in enumerate(IDS):
            w.writerow([f, f"张三在北京工作{i}。"])
    assert batch_cli.main([str(src), "--out", str(tmp_path / "out.csv"), "--id-column", "id", "--workers", "0",
                           "--quiet"]) == 0
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    found = cells(text)
    assert "'=1+1" in found
    assert not [c for c in found if c.startswith(("=", "+", "-", "@"))]
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert sorted({r["id"] for r in rows}) == sorted("'" + f for f in IDS)


def test_the_cli_and_the_page_write_the_same_csv(toy_dir):
    text = "张三在北京工作。"
    out = subprocess.run([sys.executable, "-m", "ner", "--model", str(toy_dir), "--format", "csv", text],
                         capture_output=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    import ner

    page = render("csv", text, ner.load(toy_dir).recognize(text), "toy", ["PER", "LOC", "ORG"])
    assert out.stdout.decode("utf-8") == page
    assert page.startswith(",".join(csvout.ENTITY_FIELDS) + "\r\n")


def test_batch_writes_csv_through_the_one_writer(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "@x", "text": "张三在北京。"}\n', encoding="utf-8")
    batch.run([src], tmp_path / "out.csv", workers=0, opts=BatchOptions(id_column="id"), progress=False)
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"id,text,type,start,end,score,source\r\n")
    assert b"\n'@x," in raw


def test_every_csv_has_one_column_order(tmp_path, toy_dir):
    """The page's download, ``python -m ner --format csv`` and ``ner-batch``: the entity's fields in one order
    (``Entity.to_dict``'s), a batch row led by its record's id."""
    import ner

    text = "张三在北京工作。"
    page_csv = render("csv", text, ner.load(toy_dir).recognize(text), "toy", ["PER", "LOC", "ORG"])
    page = list(csv.reader(io.StringIO(page_csv, newline="")))
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "d1", "text": "%s"}\n' % text, encoding="utf-8")
    batch.run([src], tmp_path / "out.csv", workers=0, progress=False, model=str(toy_dir),
              opts=BatchOptions(id_column="id"))
    rows = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8"), newline="")))
    assert page[0] == csvout.ENTITY_FIELDS == list(ner.Entity(0, 2, "PER", "张三", 1.0).to_dict())
    assert rows[0] == batch.CSV_COLUMNS == ["id", *csvout.ENTITY_FIELDS]
    assert [r[1:] for r in rows[1:]] == page[1:] and {r[0] for r in rows[1:]} == {"d1"}
