"""The engine on the deterministic toy model: offsets, windows, batching, input edge cases."""
import random

import numpy as np
import pytest

import ner
from conftest import check_contract
from ner.windows import split_windows
from toy_model import FILLER


def spans(entities):
    return [(e.start, e.end, e.label, e.text) for e in entities]


def test_offsets_on_mixed_text(toy):
    text = "Hi 张三！\n北京😀１２ Ａbc\u3000上海\t清华大学 x汉"
    ents = toy.recognize(text)
    check_contract(text, ents)
    assert spans(ents) == [
        (len("Hi "), len("Hi 张三"), "PER", "张三"),
        (len("Hi 张三！\n"), len("Hi 张三！\n北京"), "LOC", "北京"),
        (len("Hi 张三！\n北京😀１２ Ａbc\u3000"), len("Hi 张三！\n北京😀１２ Ａbc\u3000上海"), "LOC", "上海"),
        (len("Hi 张三！\n北京😀１２ Ａbc\u3000上海\t"), len("Hi 张三！\n北京😀１２ Ａbc\u3000上海\t清华大学"), "ORG", "清华大学"),
        (len(text) - 1, len(text), "LOC", "汉"),
    ]


def test_full_width_and_astral_characters_keep_offsets(toy):
    text = "１２３👩‍👩‍👧张三𠀀北京\u200f\u0301上海"
    ents = toy.recognize(text)
    check_contract(text, ents)
    assert [e.text for e in ents] == ["张三", "北京", "上海"]


@pytest.mark.parametrize("text", ["", " ", "\n\t \u3000", "\u200b"])
def test_empty_and_whitespace_give_no_entities(toy, text):
    assert toy.recognize(text) == []


def test_entity_score_comes_from_the_model(toy):
    (e,) = toy.recognize("张三")
    assert 0.5 < e.score < 1.0


def test_to_dict_shape(toy):
    (e,) = toy.recognize("在北京")
    assert e.to_dict() == {"text": "北京", "type": "LOC", "start": 1, "end": 3, "score": round(e.score, 4),
                         "source": "model"}


def test_long_text_with_entities_across_window_boundaries(toy):
    # no punctuation at all, so every window boundary is a hard cut (toy max_length is 32)
    rng = random.Random(3)
    names = ["张三", "北京", "上海", "清华大学"]
    parts, expected, pos = [], [], 0
    while pos < 20_000:
        filler = "".join(rng.choice(FILLER) for _ in range(rng.randint(1, 40)))
        name = rng.choice(names)
        parts += [filler, name]
        pos += len(filler)
        expected.append((pos, pos + len(name), name))
        pos += len(name)
    text = "".join(parts)
    assert len(text) >= 20_000
    enc = toy.tokenizer.encode(text)
    windows = split_windows(text, enc.starts, enc.ends, toy.window)
    cut_points = {w[1] for w in windows[:-1]}
    straddling = [e for e in expected if any(e[0] < c < e[1] for c in cut_points)]
    assert straddling, "the test must place entities across window cuts"
    got = [(e.start, e.end, e.text) for e in toy.recognize(text)]
    assert got == expected


def test_long_text_cut_at_sentence_ends_keeps_everything(toy):
    sentence = "我们在北京参加会议，张三很高兴。"
    text = sentence * 1500
    got = toy.recognize(text)
    assert len(got) == 3000
    check_contract(text, got)
    assert got[-1].end == len(text) - len("很高兴。")


def test_windows_tile_all_tokens():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 400))
        text = "".join(rng.choice(list("我们。，在北京")) for _ in range(n))
        starts = np.arange(n)
        windows = split_windows(text, starts, starts + 1, 32)
        assert windows[0][2] == 0 and windows[-1][3] == n
        for (a, b, ka, kb), nxt in zip(windows, windows[1:] + [None]):
            assert b - a <= 32 and a <= ka < kb <= b
            if nxt:
                assert nxt[2] == kb


