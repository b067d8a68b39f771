"""The server process's memory (ner_app.memory): glibc's allocator tuned, free heap pages handed back."""
import json
import subprocess
import sys
import textwrap
import threading

import pytest

from ner_app.config import Settings
from ner_app.memory import Trimmer, _libc

glibc = pytest.mark.skipif(_libc() is None, reason="the C library is not glibc: nothing to tune or trim")


def test_the_trim_interval_is_a_setting_with_off():
    assert Settings.from_env({}).malloc_trim_s == 60
    assert Settings.from_env({"NER_MALLOC_TRIM_S": "5"}).malloc_trim_s == 5
    assert Settings.from_env({"NER_MALLOC_TRIM_S": "0"}).malloc_trim_s == 0
    for bad in ("-1", "often", "nan"):
        with pytest.raises(ValueError, match="NER_MALLOC_TRIM_S.*0 to turn it off"):
            Settings.from_env({"NER_MALLOC_TRIM_S": bad})


@glibc
def test_a_trimmer_trims_until_stopped_and_an_interval_of_0_starts_nothing():
    assert not Trimmer(0).start()._thread.is_alive()
    trimmer, trimmed = Trimmer(0.01), threading.Event()
    trim = trimmer.trim
    trimmer.trim = lambda: (trimmed.set(), trim())[1]  # type: ignore[method-assign]
    trimmer.start()
    assert trimmed.wait(10)
    trimmer.stop()
    trimmer._thread.join(10)
    assert not trimmer._thread.is_alive()


@glibc
def test_freed_heap_memory_goes_back_to_the_system():
    # 200 MiB of small blocks, all but one in a hundred freed: the heap cannot shrink from its top, so only
    # a trim hands the free pages in its middle back
    script = textwrap.dedent("""
        import json
        from ner_app.memory import Trimmer, tune_allocator
        def rss():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
        tune_allocator()
        blocks = [bytearray(2000) for _ in range(100_000)]
        kept = blocks[::100]
        del blocks
        before = rss()
        Trimmer(60).trim()
        print(json.dumps([before, rss(), len(kept)]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    before, after, _ = json.loads(out.stdout)
    assert before - after > 100, (before, after)
