"""Dependencies that the API's handlers declare by type."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from maillon.engine.store import Store

__all__ = ["AnyRequest", "StoreDep"]

#: The :class:`maillon.engine.store.Store` of the app (registered as the ``store`` dependency).
StoreDep = NamedDependency[Store]

#: A request, whatever its user, auth and state types.
AnyRequest = Request[Any, Any, Any]