def test_batch_equals_single(toy):
    texts = ["张三在北京", "", "上海清华大学" * 40, "北京。" * 100, "no entity", "汉"]
    assert toy.recognize_batch(texts) == [toy.recognize(t) for t in texts]


def test_non_string_is_refused(toy):
    with pytest.raises(TypeError, match="str"):
        toy.recognize_batch(["ok", None])


def test_load_is_cached(toy_dir):
    assert ner.load(toy_dir, batch_size=4) is ner.load(toy_dir, batch_size=4)
    assert ner.load(toy_dir) is not ner.load(toy_dir, batch_size=4)


def test_bad_options_are_refused(toy_dir):
    with pytest.raises(ValueError, match="precision"):
        ner.Recognizer(toy_dir, precision="int4")
    with pytest.raises(ValueError, match="optimization"):
        ner.Recognizer(toy_dir, optimization="max")


class _Session:
    """A stand-in session: records who ran (and whether the run gave back its arena memory at its end);
    a run whose feeds hold an event waits for it."""

    def __init__(self, name, log, shrunk=None):
        self.name, self.log, self.shrunk = name, log, shrunk if shrunk is not None else []

    def run(self, names, feeds, options=None):
        self.log.append(self.name)
        self.shrunk.append(options is not None and
                           options.get_run_config_entry("memory.enable_memory_arena_shrinkage") == "cpu:0")
        if "hold" in feeds:
            feeds["hold"].wait(10)
        return [feeds["input_ids"]]


def test_engine_runs_overlapping_calls_on_a_sleeping_session_built_on_first_overlap():
    import threading
    import time

    from ner.session import Engine

    log, built, shrunk = [], [], []

    def sleeping():
        built.append(1)
        return _Session("sleeping", log, shrunk)

    engine = Engine(_Session("wide", log, shrunk), sleeping)
    engine.machine_busy = lambda: False  # type: ignore[method-assign]  # a quiet machine
    x = np.arange(3)
    assert engine.run({"input_ids": x}) is x and log == ["wide"]  # alone: the wide session
    release = threading.Event()
    first = threading.Thread(target=engine.run, args=({"input_ids": x, "hold": release},))
    first.start()
    deadline = time.monotonic() + 10
    while log.count("wide") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.run({"input_ids": x}) is x and log[-1] == "wide"  # overlapping: served while the sleeping one is built
    while "sleeping" not in engine._built and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.run({"input_ids": x}) is x and log[-1] == "sleeping"  # still overlapping: the one-thread session
    release.set()
    first.join(10)
    assert built == [1]
    assert engine.run({"input_ids": x}) is x and log[-1] == "sleeping"  # alone, but right after a burst
    engine._overlap_at -= engine.calm_s  # the burst's last overlap is CALM_S ago
    assert engine.run({"input_ids": x}) is x and log[-1] == "wide"  # alone again: the wide one
    # a large run that overlapped others gives back the arena memory no run holds (the arena would keep the peak
    # of the most large runs ever at once); a small one, or one alone, keeps its arena for the next call
    assert shrunk == [False] * 6
    large = np.zeros((32, 128), dtype=np.int64)
    assert engine.run({"input_ids": large}) is large and shrunk[-1] is False  # alone
    release = threading.Event()
    first = threading.Thread(target=engine.run, args=({"input_ids": x, "hold": release},))
    first.start()
    while len(shrunk) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.run({"input_ids": large}) is large and shrunk[-1] is True  # overlapping
    assert engine.run({"input_ids": x}) is x and shrunk[-1] is False  # overlapping, small
    release.set()
    first.join(10)


