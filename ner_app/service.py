"""What the page and the client endpoints call, one object per server: :class:`NerService`.

Its jobs live apart: the shared state and the engine call (:mod:`ner_app.base`), the page's handlers
(:mod:`ner_app.page`), the client API's handlers (:mod:`ner_app.client_api`), the download files
(:mod:`ner_app.downloads`); every request is checked by :mod:`ner_app.request`.
"""
from __future__ import annotations

from .client_api import ClientHandlers
from .page import PageHandlers


class NerService(PageHandlers, ClientHandlers):
    """One engine plus the limits of :class:`ner_app.config.Settings`, with a handler for each page event and
    each client endpoint.

    Page handlers raise ``gr.Error`` with a Chinese message for anything the user can fix (empty or over-long
    text, unreadable file); engine failures are logged and shown as a short apology, never as a stack trace.
    Every text is made well-formed first (:func:`ner.textio.well_formed`: a lone surrogate becomes U+FFFD,
    offsets unchanged).  With a :class:`ner_app.files.FileArea`, uploads are read only from it and deleted once
    read, and downloads are written into it under its cap.
    """
