"""The connector testing kit: test a connector the way Maillon runs it, on a real socket.

For connector packages, built in or from outside::

    from maillon.connectors.testing import FakeServer, run_action

- :class:`FakeServer` is a recording HTTP server on 127.0.0.1 that answers what the test
  scripts, so that the connector's real client library (httpx, aiohttp, urllib, httplib2, an
  app's own SDK) is exercised on the wire rather than mocked.
- :func:`run_action` runs one action as the engine's executor does: the input validated by the
  action's ``Input`` model, the connection by its connection model, the context built, a sync
  ``run`` sent to a thread, the step timeout enforced, and the output returned as the JSON the
  engine records.
- :mod:`maillon.connectors.testing.pytest_plugin` adds a ``fake_server`` fixture:
  ``pytest_plugins = ["maillon.connectors.testing.pytest_plugin"]`` in a ``conftest.py``.

Importing this module does not import pytest, so the kit serves any test runner.
"""

from __future__ import annotations

from maillon.connectors.testing._run import run_action
from maillon.connectors.testing._server import Answer, FakeServer, Recorded, Responder

__all__ = ["Answer", "FakeServer", "Recorded", "Responder", "run_action"]
