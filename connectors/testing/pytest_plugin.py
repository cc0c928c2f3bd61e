"""The testing kit's pytest fixtures, as a plugin a connector package's tests load by name.

In the package's top ``conftest.py``::

    pytest_plugins = ["maillon.connectors.testing.pytest_plugin"]

A plugin module rather than fixtures in :mod:`maillon.connectors.testing` itself, so that the
kit imports pytest only when it is asked for, and so that Maillon does not register fixtures in
every pytest run of an environment where it is installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from maillon.connectors.testing import FakeServer

__all__ = ["fake_server"]


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A recording fake HTTP server on 127.0.0.1, started for the test and stopped after it."""
    with FakeServer() as server:
        yield server
