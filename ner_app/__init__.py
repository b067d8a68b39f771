"""Serving code for the NER web app: settings, presentation helpers, the UI service and the REST API."""
