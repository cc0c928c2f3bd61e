"""The ``webhook`` app: the secret a sender signs its deliveries with, kept as a connection.

It has no action. A webhook trigger that checks signatures names one of these connections
(``trigger.signature.connection``), so that the secret is encrypted at rest, never shown again
once saved, and never part of a flow's YAML, as every other credential.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from maillon.connectors.sdk import Connection, Connector
from maillon.connectors.webhook.french import FRENCH

__all__ = ["SigningSecret", "connector"]


class SigningSecret(Connection):
    """The shared secret of one sender."""

    # An empty secret would refuse every signed delivery, at 401, long after it was saved.
    secret: SecretStr = Field(
        min_length=1,
        title="Signing secret",
        description="The secret the sender signs deliveries with (its webhook settings show it).",
    )


connector = Connector(
    key="webhook",
    title="Webhook signing secret",
    description="The secret a sender signs its webhook deliveries with, for a flow to check them.",
    actions=(),
    connection=SigningSecret,
    translations={"fr": FRENCH},
)
