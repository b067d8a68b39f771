"""Benchmark a RaNER-sized model: PyTorch eager FP32 vs ONNX Runtime FP32 vs INT8 (a command that prints figures).

    python -m ner.bench.raner [--json] [--runs 5] [--threads 2] [--workdir /tmp/...]

Builds a random model of RaNER's shape (BERT-base Chinese: 12 layers, hidden
768, 12 heads, intermediate 3072, vocabulary 21,128; linear + CRF over 13 BIOES
tags) in ModelScope's checkpoint layout, exports it with
:func:`ner.export.raner.export_modelscope`, then measures each variant in its own
process: the median latency of one forward pass (emissions for [CLS] + text +
[SEP], one input at a time) at 100/300/500 characters, the process's peak RSS
(load + runs), and the size of the file each variant loads.  Random weights
cost the same time as trained ones; no accuracy is measured here.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .._optional import require
from ..commands import add_threads

log = logging.getLogger(__name__)

#: BERT-base Chinese, as in RaNER's config.json
BASE_SHAPE = {"vocab_size": 21128, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
              "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2}
LABELS = ["O"] + [f"{p}-{t}" for t in ("LOC", "ORG", "PER") for p in "BIES"]
LENGTHS = (100, 300, 500)
VARIANTS = {"torch": "PyTorch eager FP32", "onnx-fp32": "ONNX Runtime FP32", "onnx-int8": "ONNX Runtime INT8"}
CJK_FIRST = 0x4E00
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_checkpoint(path: Path, seed: int = 0) -> Path:
    """A random RaNER-shaped ModelScope directory (``pytorch_model.bin``, config, label map, vocab)."""
    torch = require("torch", "The RaNER benchmark")
    transformers = require("transformers", "The RaNER benchmark")
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(**BASE_SHAPE)
    encoder = transformers.BertModel(cfg, add_pooling_layer=False)
    k, h = len(LABELS), cfg.hidden_size
    state = {f"encoder.{n}": t for n, t in encoder.state_dict().items()}
    state.update({"head.linear.weight": torch.randn(k, h) * 0.05, "head.linear.bias": torch.zeros(k),
                  "head.crf.start_transitions": torch.randn(k), "head.crf.end_transitions": torch.randn(k),
                  "head.crf.transitions": torch.randn(k, k)})
    torch.save(state, path / "pytorch_model.bin")
    (path / "config.json").write_text(json.dumps(dict(cfg.to_dict(), model_type="bert")), encoding="utf-8")
    (path / "label_mapping.json").write_text(json.dumps({lab: i for i, lab in enumerate(LABELS)}), encoding="utf-8")
    chars = [chr(CJK_FIRST + i) for i in range(cfg.vocab_size - len(SPECIALS))]
    (path / "vocab.txt").write_text("\n".join(SPECIALS + chars) + "\n", encoding="utf-8")
    return path


def example_ids(n_chars: int, seed: int = 0):
    """Token ids the engine would feed for ``n_chars`` random CJK characters: [CLS] text [SEP]."""
    import numpy as np

    rng = np.random.default_rng(seed + n_chars)
    body = rng.integers(len(SPECIALS), BASE_SHAPE["vocab_size"], n_chars)
    return np.concatenate([[SPECIALS.index("[CLS]")], body, [SPECIALS.index("[SEP]")]]).astype(np.int64)[None]


# ---------------------------------------------------------------- one variant, in its own process


def measure(variant: str, src: Path, out: Path, lengths, runs: int, threads: int) -> dict:
    """Load ``variant``, time ``runs`` forward passes per length after one warm-up; peak RSS at the end."""
    import numpy as np

    t0 = time.perf_counter()
    if variant == "torch":
        torch = require("torch", "The RaNER benchmark")
        from ..export.raner import build_torch_model

        torch.set_num_threads(threads)
        module, _ = build_torch_model(src)

        def forward(ids):
            t = torch.from_numpy(ids)
            with torch.inference_mode():
                return module(t, torch.ones_like(t), torch.zeros_like(t)).numpy()
    else:
        from ..session import create_session

        sess = create_session(out / ("model.onnx" if variant == "onnx-fp32" else "model.int8.onnx"), threads=threads)

        def forward(ids):
            return sess.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                   "token_type_ids": np.zeros_like(ids)})[0]
    load_s = time.perf_counter() - t0
    latency = {}
    for n in lengths:
        ids = example_ids(n)
        forward(ids)  # warm-up: first-run allocations and kernel selection
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            em = forward(ids)
            times.append((time.perf_counter() - t) * 1e3)
        if em.shape != (1, n + 2, len(LABELS)):
            raise RuntimeError(f"{variant} gave emissions of shape {em.shape} for {n} characters")
        latency[str(n)] = {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1)}
    return {"variant": variant, "load_s": round(load_s, 2), "latency": latency, "peak_rss_mb": round(peak_rss_mb(), 1)}


def peak_rss_mb() -> float:
    """This process's peak resident set size.

    ``VmHWM`` where Linux has it: ``ru_maxrss`` survives ``exec``, so a worker
    started by a parent that holds a large model would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- the whole benchmark


