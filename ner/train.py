"""``python -m ner.train``: the command of :mod:`ner.training.train`."""
from .training.train import main

if __name__ == "__main__":
    main()
