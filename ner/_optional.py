"""Lazy imports of the optional heavy dependencies, with an error that names the pip extra to install."""
from __future__ import annotations

import importlib

#: Which extra of ``pyproject.toml`` provides each optional package.
EXTRAS = {"torch": "train", "gensim": "train", "jieba": "train", "tqdm": "train", "onnx": "export",
          "transformers": "export", "modelscope": "export", "safetensors": "export", "pyarrow": "batch",
          "ray": "ray", "gradio": "app"}
DIST = "ai-ner-service"


def install_hint(package: str, extra: str | None = None) -> str:
    extra = extra or EXTRAS.get(package, "dev")
    return f'pip install "{DIST}[{extra}]" (in a checkout: pip install -e ".[{extra}]")'


def require(module: str, purpose: str, extra: str | None = None):
    """Import ``module`` or raise ``ImportError`` naming the extra that provides it (``extra`` overrides)."""
    package = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{purpose} needs the optional package '{package}', which is not installed. "
                          f"Install it with: {install_hint(package, extra)}") from exc
