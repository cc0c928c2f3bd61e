"""Mailchimp: add or update audience members, tag them, unsubscribe them.

Mailchimp's Marketing API is called through httpx rather than the mailchimp-marketing SDK:
the SDK was generated once by Swagger Codegen and has not been released since 2022, it finds
its host by replacing the word "server" in a fixed URL (so another host cannot be given
safely), and it is a blocking client on requests and six. The API itself is plain JSON.
"""

from __future__ import annotations

from maillon.connectors.mailchimp._api import check_connection
from maillon.connectors.mailchimp.actions import UnsubscribeMember, UpdateTags, UpsertMember
from maillon.connectors.mailchimp.connection import MAILCHIMP_OAUTH, MailchimpConnection
from maillon.connectors.mailchimp.french import FRENCH
from maillon.connectors.sdk import Connector

__all__ = ["MailchimpConnection", "connector"]

connector = Connector(
    key="mailchimp",
    title="Mailchimp",
    description="Add people to Mailchimp audiences, tag them, unsubscribe them.",
    actions=(UpsertMember, UpdateTags, UnsubscribeMember),
    connection=MailchimpConnection,
    check=check_connection,
    oauth=MAILCHIMP_OAUTH,
    translations={"fr": FRENCH},
)
