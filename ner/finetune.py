"""``python -m ner.finetune``: the command of :mod:`ner.training.finetune`."""
from .training.finetune import main

if __name__ == "__main__":
    main()
