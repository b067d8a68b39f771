"""``python -m ner.evaluate``: the command of :mod:`ner.training.evaluate`."""
from .training.evaluate import main

if __name__ == "__main__":
    main()
