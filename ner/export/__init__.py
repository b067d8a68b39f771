"""The export wing: ONNX tracing, INT8 quantization, the embedded model, RaNER checkpoints, ModelScope, cards.

Needs the ``export`` extra (torch, onnx, transformers); ``import ner`` never imports it.
"""
