"""Dependencies that the API's handlers declare by type."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from maillon.engine.services import Services

__all__ = ["AnyRequest", "ServicesDep"]

#: The engine services of the app (registered as the ``services`` dependency).
ServicesDep = NamedDependency[Services]

#: A request, whatever its user, auth and state types.
AnyRequest = Request[Any, Any, Any]