def run(workdir: Path, lengths=LENGTHS, runs: int = 5, threads: int = 2) -> dict:
    """Build, export and measure every variant; returns the figures as plain data."""
    from ..export.raner import export_modelscope

    torch = require("torch", "The RaNER benchmark")
    import onnxruntime

    src, out = workdir / "raner-random-src", workdir / "raner-random"
    t0 = time.perf_counter()
    build_checkpoint(src)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    export_modelscope(src, out, name="raner-random")
    export_s = time.perf_counter() - t0
    files = {"torch": src / "pytorch_model.bin", "onnx-fp32": out / "model.onnx", "onnx-int8": out / "model.int8.onnx"}
    results = {}
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    for variant in VARIANTS:
        cmd = [sys.executable, "-m", "ner.bench.raner", "--worker", variant, "--workdir", str(workdir),
               "--runs", str(runs), "--threads", str(threads), "--lengths", *map(str, lengths)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
        if proc.returncode:
            raise RuntimeError(f"the {variant} worker failed:\n{proc.stderr[-3000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["file_mb"] = round(files[variant].stat().st_size / 1e6, 1)
        res["file"] = files[variant].name
        results[variant] = res
    return {
        "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "threads": threads, "runs": runs, "lengths": list(lengths), "shape": BASE_SHAPE, "labels": len(LABELS),
        "build_s": round(build_s, 1), "export_s": round(export_s, 1), "results": results,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown(res: dict) -> str:
    """The figures as a Markdown table."""
    lengths = res["lengths"]
    head = ["variant", "file loaded", "size (MB)", "peak RSS (MB)"] + [f"{n} chars (ms)" for n in lengths]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for variant, label in VARIANTS.items():
        r = res["results"][variant]
        cells = [label, f"`{r['file']}`", f"{r['file_mb']:,.1f}", f"{r['peak_rss_mb']:,.0f}"]
        cells += [f"{r['latency'][str(n)]['median_ms']:,.1f}" for n in lengths]
        rows.append("| " + " | ".join(cells) + " |")
    m = res["machine"]
    note = (f"\nRaNER shape (BERT-base, 12 x 768, vocab 21,128, {res['labels']} tags), random weights; "
            f"one input, median of {res['runs']} runs after a warm-up, {res['threads']} threads; "
            f"{m['cpu']} ({m['cpus']} CPUs), torch {m['torch']}, onnxruntime {m['onnxruntime']}. "
            f"Peak RSS is the whole process (imports + load + runs). Build {res['build_s']} s, "
            f"export + INT8 quantization {res['export_s']} s.")
    return "\n".join(rows) + "\n" + note


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per length (after one warm-up)")
    add_threads(ap, 2)
    ap.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    ap.add_argument("--workdir", type=Path, help="where the model files go (default: a temporary directory in /tmp)")
    ap.add_argument("--worker", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if max(args.lengths) > BASE_SHAPE["max_position_embeddings"] - 2:
        ap.error(f"lengths must be at most {BASE_SHAPE['max_position_embeddings'] - 2} characters (one window)")
    if args.worker:
        print(json.dumps(measure(args.worker, args.workdir / "raner-random-src", args.workdir / "raner-random",
                                 args.lengths, args.runs, args.threads)))
        return
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("ner").setLevel(logging.INFO)
    if args.workdir:
        res = run(args.workdir, args.lengths, args.runs, args.threads)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-raner-", dir="/tmp") as tmp:
            res = run(Path(tmp), args.lengths, args.runs, args.threads)
    print(json.dumps(res, indent=1) if args.json else markdown(res))


if __name__ == "__main__":
    main()
