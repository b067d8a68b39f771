"""The embedded model's network (PyTorch): char + bigram + lexicon inputs -> BiLSTM -> emissions, plus a CRF.

Imported only by training and export.  The backward LSTM reads each row
reversed *within its length*, so padding never reaches a real token and a
padded batch gives exactly the scores of each sentence alone (the ONNX graph
keeps this property).
"""
from __future__ import annotations

from .._optional import require

torch = require("torch", "Training and exporting the embedded model")
nn = torch.nn


def reverse_within_length(x, lengths):
    """Reverse ``x (batch, seq, dim)`` along ``seq`` inside each row's length; padding stays put."""
    seq = x.shape[1]
    pos = torch.arange(seq, device=x.device).unsqueeze(0)
    lens = lengths.unsqueeze(1)
    idx = torch.where(pos < lens, lens - 1 - pos, pos)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class TaggerNet(nn.Module):  # type: ignore[name-defined]
    """Emission scores ``(batch, seq, num_tags)`` from token ids, bigram ids and lexicon features."""

    def __init__(self, vocab_size: int, num_tags: int, *, char_dim: int = 128, n_bigrams: int = 0,
                 bigram_dim: int = 50, lexicon_dim: int = 0, hidden: int = 256, dropout: float = 0.3,
                 shape_dim: int = 0):
        super().__init__()
        #: the last ``shape_dim`` of the ``lexicon_dim`` inputs are shape features, not lexicon bits (warm start)
        self.shape_dim = shape_dim
        self.char = nn.Embedding(vocab_size, char_dim, padding_idx=0)
        self.bigram = nn.Embedding(n_bigrams, bigram_dim, padding_idx=0) if n_bigrams else None
        self.lexicon_dim = lexicon_dim
        in_dim = char_dim + (bigram_dim if n_bigrams else 0) + lexicon_dim
        self.drop = nn.Dropout(dropout)
        self.fwd = nn.LSTM(in_dim, hidden, batch_first=True)
        self.bwd = nn.LSTM(in_dim, hidden, batch_first=True)
        self.out = nn.Linear(2 * hidden, num_tags)

    def forward(self, input_ids, bigram_ids, lexicon, lengths):
        parts = [self.char(input_ids)]
        if self.bigram is not None:
            parts.append(self.bigram(bigram_ids))
        if self.lexicon_dim:
            parts.append(lexicon)
        x = self.drop(torch.cat(parts, -1))
        h_fwd, _ = self.fwd(x)
        h_bwd, _ = self.bwd(reverse_within_length(x, lengths))
        h = torch.cat([h_fwd, reverse_within_length(h_bwd, lengths)], -1)
        return self.out(self.drop(h))


class CRFLayer(nn.Module):  # type: ignore[name-defined]
    """Linear-chain CRF: ``transitions[i, j]`` scores tag i followed by tag j."""

    def __init__(self, num_tags: int):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def nll(self, emissions, tags, mask):
        """Mean negative log-likelihood of ``tags`` (batch, seq) under ``mask`` (bool, prefix of each row)."""
        batch, seq, _ = emissions.shape
        rows = torch.arange(batch)
        maskf = mask.float()
        # score of the gold path
        gold = self.start[tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        em_gold = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)
        trans_gold = self.transitions[tags[:, :-1], tags[:, 1:]]
        gold = gold + ((em_gold[:, 1:] + trans_gold) * maskf[:, 1:]).sum(1)
        last = tags[rows, mask.sum(1) - 1]
        gold = gold + self.end[last]
        # log partition function
        alpha = self.start + emissions[:, 0]
        for t in range(1, seq):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, 1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
        log_z = torch.logsumexp(alpha + self.end, 1)
        return (log_z - gold).mean()


def _widen_lstm(lstm, extra: int):
    """A copy of a 1-layer LSTM that takes ``extra`` more inputs, with zero weights on them."""
    new = nn.LSTM(lstm.input_size + extra, lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        new.weight_ih_l0.zero_()
        new.weight_ih_l0[:, : lstm.input_size] = lstm.weight_ih_l0
        new.weight_hh_l0.copy_(lstm.weight_hh_l0)
        new.bias_ih_l0.copy_(lstm.bias_ih_l0)
        new.bias_hh_l0.copy_(lstm.bias_hh_l0)
    return new


class AnchoredTagger(nn.Module):  # type: ignore[name-defined]
    """Export wrapper of :class:`TaggerNet` that makes dynamic INT8 independent of batch-mates.

    Dynamic quantization picks one activation range per tensor, so a text's
    scores would shift with whatever else shares its batch.  Each quantized
    activation here carries two constant "anchor" features at +C and -C (with
    zero weights, so the FP32 function is unchanged) and is clipped to [-C, C]:
    every batch then has the same range, and each row is quantized alike.
    The LSTM's recurrent state is quantized per step inside ONNX Runtime's
    ``DynamicQuantizeLSTM``, which no anchor reaches, so the default export
    keeps the LSTMs in FP32 (``anchor_inputs=False``) and quantizes the
    embeddings (weight-only) and the output layer (anchored): exact under batching.
    """

    def __init__(self, net: TaggerNet, anchor_inputs: bool = True):
        super().__init__()
        self.net = net
        self.anchor_inputs = anchor_inputs
        with torch.no_grad():
            bound = net.char.weight.abs().max()
            if net.bigram is not None:
                bound = torch.maximum(bound, net.bigram.weight.abs().max())
        self.register_buffer("bound", torch.maximum(bound, torch.tensor(1.0)).reshape(1))
        self.fwd = _widen_lstm(net.fwd, 2) if anchor_inputs else net.fwd
        self.bwd = _widen_lstm(net.bwd, 2) if anchor_inputs else net.bwd
        self.out = nn.Linear(net.out.in_features + 2, net.out.out_features)
        with torch.no_grad():
            self.out.weight.zero_()
            self.out.weight[:, : net.out.in_features] = net.out.weight
            self.out.bias.copy_(net.out.bias)

    @staticmethod
    def _anchor(x, c):
        ones = torch.ones_like(x[..., :1])
        return torch.cat([torch.clamp(x, -c, c), ones * c, ones * -c], -1)

    def forward(self, input_ids, bigram_ids, lexicon, lengths):
        net = self.net
        parts = [net.char(input_ids)]
        if net.bigram is not None:
            parts.append(net.bigram(bigram_ids))
        if net.lexicon_dim:
            parts.append(lexicon)
        x = torch.cat(parts, -1)
        if self.anchor_inputs:
            x = self._anchor(x, self.bound)
        h_fwd, _ = self.fwd(x)
        h_bwd, _ = self.bwd(reverse_within_length(x, lengths))
        h = torch.cat([h_fwd, reverse_within_length(h_bwd, lengths)], -1)
        return self.out(self._anchor(h, 1.0))
