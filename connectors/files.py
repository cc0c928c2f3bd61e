"""Files between steps: a file is passed by reference, and fetched by the step that needs it.

Step outputs are recorded as JSON, so a step never hands bytes to the next one. A step that
makes or finds a file outputs a :class:`FileRef` (where to download it, its name, MIME type and
size); an action that takes a file has an input of type :class:`FileInput`, which accepts that
reference as it is (``file: "{{ steps.link.file }}"``), a URL written in the step (a document
URL from the triggering event), or content given inline as text or base64 for small files.

:func:`open_file` turns a :class:`FileInput` into a :class:`LoadedFile`: a download is streamed
into a temporary file (in memory while small, on disk beyond) and counted while it arrives, so
that a file over the step's limit fails with a clear :class:`PermanentError` after reading no
more than the limit, whatever ``Content-Length`` said. Uploading actions then read the file in
chunks, so a large file is never held in memory whole.

Downloads go through the ``http`` connector's pooled client (its public
:func:`~maillon.connectors.http.client_for`), with the same proxy rules and the same outbound
rules as ``http.send_request``: a URL written in a template is a request made by Maillon, and it
must be held to what any other request is held to. A connector that fetches files declares
``close=aclose_fetch_clients`` so that the pool is closed with its workers.

Connector authors import these names from :mod:`maillon.connectors.sdk`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import Message
from typing import IO, Annotated, Self
from urllib.parse import unquote

from pydantic import BaseModel, Field, HttpUrl, model_validator

from maillon.connectors.errors import PermanentError, TransientError, parse_retry_after

__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_MAX_FILE_BYTES",
    "FileInput",
    "FileRef",
    "LoadedFile",
    "MaxFileBytes",
    "aclose_fetch_clients",
    "open_file",
]

#: The default size limit of a file an action takes: large enough for scanned contracts and
#: subscription bulletins, small enough that a wrong URL cannot fill a worker's disk.
DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
#: The highest limit a step may set.
_LIMIT_CEILING = 2 * 1024 * 1024 * 1024
#: A download stays in memory up to this size, then moves to a temporary file on disk.
_SPOOL_BYTES = 1024 * 1024
#: Size of the pieces read from the network and handed to uploads.
CHUNK_BYTES = 256 * 1024

#: The input an action declares for its size limit: ``max_file_bytes: MaxFileBytes = DEFAULT``.
MaxFileBytes = Annotated[
    int,
    Field(
        ge=1,
        le=_LIMIT_CEILING,
        title="File size limit (bytes)",
        description="A larger file fails the step without being uploaded.",
        examples=[DEFAULT_MAX_FILE_BYTES],
    ),
]


class FileRef(BaseModel):
    """A file a step made or found, as later steps may use it (``{{ steps.<key>.file }}``)."""

    url: str = Field(
        title="Download URL",
        description="Where the file can be downloaded without credentials.",
        examples=["https://www.dropbox.com/scl/fi/a1b2c3/bulletin.pdf?dl=1"],
    )
    name: str = Field(title="File name", examples=["bulletin-2026-0042.pdf"])
    mime_type: str = Field(
        default="application/octet-stream", title="MIME type", examples=["application/pdf"]
    )
    size: int | None = Field(default=None, title="Size (bytes)", examples=[182044])


class FileInput(BaseModel):
    """A file an action takes: from a URL (or a :class:`FileRef`), or given as text or base64."""

    url: HttpUrl | None = Field(
        default=None,
        title="URL",
        description="Where to download the file; an earlier step's file output can be given "
        "whole instead of this form.",
        examples=["{{ event.permalink }}", "https://files.example.com/bulletins/42.pdf"],
    )
    text: str | None = Field(
        default=None,
        title="Text content",
        description="The file's content as text (stored as UTF-8), instead of a URL.",
        examples=["email,amount\nada@example.com,2500\n"],
    )
    base64: str | None = Field(
        default=None,
        title="Base64 content",
        description="The file's content encoded in base64, instead of a URL. For small files "
        "only: the content is kept in the run's history.",
    )
    name: str | None = Field(
        default=None,
        title="File name",
        description="Needed for text and base64 content; for a URL, defaults to the name the "
        "server gives, or the URL's last segment.",
        examples=["bulletin-{{ event.id }}.pdf"],
    )
    mime_type: str | None = Field(
        default=None,
        title="MIME type",
        description="Guessed from the server's answer or the file name when empty.",
        examples=["application/pdf"],
    )
    size: int | None = Field(
        default=None,
        title="Size (bytes)",
        description="Informative (a file output carries it); the size counted is the one "
        "downloaded.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [n for n in ("url", "text", "base64") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give the file exactly one of: a URL, text content, base64 content")
        if self.url is None and not self.name:
            raise ValueError("a file given as text or base64 needs a name")
        if self.mime_type is not None and self.mime_type.count("/") != 1:
            raise ValueError(f"not a MIME type: {self.mime_type!r}")
        return self


@dataclass
class LoadedFile:
    """A file ready to upload: its bytes in :attr:`stream` (at position 0), and what it is."""

    name: str
    mime_type: str
    size: int
    stream: IO[bytes]

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The content from the start, ``size`` bytes at a time."""
        self.stream.seek(0)
        while chunk := self.stream.read(size):
            yield chunk

    def read(self) -> bytes:
        """The whole content (for uploads that send it in one request, under a small size)."""
        self.stream.seek(0)
        return self.stream.read()


