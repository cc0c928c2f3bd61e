"""Attachments of an SMTP email: given as text, or downloaded from a URL within a size limit."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Self
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, HttpUrl, model_validator

from maillon.connectors.sdk import PermanentError, TransientError, parse_retry_after

if TYPE_CHECKING:
    import httpx

__all__ = ["Attachment", "LoadedAttachment", "load_attachments"]


class Attachment(BaseModel):
    """One file attached to the email: its text, or a URL to download it from."""

    filename: str | None = Field(
        default=None,
        title="File name",
        description="Name shown to the recipient. Needed for text content; for a URL, defaults "
        "to the name the server gives or the URL's last segment.",
        examples=["subscription.csv"],
    )
    content: str | None = Field(
        default=None,
        title="Text content",
        description="The file's content as text (UTF-8).",
        examples=["email,amount\nada@example.com,2500\n"],
    )
    url: HttpUrl | None = Field(
        default=None,
        title="URL",
        description="Where to download the file from, when it is not given as text.",
        examples=["https://files.example.com/contracts/42.pdf"],
    )
    content_type: str | None = Field(
        default=None,
        title="Content type",
        description="MIME type; guessed from the server's answer or the file name when empty.",
        examples=["text/csv", "application/pdf"],
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.content is None) == (self.url is None):
            raise ValueError("give an attachment either text content or a URL")
        if self.content is not None and not self.filename:
            raise ValueError("an attachment given as text needs a file name")
        if self.content_type is not None and self.content_type.count("/") != 1:
            raise ValueError(f"not a MIME type: {self.content_type!r}")
        return self


@dataclass(frozen=True)
class LoadedAttachment:
    """An attachment ready to be added to a message."""

    filename: str
    content_type: str
    data: bytes


def _guess_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def load_attachments(
    attachments: list[Attachment], *, timeout: float, max_bytes: int
) -> list[LoadedAttachment]:
    """Resolve every attachment to bytes; downloads share the ``max_bytes`` budget with text."""
    # httpx is imported when an email is sent, not with the connector: discovery loads every
    # connector, and a process that sends no email should not pay for the HTTP client.
    import httpx

    loaded: list[LoadedAttachment] = []
    budget = max_bytes
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for item in attachments:
            if item.content is not None:
                assert item.filename is not None
                data = item.content.encode("utf-8")
                content_type = item.content_type or _guess_type(item.filename)
                if content_type.startswith("text/") and "charset" not in content_type:
                    content_type += "; charset=utf-8"
                attachment = LoadedAttachment(item.filename, content_type, data)
            else:
                attachment = _download(client, item, budget)
            budget -= len(attachment.data)
            if budget < 0:
                raise PermanentError(
                    f"attachments exceed the connection's limit of {max_bytes} bytes"
                )
            loaded.append(attachment)
    return loaded


def _download(client: httpx.Client, item: Attachment, budget: int) -> LoadedAttachment:
    import httpx  # on first use, as in load_attachments

    url = str(item.url)
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                _raise_for_status(url, response)
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > budget:
                raise _too_large(url, budget)
            chunks: list[bytes] = []
            size = 0
            # Count while reading: Content-Length may be absent, or lie.
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > budget:
                    raise _too_large(url, budget)
                chunks.append(chunk)
            header_type = response.headers.get("content-type")
            server_name = _disposition_filename(response.headers.get("content-disposition"))
    except httpx.HTTPError as exc:
        raise TransientError(f"could not download attachment {url}: {exc}") from exc
    filename = item.filename or server_name or _url_filename(url)
    content_type = item.content_type or header_type or _guess_type(filename)
    return LoadedAttachment(filename, content_type, b"".join(chunks))


def _raise_for_status(url: str, response: httpx.Response) -> None:
    status = response.status_code
    message = f"downloading attachment {url} failed with HTTP {status}"
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise TransientError(message, retry_after=retry_after, details={"status": status})
    raise PermanentError(message, details={"status": status})


def _too_large(url: str, budget: int) -> PermanentError:
    return PermanentError(f"attachment {url} is larger than the {budget} bytes still allowed")


def _disposition_filename(value: str | None) -> str | None:
    if not value:
        return None
    # Let the email package parse the header, RFC 2231 "filename*=" included.
    message = Message()
    message["content-disposition"] = value
    name = message.get_filename()
    return name.rsplit("/", 1)[-1] or None if name else None


def _url_filename(url: str) -> str:
    segment = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return segment or "attachment"
