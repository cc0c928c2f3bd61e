"""Slack connector: post messages with a bot token (Web API) or an incoming webhook.

Uses the official ``slack_sdk`` sync clients (urllib underneath); the engine runs their sync
``run`` methods in worker threads.
"""

from __future__ import annotations

from maillon.connectors.sdk import Connector
from maillon.connectors.slack.check import check_connection
from maillon.connectors.slack.connection import SlackConnection
from maillon.connectors.slack.french import FRENCH
from maillon.connectors.slack.send_message import SendMessage
from maillon.connectors.slack.send_webhook_message import SendWebhookMessage

__all__ = ["SendMessage", "SendWebhookMessage", "SlackConnection", "connector"]

connector = Connector(
    key="slack",
    title="Slack",
    description="Post messages to Slack channels, threads and direct messages.",
    actions=(SendMessage, SendWebhookMessage),
    connection=SlackConnection,
    check=check_connection,
    translations={"fr": FRENCH},
)
