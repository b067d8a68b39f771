"""``python -m ner.export``: see :mod:`ner.export.embedded`."""
from .embedded import main

main()
