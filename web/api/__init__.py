"""The REST API under ``/api`` (OpenAPI at ``/schema``); every route needs a bearer token."""

from web.api.connections import ConnectionController, ConnectorController
from web.api.flows import FlowController
from web.api.runs import EventController, RunController

__all__ = [
    "ConnectionController",
    "ConnectorController",
    "EventController",
    "FlowController",
    "RunController",
]
