"""Maillon's engine: flows, templating, storage, the run queue, the executor and the worker.

The engine never imports :mod:`maillon.web`; connectors never import engine internals.
"""
