"""The server: the Gradio page, the REST API, the Gradio client API and MCP tools on one app, built by
:func:`create_app` from a :class:`ner_app.config.Settings` value (``python app.py``, Ray Serve and the tests)."""
from .factory import NerApp, create_app

__all__ = ["NerApp", "create_app"]
