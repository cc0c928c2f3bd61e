"""The REST API under ``/api`` (OpenAPI at ``/schema``); every route needs a bearer token."""

from maillon.web.api.connections import ConnectionController, ConnectorController
from maillon.web.api.flows import FlowController
from maillon.web.api.runs import EventController, RejectedDeliveryController, RunController

__all__ = [
    "ConnectionController",
    "ConnectorController",
    "EventController",
    "FlowController",
    "RejectedDeliveryController",
    "RunController",
]
