"""The one result type: an entity with half-open character offsets into the caller's text."""
from __future__ import annotations

from dataclasses import dataclass

#: The names of the seed types, the one table of them: Chinese (what a user dictionary accepts in place of the
#: code, and what the page shows) and English.  A model's ``config.json`` ``display_names`` names its others.
TYPE_NAMES = {"PER": "人名", "LOC": "地名", "ORG": "机构名"}
TYPE_NAMES_EN = {"PER": "Person", "LOC": "Place", "ORG": "Organization"}


@dataclass(frozen=True, order=True)
class Entity:
    """A named entity found in a text.

    ``start``/``end`` are half-open offsets in Python code points into the
    original string, so ``text == source[start:end]`` always holds.  ``score``
    is the model's confidence in [0, 1] (the CRF marginal probability of the
    entity's tag sequence, or the lowest of its tokens').  ``source`` says what
    produced it: ``"model"``, or ``"dictionary"`` for a user-dictionary entry
    (score 1.0), see :mod:`ner.dictionary`.
    """

    start: int
    end: int
    label: str
    text: str
    score: float
    source: str = "model"

    def to_dict(self) -> dict:
        """``{"text", "type", "start", "end", "score", "source"}``: the shape every API returns."""
        # built directly: dataclasses.asdict deep-copies, and servers call this for every entity
        return {"text": self.text, "type": self.label, "start": self.start, "end": self.end,
                "score": round(float(self.score), 4), "source": self.source}
