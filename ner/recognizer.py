"""The recognizer: tokenize with offsets -> windows -> batched ONNX emissions -> CRF decoding -> entities."""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .crf import decode
from .dictionary import Dictionary, as_dictionary
from .entity import Entity
from .features import SHAPE_FEATURES, Featurizer, shape_features
from .errors import ModelError
from .spec import ModelSpec, read_spec
from .postprocess import LocOrgSplitter, ScriptSpaceRule, script_space_breaks
from .session import OPT_LEVELS, Engine, create_engine, non_finite_weights
from .tags import TagCodes, drop_overlaps
from .tokenizer import Encoded, TextTokenizer
from .windows import split_windows

log = logging.getLogger(__name__)

PRECISIONS = ("int8", "fp32")
#: The text the load-time self-check runs (:meth:`Recognizer._check`): Chinese, digits, Latin, punctuation.
PROBE = "新华社北京3月5日电，国务院总理李强在十四届全国人大二次会议上作报告。Apple与OpenAI在2024年发布了iPhone 15。"
#: Windows decoded together (at most 64 x 128 tokens: a few tens of MB however long the call's text).
DECODE_GROUP = 64


class Recognizer:
    """Finds PER/LOC/ORG entities in text with one shared ONNX Runtime session.

    Thread-safe: any number of threads may call :meth:`recognize` and
    :meth:`recognize_batch` on one instance.  Text of any length is accepted:
    it is cut into windows at sentence ends, never truncated.
    """

    def __init__(self, model_dir: str | Path, *, precision: str = "int8", providers: list[str] | None = None,
                 threads: int | None = None, optimization: str = "all", batch_size: int = 32,
                 dictionary: str | Path | Dictionary | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if optimization not in OPT_LEVELS:
            raise ValueError(f"optimization must be one of {sorted(OPT_LEVELS)}, not {optimization!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.spec: ModelSpec = read_spec(model_dir)
        spec = self.spec
        self.name = spec.name
        self.batch_size = batch_size
        self.labels = spec.labels
        self.crf = spec.load_crf()
        self.codes = TagCodes(spec.labels, spec.scheme)
        self._entity_tags = ~self.codes.outside  # where decoding computes a marginal
        t = spec.tokenizer
        try:
            self.tokenizer = TextTokenizer(spec.file(spec.vocab_file), nfkc=t.get("nfkc", True),
                                           lowercase=t.get("lowercase", True), split=t.get("split", "char"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(f"vocabulary of {spec.path.name!r} is unusable: {exc}") from None
        if spec.vocab_size is not None and spec.vocab_size != len(self.tokenizer):
            raise ModelError(f"{spec.vocab_file} of {spec.path.name!r} has {len(self.tokenizer)} tokens but the "
                             f"model was trained with {spec.vocab_size}: the vocabulary does not match the model. "
                             f"Restore the vocab.txt exported with it.")
        if precision == "fp32" and not spec.fp32_file:
            raise ModelError(f"{spec.path.name!r} ships only its INT8 graph; rebuild the FP32 one with "
                             f"python -m ner.export (see its README.md) or use precision='int8'.")
        model_file = spec.model_file if precision == "int8" else str(spec.fp32_file)
        self.model_path = spec.file(model_file)
        try:
            self.engine: Engine = create_engine(self.model_path, providers=providers, threads=threads,
                                                optimization=optimization)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{model_file} in {spec.path.name!r} could not be loaded by ONNX Runtime "
                             f"({type(exc).__name__}): the file is corrupt or not an ONNX model. "
                             f"Re-export it with python -m ner.export.") from None
        try:
            damaged = non_finite_weights(self.model_path)
        except (ValueError, IndexError):
            damaged = []  # not protobuf as this reader knows it: ONNX Runtime read it, the probe below decides
        if damaged:
            raise ModelError(f"{model_file} in {spec.path.name!r} holds weights that are NaN or infinite "
                             f"({', '.join(damaged[:3])}): the file is damaged, and such a model answers "
                             f"nothing useful. Re-export it with python -m ner.export, or restore the file.")
        # the tables after the session: ONNX Runtime's load-time peak (it parses the whole graph file) then
        # falls before they are held, which keeps the peak resident memory of a fresh process some MB lower
        bigrams = spec.load_bigrams(len(self.tokenizer))
        lexicon = spec.load_lexicon()
        self.featurize = Featurizer(bigrams, lexicon, shape=spec.shape_features)
        self.splitter = LocOrgSplitter.from_spec(spec, self.tokenizer, lexicon)
        self.space_rule = ScriptSpaceRule.from_spec(spec, self.codes.prefix)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.window = spec.max_length - (2 if spec.special_tokens else 0)
        self._check()
        #: the entity types the model's labels name, in label order (PER, LOC, ORG for the embedded model)
        self.entity_types = list(dict.fromkeys(lab for lab in self.codes.label if lab))
        #: optional display names of the types from config.json, e.g. {"PER": "人名"}
        self.display_names: dict[str, str] = dict(spec.raw.get("display_names") or {})
        self.dictionary = self._checked(as_dictionary(dictionary))

    @property
    def session(self):
        """The ONNX Runtime session (its inputs, options, providers); calls run through :attr:`engine`."""
        return self.engine.session

    def _checked(self, dictionary: Dictionary | None) -> Dictionary | None:
        if dictionary is not None and not isinstance(dictionary, Dictionary):
            raise TypeError(f"dictionary must be a ner.Dictionary, not {type(dictionary).__name__}")
        if dictionary is not None:  # type names (人名, the card's display names) become the model's types
            dictionary = dictionary.resolve(self.entity_types, self.display_names)
        return dictionary

    def with_dictionary(self, dictionary: str | Path | Dictionary | None) -> "Recognizer":
        """A recognizer sharing this one's session and tables, with ``dictionary`` as its own."""
        other = copy.copy(self)
        other.dictionary = self._checked(as_dictionary(dictionary))
        return other

    def _check(self) -> None:
        """Run :data:`PROBE` and the vocabulary's last token through the graph, so a mismatched vocabulary or
        damaged weights fail at load, not per request."""
        probe = np.array([len(self.tokenizer) - 1, self.tokenizer.unk_id], dtype=np.int64)
        text = self.tokenizer.encode(PROBE).ids[: self.window]
        try:
            em = self._emissions([probe, text])
        except Exception as exc:
            raise ModelError(f"{self.model_path.name} in {self.spec.path.name!r} rejects input from its own "
                             f"vocabulary ({type(exc).__name__}): the vocab.txt does not match the model. "
                             f"Restore the vocab.txt exported with it.") from None
        if not np.isfinite(em).all():
            raise ModelError(f"{self.model_path.name} in {self.spec.path.name!r} gives non-finite scores (NaN or "
                             f"infinity): its weights are damaged. Re-export the model.")
        if em.shape[-1] != len(self.labels):
            raise ModelError(f"{self.model_path.name} gives {em.shape[-1]} tag scores but config.json lists "
                             f"{len(self.labels)} labels; re-export the model.")

    # ------------------------------------------------------------ model

    def _emissions(self, rows: list[np.ndarray], shapes: list[np.ndarray] | None = None) -> np.ndarray:
        """Emission scores ``(len(rows), max_len, num_tags)`` for token-id rows (padding is exact); ``shapes``:
        each row's :func:`~ner.features.shape_features`, for a model that reads them."""
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        width = int(lengths.max())
        extra = 2 if self.spec.special_tokens else 0
        off = 1 if extra else 0
        # every token's (row, column) in the padded batch, so each input is filled by one scatter
        row_of = np.repeat(np.arange(len(rows)), lengths)
        col_of = np.arange(len(row_of)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ids = np.full((len(rows), width + extra), self.tokenizer.pad_id, dtype=np.int64)
        ids[row_of, col_of + off] = np.concatenate(rows)
        if extra:
            cls_id, sep_id = self.tokenizer.cls_id, self.tokenizer.sep_id
            if cls_id is None or sep_id is None:
                raise ModelError(f"{self.spec.path.name!r} uses [CLS]/[SEP] but its vocabulary lacks them; "
                                 f"re-export the model.")
            ids[:, 0] = cls_id
            ids[np.arange(len(rows)), lengths + 1] = sep_id
        feeds: dict[str, np.ndarray] = {"input_ids": ids}
        if "attention_mask" in self.input_names:
            feeds["attention_mask"] = (np.arange(width + extra)[None, :] < (lengths + extra)[:, None]).astype(np.int64)
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        if "lengths" in self.input_names:
            feeds["lengths"] = lengths
        if self.featurize.shape and shapes is None:  # the load-time probe: tokens with no text around them
            shapes = [np.zeros((len(r), len(SHAPE_FEATURES)), np.float32) for r in rows]
        for name, flat in self.featurize.joined(rows, shapes).items():
            if name in self.input_names:
                padded = np.zeros((len(rows), width, *flat.shape[1:]), dtype=np.float32 if name == "lexicon" else np.int64)
                padded[row_of, col_of] = flat
                feeds[name] = padded
        em = self.engine.run({k: v for k, v in feeds.items() if k in self.input_names})
        return em[:, off : off + width]

    # ------------------------------------------------------------ public

    def recognize(self, text: str, *, dictionary: Dictionary | None = None) -> list[Entity]:
        """Entities of ``text``, sorted and non-overlapping, offsets into ``text`` itself.

        ``dictionary`` applies to this call only, after the recognizer's own (see :mod:`ner.dictionary`).
        """
        return self.recognize_batch([text], dictionary=dictionary)[0]

    def recognize_batch(self, texts: list[str], *, dictionary: Dictionary | None = None) -> list[list[Entity]]:
        """Entities of each text; equal to calling :meth:`recognize` on each one alone."""
        extra = self._checked(dictionary)
        results = self._recognize_model(texts)
        for d in (self.dictionary, extra):
            if d is not None:
                results = [d.apply(t, r) for t, r in zip(texts, results)]
        return results

    def _recognize_model(self, texts: list[str]) -> list[list[Entity]]:
        """The model's entities of each text, before any dictionary: preprocess -> forward -> postprocess."""
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be a str, not {type(t).__name__}")
        encs, windows = self.preprocess(texts)
        found: dict[int, list[Decoded]] = {i: [] for i in encs}
        # groups of windows bound the decoder's memory (it holds every step's tag-pair scores);
        # within a group, one decoding pass, marginals only at entity tokens
        for k in range(0, len(windows), DECODE_GROUP):
            group = windows[k : k + DECODE_GROUP]
            emissions, lengths = self.forward(encs, group)
            paths, probs = decode(emissions, lengths, self.crf, self._entity_tags)
            self.collect(encs, group, paths, probs, found)
        return self.postprocess(texts, encs, found)

    def preprocess(self, texts: list[str]) -> tuple[dict[int, Encoded], list[Window]]:
        """Tokens with offsets of each non-blank text, and its windows sorted by length.

        Similar lengths then share a batch, so little padding is computed.
        """
        todo = [i for i, t in enumerate(texts) if t and not t.isspace()]
        encs = dict(zip(todo, self.tokenizer.encode_batch([texts[i] for i in todo])))
        if self.featurize.shape:  # case and spacing, which the ids no longer hold, read once per text
            encs = {i: e._replace_shape(shape_features(texts[i], e.starts, e.ends)) for i, e in encs.items()}
        windows = [Window(i, *w) for i in todo
                   for w in split_windows(texts[i], encs[i].starts, encs[i].ends, self.window)]
        windows.sort(key=lambda w: w.end - w.start)
        return encs, windows

    def forward(self, encs: dict[int, Encoded], windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
        """Emission scores ``(len(windows), longest, num_tags)`` and each window's length, batch by batch."""
        lengths = np.fromiter((w.end - w.start for w in windows), dtype=np.int64, count=len(windows))
        emissions = np.zeros((len(windows), int(lengths.max()), len(self.labels)))
        for k in range(0, len(windows), self.batch_size):
            chunk = windows[k : k + self.batch_size]
            shapes = [_shape(encs[w.text])[w.start : w.end] for w in chunk] if self.featurize.shape else None
            part = self._emissions([encs[w.text].ids[w.start : w.end] for w in chunk], shapes)
            emissions[k : k + len(chunk), : part.shape[1]] = part
        if self.space_rule is not None:
            for r, w in enumerate(windows):
                shape = encs[w.text].shape
                if shape is not None:
                    self.space_rule.apply(emissions[r, : w.end - w.start], script_space_breaks(shape[w.start : w.end]))
        return emissions, lengths

    def collect(self, encs: dict[int, Encoded], windows: list[Window], paths: np.ndarray, probs: np.ndarray,
                found: dict[int, list[Decoded]]) -> None:
        """Decoded paths -> character spans of each text, from the kept part of each window only."""
        for r, w in enumerate(windows):
            e = encs[w.text]
            for first, end, label in self.codes.spans(paths[r, : w.end - w.start]):
                if w.keep_start <= w.start + first < w.keep_end:
                    found[w.text].append(Decoded(int(e.starts[w.start + first]), int(e.ends[w.start + end - 1]),
                                                 label, float(probs[r, first:end].min()), w.start + first,
                                                 w.start + end))

    def postprocess(self, texts: list[str], encs: dict[int, Encoded],
                    found: dict[int, list[Decoded]]) -> list[list[Entity]]:
        """Each text's spans -> :class:`Entity` objects: overlaps from overlapping windows dropped, the
        LOC/ORG split rule applied."""
        results: list[list[Entity]] = [[] for _ in texts]
        for i, spans in found.items():
            text = texts[i]
            spans = drop_overlaps(spans)
            if self.splitter:
                spans = self.splitter(text, encs[i].ids, spans)
            # 6 decimals: the last bits of a marginal may differ with the batch's memory layout
            results[i] = [Entity(s, e, label, text[s:e], round(min(1.0, max(0.0, score)), 6))
                          for s, e, label, score, _, _ in spans if e > s]
        return results


def _shape(enc: Encoded) -> np.ndarray:
    """The shape features :meth:`Recognizer.preprocess` put on ``enc`` (for a model that reads them)."""
    assert enc.shape is not None, "preprocess computes shapes for a model that reads them"
    return enc.shape


class Window(NamedTuple):
    """A window of one text's tokens: ``[start, end)`` is run, ``[keep_start, keep_end)`` is kept."""

    text: int
    start: int
    end: int
    keep_start: int
    keep_end: int


class Decoded(NamedTuple):
    """A decoded entity before it becomes an :class:`Entity`: character offsets, tag, score, token range."""

    start: int
    end: int
    label: str
    score: float
    first_token: int
    end_token: int
