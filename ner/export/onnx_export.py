"""Tracing a PyTorch module to ONNX (legacy exporter: native LSTM op, dynamic axes) and saving CRF transitions."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._optional import require


def export_onnx(module, example_inputs: tuple, input_names: list[str], dynamic: dict, out: Path,
                opset: int = 17) -> Path:
    """Trace ``module`` to ``out`` with the legacy exporter (native LSTM op, dynamic axes)."""
    torch = require("torch", "Exporting to ONNX", extra="export")
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, example_inputs, str(out), input_names=input_names, output_names=["emissions"],
                          dynamic_axes=dynamic, opset_version=opset, dynamo=False)
    return out


def save_crf(out: Path, transitions, start, end) -> Path:
    path = out / "crf.npz"
    np.savez(path, transitions=np.asarray(transitions, np.float32), start=np.asarray(start, np.float32),
             end=np.asarray(end, np.float32))
    return path
