"""Slack's "test connection": ``auth.test`` says whether the bot token works, and where.

Only the bot token can be checked without side effects: an incoming webhook's URL is checked
by posting a message, which a test must not do.
"""

from __future__ import annotations

import asyncio

from maillon.connectors.sdk import ConnectionCheck
from maillon.connectors.slack.connection import SlackConnection

__all__ = ["check_connection"]

#: Seconds the test waits for Slack.
TIMEOUT = 15.0


async def check_connection(conn: SlackConnection) -> ConnectionCheck:
    """Call ``auth.test`` with the bot token (in a thread: the client blocks)."""
    if conn.bot_token is None:
        return ConnectionCheck(
            ok=None,
            message="There is no bot token to test, and an incoming webhook URL can only be "
            "tested by posting a message",
        )
    return await asyncio.to_thread(_auth_test, conn)


def _auth_test(conn: SlackConnection) -> ConnectionCheck:
    # Imported on use, like the actions do: listing connectors must not load slack_sdk.
    from slack_sdk.errors import SlackApiError

    from maillon.connectors.slack._client import (
        CLIENT_ERRORS,
        classify_api_error,
        classify_network_error,
        web_client,
    )

    try:
        answer = web_client(conn, TIMEOUT).auth_test()
    except SlackApiError as exc:
        raise classify_api_error(exc, "the bot token") from exc
    except CLIENT_ERRORS as exc:
        raise classify_network_error(exc) from exc
    return ConnectionCheck(
        ok=True,
        message=f"Slack accepts the bot token: workspace {answer.get('team')}, "
        f"bot user {answer.get('user')}",
    )
