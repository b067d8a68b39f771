"""Long texts: cut a token sequence into windows at sentence ends, never dropping a token."""
from __future__ import annotations

import functools

import numpy as np

#: Characters after which a window may end, strongest first.
SENTENCE_ENDS = "。！？!?；;\n"
WEAK_ENDS = "，,、：:）)」』》”\"'"


@functools.lru_cache(maxsize=8)
def _code_points(chars: str) -> np.ndarray:
    return np.array([ord(c) for c in chars], dtype=np.uint32)


def boundary_after(text: str, ends: np.ndarray, starts: np.ndarray, chars: str) -> np.ndarray:
    """For each token, whether a boundary character follows it (inside it or before the next token)."""
    n = len(ends)
    if not n:
        return np.zeros(0, dtype=bool)
    nxt = np.empty(n, dtype=np.int64)
    nxt[:-1] = starts[1:]
    nxt[-1] = len(text)
    out = np.zeros(n, dtype=bool)
    # positions of boundary characters in the text (code points compared in numpy), then which token gap they fall in
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    pos = np.nonzero(np.isin(codes, _code_points(chars)))[0]
    if len(pos):
        tok = np.searchsorted(nxt, pos, side="right")  # first token whose gap end is after pos
        tok = tok[tok < n]
        out[tok] = True
    return out


def split_windows(text: str, starts: np.ndarray, ends: np.ndarray, max_len: int,
                  overlap: int = 16) -> list[tuple[int, int, int, int]]:
    """Windows ``(a, b, keep_a, keep_b)``: tokens ``[a, b)`` (at most ``max_len``) go through the
    model, and entities starting in ``[keep_a, keep_b)`` are kept from it.

    Sentences are packed greedily: a window ends after a sentence end (。！？；
    or a newline) when it can, else after a clause mark (，、：).  Only where a
    stretch has neither is it cut hard; then the next window starts ``overlap``
    tokens earlier and the two split responsibility in the middle of the overlap,
    so an entity across the cut is still seen whole.  The keep ranges tile all tokens.
    """
    n = len(starts)
    if n <= max_len:
        return [(0, n, 0, n)] if n else []
    overlap = max(0, min(overlap, max_len // 4))
    strong = boundary_after(text, ends, starts, SENTENCE_ENDS)
    weak = boundary_after(text, ends, starts, WEAK_ENDS)
    windows, a, keep_a = [], 0, 0
    while True:
        if n - a <= max_len:
            windows.append((a, n, keep_a, n))
            return windows
        hi = a + max_len
        lo = max(a + max_len // 4, keep_a + 1)
        cut = None
        for mask in (strong, weak):
            cand = np.nonzero(mask[lo:hi])[0]
            if len(cand):
                cut = lo + int(cand[-1]) + 1
                break
        if cut is not None:
            windows.append((a, cut, keep_a, cut))
            a = keep_a = cut
        else:
            keep_b = hi - overlap // 2
            windows.append((a, hi, keep_a, keep_b))
            a, keep_a = hi - overlap, keep_b
