"""Dynamic INT8 quantization of an exported ONNX model; the settings are written beside it."""
from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_OPS = ["MatMul", "Gemm", "LSTM", "Gather"]


def quantize(fp32: str | Path, int8: str | Path, *, op_types: list[str] | None = None, per_channel: bool = False) -> Path:
    """Write a dynamically quantized copy of ``fp32`` to ``int8`` (weights INT8, activations
    quantized at run time) and ``<int8>.json`` with the settings used; returns ``int8``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8",
                "op_types_to_quantize": op_types or DEFAULT_OPS, "per_channel": per_channel,
                "source": Path(fp32).name}
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=per_channel,
                     op_types_to_quantize=settings["op_types_to_quantize"])
    Path(str(int8) + ".json").write_text(json.dumps(settings, indent=1) + "\n")
    log.info("quantized %s -> %s", fp32, int8)
    return Path(int8)
