"""An example Maillon connector, ``helpdesk``: open a ticket in a help desk's REST API.

Everything Maillon needs is the module-level ``connector`` below, named by the
``maillon.connectors`` entry point in this package's ``pyproject.toml``. Importing this module
stays cheap (httpx is imported when a step runs), because Maillon imports every installed
connector to list the apps.
"""

from __future__ import annotations

from maillon.connectors.sdk import Connector
from maillon_example.connection import HelpdeskConnection, check_connection
from maillon_example.create_ticket import CreateTicket

__all__ = ["CreateTicket", "HelpdeskConnection", "connector"]

connector = Connector(
    key="helpdesk",
    title="Help desk",
    description="Open support tickets in the help desk.",
    actions=(CreateTicket,),
    connection=HelpdeskConnection,
    check=check_connection,
)
