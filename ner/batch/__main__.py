"""``python -m ner.batch``: see :mod:`ner.batch.cli`."""
import sys

from .cli import main

sys.exit(main())
