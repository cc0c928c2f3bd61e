"""The REST API under ``/api`` (OpenAPI at ``/schema``); every route needs a bearer token."""

from maillon.web.api.alerts import AlertController
from maillon.web.api.connections import ConnectionController, ConnectorController
from maillon.web.api.flows import FlowController
from maillon.web.api.runs import (
    EventController,
    QueueController,
    RejectedDeliveryController,
    RunController,
)

__all__ = [
    "AlertController",
    "ConnectionController",
    "ConnectorController",
    "EventController",
    "FlowController",
    "QueueController",
    "RejectedDeliveryController",
    "RunController",
]
