"""The tests start servers with :mod:`ner.bench.server` (one implementation for tests and benchmarks)."""
from ner.bench.server import ROOT, free_port, running_server  # noqa: F401
