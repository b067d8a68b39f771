"""Live mode (实时侦测) latency: keystroke bursts into a 300-character text, answered through the page's protocol.

``python -m ner.bench.live`` starts ``python app.py`` on a free loopback port (the embedded model, or
``--model``), opens one page session and types: each burst adds ``--burst`` characters at the end of a
300-character text, one every ``--gap-ms``, then pauses.  Like the page (``trigger_mode="always_last"``)
it sends a keystroke's text only when no earlier one is in flight, and otherwise only the newest text once
that one is answered; each is the page's own call of the live event (``POST /gradio_api/run/predict``:
the event is outside the queue).  Printed: per burst, the time from its last keystroke to the answer for
the text it ends with (p50, p95, max), and how many keystrokes were sent at all.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

from ner import samples
from ner.commands import add_model
from ner.bench.launch import running_server

CHARS = "张李王赵北上广深华为阿里腾讯京沪杭苏"


class AlwaysLast:
    """The page's ``trigger_mode="always_last"``: one call in flight; meanwhile only the newest text waits."""

    def __init__(self, send) -> None:
        self.send = send
        self.cond = threading.Condition()
        self.newest: str | None = None
        self.answered: dict[str, float] = {}  # text -> when its answer arrived
        self.sent = 0
        self.closed = False
        threading.Thread(target=self._run, daemon=True).start()

    def type(self, text: str) -> None:
        with self.cond:
            self.newest = text
            self.cond.notify_all()

    def wait_answered(self, text: str, timeout: float = 60) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: text in self.answered, timeout):
                raise TimeoutError(f"no answer for the text ending {text[-6:]!r} within {timeout:g} s")
            return self.answered[text]

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _run(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.newest is not None or self.closed)
                if self.closed:
                    return
                text, self.newest = self.newest, None
            assert text is not None
            self.send(text)
            with self.cond:
                self.sent += 1
                self.answered[text] = time.perf_counter()
                self.cond.notify_all()


def fn_index(url: str, api_name: str, httpx) -> int:
    config = httpx.get(f"{url}/config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def main(argv: list[str] | None = None) -> int:
    import httpx

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model(p, help="model directory or id (default: the embedded model)")
    p.add_argument("--bursts", type=int, default=40)
    p.add_argument("--burst", type=int, default=6, help="keystrokes per burst")
    p.add_argument("--gap-ms", type=float, default=60, help="time between keystrokes of a burst")
    p.add_argument("--pause-ms", type=float, default=400, help="pause after each burst")
    p.add_argument("--chars", type=int, default=300, help="length of the text each burst ends with")
    args = p.parse_args(argv)

    base = ((samples.NEWS + samples.REPORT) * 4)[: args.chars - args.burst]
    latencies: list[float] = []
    with running_server(args.model) as (url, _proc), httpx.Client(timeout=60) as http:
        live = fn_index(url, "analyze_live", httpx)
        session = uuid.uuid4().hex[:10]

        def send(text: str) -> None:  # the switch is on; the session's states start empty, as on a new page
            r = http.post(f"{url}/gradio_api/run/predict", json={
                "data": [text, True, None, None], "fn_index": live, "session_hash": session,
                "event_data": None, "trigger_id": None})
            r.raise_for_status()

        typist = AlwaysLast(send)
        for b in range(args.bursts):
            # every burst ends in a text of its own (the page would not redo a text it already shows)
            typed = (CHARS[b % len(CHARS)] + f"{b:0{args.burst}d}")[: args.burst]
            for k in range(1, args.burst + 1):
                last_key = time.perf_counter()
                typist.type(base + typed[:k])
                time.sleep(args.gap_ms / 1000)
            latencies.append(1000 * (typist.wait_answered(base + typed) - last_key))
            time.sleep(args.pause_ms / 1000)
        typist.close()
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(f"live mode, {args.bursts} bursts of {args.burst} keystrokes ({args.gap_ms:g} ms apart) ending in a "
          f"{args.chars}-character text; {typist.sent} of {args.bursts * args.burst} keystrokes sent (always_last)")
    print(f"last keystroke -> its answer: p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, "
          f"max {latencies[-1]:.0f} ms (bar: p95 <= 150 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
