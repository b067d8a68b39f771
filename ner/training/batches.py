"""Training tensors: examples -> token-level arrays, length-bucketed batches, padded torch tensors."""
from __future__ import annotations

import random

import numpy as np

from ..features import Featurizer, shape_features
from ..tags import spans_to_tags
from ..tokenizer import TextTokenizer


def encode_examples(examples, tok: TextTokenizer, feats: Featurizer, label_index, max_len: int):
    """Token-level arrays for each example, split into chunks of at most ``max_len`` tokens."""
    out = []
    encs = tok.encode_batch([ex.text for ex in examples])
    for ex, enc in zip(examples, encs):
        n = len(enc.ids)
        if not n:
            continue
        token_spans = []
        for s, e, label in ex.spans:
            inside = np.nonzero((enc.starts >= s) & (enc.starts < e))[0]
            if len(inside):
                token_spans.append((int(inside[0]), int(inside[-1]) + 1, label))
        tags = np.array([label_index[t] for t in spans_to_tags(token_spans, n, "BIOES")], dtype=np.int64)
        shape = shape_features(ex.text, enc.starts, enc.ends) if feats.shape else None
        for a in range(0, n, max_len):
            ids = enc.ids[a : a + max_len]
            f = feats(ids, shape[a : a + max_len] if shape is not None else None)
            out.append((ids, f.get("bigram_ids"), f["lexicon"].astype(np.uint8) if "lexicon" in f else None,
                        tags[a : a + max_len]))
    return out


def make_batches(items, batch_size: int, rng: random.Random, shuffle: bool):
    order = sorted(range(len(items)), key=lambda i: (len(items[i][0]), rng.random() if shuffle else 0))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(batches)
    return batches


def collate(items, idx, torch):
    lens = [len(items[i][0]) for i in idx]
    T, B = max(lens), len(idx)
    ids = np.zeros((B, T), np.int64)
    big = np.zeros((B, T), np.int64)
    tags = np.zeros((B, T), np.int64)
    lex_dim = items[idx[0]][2].shape[1] if items[idx[0]][2] is not None else 0
    lex = np.zeros((B, T, lex_dim), np.float32)
    for r, i in enumerate(idx):
        n = lens[r]
        ids[r, :n] = items[i][0]
        if items[i][1] is not None:
            big[r, :n] = items[i][1]
        if lex_dim:
            lex[r, :n] = items[i][2]
        tags[r, :n] = items[i][3]
    lengths = torch.tensor(lens)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return (torch.from_numpy(ids), torch.from_numpy(big), torch.from_numpy(lex), lengths), torch.from_numpy(tags), mask


def mask_unknown(inputs, mask, rate: float, unk_id: int, generator):
    """Replace a ``rate`` share of real tokens by ``[UNK]`` (training only), with their bigrams and lexicon rows.

    The vocabulary holds every character of the training text, so without this
    ``[UNK]`` never occurs in training and its untrained embedding disturbs the
    neighbours of any unknown character (an emoji before a name erased the name).
    """
    import torch

    ids, big, lex, lengths = inputs
    hit = (torch.rand(ids.shape, generator=generator) < rate) & mask
    if not hit.any():
        return inputs
    ids = ids.masked_fill(hit, unk_id)
    # a bigram is (token i, token i+1): unknown when either side is
    big = big.masked_fill(hit | torch.nn.functional.pad(hit[:, 1:], (0, 1)), 0)
    lex = lex.masked_fill(hit.unsqueeze(-1), 0.0)
    return ids, big, lex, lengths


def sample_epoch(items_by_corpus: dict, weights: dict[str, float], rng: random.Random) -> list:
    """One epoch's items: each corpus repeated ``int(w)`` times plus a random ``w % 1`` part of it."""
    out = []
    for name, items in items_by_corpus.items():
        w = weights.get(name.split(":")[0], 1.0)
        whole, part = int(w), w - int(w)
        out.extend(items * whole)
        if part:
            out.extend(rng.sample(items, round(part * len(items))))
    return out
