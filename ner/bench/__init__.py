"""Benchmarks that print figures: engine latency and memory (``python -m ner.bench``), RaNER-sized models."""