def test_engine_runs_every_call_on_the_sleeping_session_while_the_machine_is_crowded():
    import time

    from ner.session import Engine

    log = []
    engine = Engine(_Session("wide", log), lambda: _Session("sleeping", log))
    engine.machine_busy = lambda: True  # type: ignore[method-assign]  # other processes hold the cores
    one, several = np.zeros((1, 5)), np.zeros((3, 5))
    deadline = time.monotonic() + 10
    while "sleeping" not in engine._built and time.monotonic() < deadline:
        engine.run({"input_ids": one})  # the spinning session serves until the sleeping one is built
        time.sleep(0.01)
    assert engine.run({"input_ids": one}) is one and log[-1] == "sleeping"
    assert engine.run({"input_ids": several}) is several and log[-1] == "sleeping"


def test_a_burst_of_callers_runs_on_the_half_session_and_a_crowded_machine_on_the_sleeping_one():
    import threading
    import time

    from ner.session import Engine

    log, built, shrunk = [], [], []

    def maker(name):
        def make():
            built.append(name)
            return _Session(name, log, shrunk)
        return make

    engine = Engine(_Session("wide", log, shrunk), maker("sleeping"), maker("half"))
    busy = [False]
    engine.machine_busy = lambda: busy[0]  # type: ignore[method-assign]
    x = np.arange(3)
    release = threading.Event()
    first = threading.Thread(target=engine.run, args=({"input_ids": x, "hold": release},))
    first.start()
    deadline = time.monotonic() + 10
    while not log and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.run({"input_ids": x})  # overlapping: the wide one serves while the half one is built
    while "half" not in engine._built and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.run({"input_ids": x}) is x and log[-1] == "half"  # a burst of callers: half the threads each
    large = np.zeros((32, 128), dtype=np.int64)
    assert engine.run({"input_ids": large}) is large and log[-1] == "half" and shrunk[-1] is True
    release.set()
    first.join(10)
    assert built == ["half"]  # a free machine never builds the sleeping one
    busy[0] = True  # other processes take the cores
    while "sleeping" not in engine._built and time.monotonic() < deadline:
        engine.run({"input_ids": x})
        time.sleep(0.01)
    assert engine.run({"input_ids": x}) is x and log[-1] == "sleeping"
    busy[0] = False
    engine._overlap_at -= engine.calm_s
    assert engine.run({"input_ids": x}) is x and log[-1] == "wide"  # alone on a free machine again
    # a large run alone on the spinning session keeps its arena (its peak is one run's)
    assert engine.run({"input_ids": large}) is large and log[-1] == "wide" and shrunk[-1] is False


def test_machine_busy_is_a_cheap_sample():
    from ner.session import Engine

    engine = Engine(_Session("wide", []))
    assert engine.machine_busy() in (True, False) and engine.machine_busy() in (True, False)


def test_threads_are_configurable(toy_dir):
    rec = ner.Recognizer(toy_dir, threads=1)
    assert rec.session.get_session_options().intra_op_num_threads == 1
    assert rec.recognize("北京")[0].label == "LOC"


def test_cuda_provider_falls_back_to_cpu_when_absent(toy_dir):
    rec = ner.Recognizer(toy_dir, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert "CPUExecutionProvider" in rec.session.get_providers()
    assert rec.recognize("上海")[0].text == "上海"


def test_features_of_joined_rows_equal_rows_alone():
    from ner.features import BigramTable, Featurizer, Lexicon, hash_sequence

    rng = np.random.default_rng(1)
    vocab = 40
    keys = np.unique(rng.integers(0, vocab * vocab, 300))
    entries = [rng.integers(1, vocab, int(rng.integers(1, 5))) for _ in range(200)]
    lex = Lexicon(np.array([hash_sequence(e) for e in entries], np.uint64), rng.integers(1, 16, 200).astype(np.uint8),
                  np.array([len(e) for e in entries]), ["PER", "LOC", "ORG", "WORD"])
    feat = Featurizer(BigramTable(keys, vocab), lex)
    rows = [rng.integers(1, vocab, int(rng.integers(1, 30))) for _ in range(20)]
    for got, row in zip(feat.many(rows), rows):
        alone = feat(row)
        assert (got["bigram_ids"] == alone["bigram_ids"]).all()
        assert (got["lexicon"] == alone["lexicon"]).all()
