"""Maillon's web layer: hook endpoints, the REST API, and the ``maillon`` command line."""
