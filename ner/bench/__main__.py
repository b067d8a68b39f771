"""``python -m ner.bench``: see :mod:`ner.bench.latency`."""
from .latency import main

main()
