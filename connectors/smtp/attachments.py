"""Attachments of an SMTP email: given as text, or downloaded from a URL within a size limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, Field, HttpUrl, model_validator

from maillon.connectors.sdk import FileInput, PermanentError, open_file

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


async def load_attachments(
    attachments: list[Attachment],
    *,
    timeout: float,  # noqa: ASYNC109 (each download's deadline, enforced by the loader)
    max_bytes: int,
) -> list[LoadedAttachment]:
    """Resolve every attachment to bytes, within the ``max_bytes`` they share.

    Each is loaded by the file loader of every connector (:mod:`maillon.connectors.files`): a
    URL through the outbound policy, which a flow's template must not get around by naming the
    cloud's metadata address as an attachment.
    """
    loaded: list[LoadedAttachment] = []
    budget = max_bytes
    for item in attachments:
        file = FileInput(
            url=item.url, text=item.content, name=item.filename, mime_type=item.content_type
        )
        try:
            async with open_file(file, max_bytes=budget, timeout=timeout) as opened:
                attachment = LoadedAttachment(opened.name, opened.mime_type, opened.read())
        except PermanentError as exc:
            if exc.details.get("error") != "file_too_large":
                raise
            # The limit is the connection's, shared by the message's attachments, not the step's.
            raise PermanentError(
                f"attachments exceed the connection's limit of {max_bytes} bytes: "
                f"{item.url or item.filename} is larger than the {budget} bytes still allowed",
                details=exc.details,
            ) from exc
        budget -= len(attachment.data)
        loaded.append(attachment)
    return loaded