@asynccontextmanager
async def open_file(
    file: FileInput,
    *,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 (the download's deadline, not the caller's cancel scope)
) -> AsyncIterator[LoadedFile]:
    """Load ``file`` (downloading it within ``max_bytes`` and ``timeout``); closed on exit.

    Raises :class:`PermanentError` for a file over the limit, invalid base64, or a download
    the server refuses (4xx), and :class:`TransientError` for a download that may work later
    (network failure, timeout, 408, 429, 5xx; with the server's ``Retry-After``).
    """
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (closed below)
    try:
        if file.url is not None:
            loaded = await _download(file, str(file.url), spool, max_bytes, timeout)
        else:
            loaded = _inline(file, spool, max_bytes)
        spool.seek(0)
        yield loaded
    finally:
        spool.close()


def _inline(file: FileInput, spool: IO[bytes], max_bytes: int) -> LoadedFile:
    assert file.name is not None  # guaranteed by the model
    if file.text is not None:
        data = file.text.encode("utf-8")
        mime_type = file.mime_type or _guess_type(file.name)
        if mime_type.startswith("text/") and "charset" not in mime_type:
            mime_type += "; charset=utf-8"
    else:
        assert file.base64 is not None
        try:
            data = base64.b64decode("".join(file.base64.split()), validate=True)
        except (binascii.Error, ValueError):
            raise PermanentError(f"the base64 content of {file.name} is not valid base64") from None
        mime_type = file.mime_type or _guess_type(file.name)
    if len(data) > max_bytes:
        raise _too_large(file.name, max_bytes)
    spool.write(data)
    return LoadedFile(file.name, mime_type, len(data), spool)


async def _download(
    file: FileInput,
    url: str,
    spool: IO[bytes],
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 (bounds the download, enforced inside)
) -> LoadedFile:
    # The http connector, and aiohttp behind it, are loaded by the first download only.
    import aiohttp
    from yarl import URL

    from maillon.connectors.http import HttpConnection, client_for, proxy_for
    from maillon.connectors.outbound import check_each_hop

    target = URL(url)
    # The query of a signed link is a credential: it stays out of messages.
    shown = str(target.with_query(None).with_fragment(None))
    size = 0
    try:
        async with (
            asyncio.timeout(timeout),
            # The session's resolver checks the addresses of names; an address written in the
            # URL (or a redirect's) is checked before each hop.
            client_for(HttpConnection()).get(
                target, proxy=proxy_for(target), middlewares=(check_each_hop,)
            ) as response,
        ):
            if response.status >= 400:
                raise _refused(shown, response.status, response.headers.get("Retry-After"))
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise _too_large(shown, max_bytes)
            # Counted as it arrives: Content-Length may be absent, or lie.
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(shown, max_bytes)
                spool.write(chunk)
            header_type = response.headers.get("Content-Type")
            disposition = response.headers.get("Content-Disposition")
    except TimeoutError as exc:
        raise TransientError(
            f"downloading {shown} took longer than {timeout:g}s", details={"url": shown}
        ) from exc
    except aiohttp.ClientError as exc:
        raise TransientError(
            f"could not download {shown}: {type(exc).__name__}: {exc}", details={"url": shown}
        ) from exc
    name = file.name or _disposition_name(disposition) or _url_name(target.path) or "file"
    mime_type = file.mime_type or header_type or _guess_type(name)
    return LoadedFile(name, mime_type, size, spool)


def _refused(shown: str, status: int, retry_after: str | None) -> Exception:
    message = f"downloading {shown} failed with HTTP {status}"
    details: dict[str, object] = {"status": status, "url": shown}
    if status in (408, 425, 429) or status >= 500:
        return TransientError(message, retry_after=parse_retry_after(retry_after), details=details)
    if status in (401, 403, 404, 410):
        message += ": check the URL (a signed or shared link may have expired or been revoked)"
    return PermanentError(message, details=details)


def _too_large(what: str, max_bytes: int) -> PermanentError:
    return PermanentError(
        f"{what} is larger than the step's limit of {max_bytes} bytes: raise the file size "
        "limit of the step if the file is expected to be that large",
        details={"error": "file_too_large", "max_bytes": max_bytes},
    )


def _guess_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _disposition_name(value: str | None) -> str | None:
    if not value:
        return None
    # The email package parses the header, RFC 2231's filename*= included.
    message = Message()
    message["content-disposition"] = value
    name = message.get_filename()
    return (name.replace("\\", "/").rsplit("/", 1)[-1] or None) if name else None


def _url_name(path: str) -> str | None:
    return unquote(path.rsplit("/", 1)[-1]) or None


async def aclose_fetch_clients() -> None:
    """Close the download pool of the running loop (a connector's ``close`` hook)."""
    from maillon.connectors.http import aclose_clients

    await aclose_clients()
