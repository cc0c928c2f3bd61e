"""The Dropbox actions: upload a file, create a folder, create a shared link."""

from __future__ import annotations

import mimetypes
import posixpath
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AfterValidator, BaseModel, Field

from maillon.connectors.dropbox._api import DropboxApi, DropboxRouteError
from maillon.connectors.dropbox.connection import DropboxConnection
from maillon.connectors.sdk import (
    DEFAULT_MAX_FILE_BYTES,
    Action,
    ActionContext,
    FileInput,
    FileRef,
    LoadedFile,
    MaxFileBytes,
    PermanentError,
    choice_labels,
    open_file,
)

__all__ = ["CreateFolder", "CreateSharedLink", "UploadFile", "dropbox_path"]

#: Files up to this size go up in one request; larger ones in an upload session, one chunk per
#: request, so that memory holds one chunk at a time (Dropbox takes up to 150 MB per request
#: and wants chunks in multiples of 4 MiB).
CHUNK_BYTES = 8 * 1024 * 1024


def dropbox_path(value: str) -> str:
    """A Dropbox path as the API wants it: from the root, ``/`` separated, no trailing slash."""
    text = value.strip().replace("\\", "/")
    if not text or text == "/":
        return ""  # the API's spelling of the root folder
    if ".." in text.split("/"):
        raise ValueError(f"a Dropbox path names folders from the root, without '..': {value!r}")
    return posixpath.normpath("/" + text.lstrip("/"))


#: A path in the Dropbox account, normalised.
DropboxPath = Annotated[str, AfterValidator(dropbox_path)]


class DropboxItem(BaseModel):
    """A file or folder in Dropbox."""

    id: str = Field(title="ID", examples=["id:a4ayc_80_OEAAAAAAAAAXw"])
    name: str = Field(title="Name", examples=["bulletin-2026-0042.pdf"])
    path: str = Field(
        title="Path",
        description="As Dropbox shows it, with its capitals.",
        examples=["/Investors/Ada Lovelace/bulletin-2026-0042.pdf"],
    )

    @classmethod
    def fields_of(cls, metadata: Any) -> dict[str, Any]:
        """The fields of Dropbox's metadata that this model holds."""
        if not isinstance(metadata, dict) or not metadata.get("id"):
            raise PermanentError("Dropbox answered without the item's metadata")
        return {
            "id": str(metadata["id"]),
            "name": str(metadata.get("name", "")),
            "path": str(metadata.get("path_display") or metadata.get("path_lower") or ""),
        }


# -- upload_file -------------------------------------------------------------------------------


class UploadFileInput(BaseModel):
    """A file to put in Dropbox."""

    file: FileInput = Field(
        title="File",
        description="A URL to download (or an earlier step's file), or content as text or base64.",
        examples=[{"url": "{{ event.permalink }}", "name": "{{ event.name }}"}],
    )
    folder: DropboxPath = Field(
        title="Folder",
        description="Where the file goes; missing folders are created.",
        examples=["/Investors/{{ event.owner_id }}"],
    )
    name: str | None = Field(
        default=None,
        title="Name in Dropbox",
        description="Leave empty to keep the file's own name.",
        examples=["Bulletin {{ event.id }}.pdf"],
    )
    if_exists: Literal["rename", "overwrite", "fail"] = Field(
        default="rename",
        title="If a file has that name",
        json_schema_extra=choice_labels(
            {
                "rename": "Keep both (the new one is renamed)",
                "overwrite": "Replace it",
                "fail": "Fail the step",
            }
        ),
        description="rename: keep both (Dropbox adds a number to the new one); overwrite: "
        "replace it; fail: fail the step.",
    )
    mute: bool = Field(
        default=False,
        title="Mute notifications",
        description="Do not tell the account's desktop and mobile apps about the new file.",
    )
    max_file_bytes: MaxFileBytes = DEFAULT_MAX_FILE_BYTES


class UploadedFile(DropboxItem):
    """The file as stored."""

    size: int = Field(title="Size (bytes)", examples=[182044])
    rev: str = Field(title="Revision", examples=["a1c10ce0dd78"])


class UploadFile(Action[DropboxConnection, UploadFileInput, UploadedFile]):
    """Upload a file: one request for a small file, an upload session for a large one."""

    key = "upload_file"
    title = "Upload a file"
    description = "Put a file in Dropbox, from a URL, an earlier step's file, or content."
    advanced_inputs = ("name", "mute", "max_file_bytes")

    async def run(
        self, ctx: ActionContext, conn: DropboxConnection, data: UploadFileInput
    ) -> UploadedFile:
        async with open_file(data.file, max_bytes=data.max_file_bytes, timeout=ctx.timeout) as f:
            name = (data.name or f.name).replace("/", "_")
            commit = {
                "path": f"{data.folder}/{name}",
                "mode": "overwrite" if data.if_exists == "overwrite" else "add",
                "autorename": data.if_exists == "rename",
                "mute": data.mute,
            }
            async with DropboxApi(conn, timeout=ctx.timeout) as api:
                if f.size <= CHUNK_BYTES:
                    stored = await api.upload("files/upload", commit, f.read())
                else:
                    stored = await _upload_in_session(api, f, commit)
        return UploadedFile(
            **DropboxItem.fields_of(stored),
            size=int(stored.get("size", f.size)),
            rev=str(stored.get("rev", "")),
        )


async def _upload_in_session(api: DropboxApi, file: LoadedFile, commit: dict[str, Any]) -> Any:
    chunks = file.chunks(CHUNK_BYTES)
    first = next(chunks)
    started = await api.upload("files/upload_session/start", {"close": False}, first)
    if not isinstance(started, dict) or not started.get("session_id"):
        raise PermanentError("Dropbox started an upload session without an ID")
    cursor = {"session_id": started["session_id"], "offset": len(first)}
    last = b""
    for chunk in chunks:
        if last:
            await api.upload("files/upload_session/append_v2", {"cursor": cursor}, last)
            cursor["offset"] += len(last)
        last = chunk
    return await api.upload(
        "files/upload_session/finish", {"cursor": cursor, "commit": commit}, last
    )


# -- create_folder -----------------------------------------------------------------------------


class CreateFolderInput(BaseModel):
    """A folder to create."""

    path: DropboxPath = Field(
        title="Folder path",
        description="The folder to create, with its parents if missing.",
        examples=["/Investors/{{ event.last_name }} {{ event.first_name }}"],
    )
    exist_ok: bool = Field(
        default=True,
        title="Accept an existing folder",
        description="When the folder exists already, use it instead of failing.",
    )


class Folder(DropboxItem):
    """The folder."""

    created: bool = Field(
        title="Created", description="False when the folder existed already and was kept."
    )


class CreateFolder(Action[DropboxConnection, CreateFolderInput, Folder]):
    """Create a folder (and its missing parents); an existing one is accepted by default."""

    key = "create_folder"
    title = "Create a folder"
    description = "Create a folder in Dropbox, or use the one at that path."
    advanced_inputs = ("exist_ok",)

    async def run(
        self, ctx: ActionContext, conn: DropboxConnection, data: CreateFolderInput
    ) -> Folder:
        if not data.path:
            raise PermanentError("the root folder exists already: give a folder path")
        async with DropboxApi(conn, timeout=ctx.timeout) as api:
            try:
                made = await api.rpc("files/create_folder_v2", {"path": data.path})
            except DropboxRouteError as exc:
                # A retry whose first attempt made the folder lands here too.
                if not (data.exist_ok and exc.summary.startswith("path/conflict/folder")):
                    raise
                existing = await api.rpc("files/get_metadata", {"path": data.path})
                return Folder(**DropboxItem.fields_of(existing), created=False)
        return Folder(**DropboxItem.fields_of(made.get("metadata")), created=True)


# -- create_shared_link ------------------------------------------------------------------------


class CreateSharedLinkInput(BaseModel):
    """What to share, and with whom."""

    path: DropboxPath = Field(
        title="Path",
        description="The file or folder to share (an upload's path, for example).",
        examples=["{{ steps.upload.path }}"],
    )
    audience: Literal["public", "team"] = Field(
        default="public",
        title="Who can open it",
        json_schema_extra=choice_labels(
            {"public": "Anyone with the link", "team": "The account's team only"}
        ),
        description="public: anyone with the link; team: members of the account's team only.",
    )
    expires: datetime | None = Field(
        default=None,
        title="Expires",
        description="When the link stops working (needs a paid Dropbox plan); UTC unless the "
        "time has an offset.",
        examples=["2026-06-30T00:00:00Z"],
    )


class SharedLink(BaseModel):
    """A link to a file or folder."""

    url: str = Field(
        title="Link", examples=["https://www.dropbox.com/scl/fi/a1b2c3/bulletin.pdf?rlkey=x&dl=0"]
    )
    download_url: str = Field(
        title="Download link",
        description="Downloads the file instead of showing Dropbox's preview page.",
        examples=["https://www.dropbox.com/scl/fi/a1b2c3/bulletin.pdf?rlkey=x&dl=1"],
    )
    name: str = Field(title="Name", examples=["bulletin.pdf"])
    path: str = Field(title="Path", examples=["/investors/ada/bulletin.pdf"])
    expires: str | None = Field(default=None, title="Expires")
    file: FileRef | None = Field(
        default=None,
        title="File",
        description="For a file: the file as later steps take it (an upload elsewhere, an "
        "email attachment). Empty for a folder.",
    )


class CreateSharedLink(Action[DropboxConnection, CreateSharedLinkInput, SharedLink]):
    """Create a shared link, or return the one that exists already."""

    key = "create_shared_link"
    title = "Create a shared link"
    description = "Share a Dropbox file or folder by link; an existing link is returned as is."
    advanced_inputs = ("audience", "expires")

    async def run(
        self, ctx: ActionContext, conn: DropboxConnection, data: CreateSharedLinkInput
    ) -> SharedLink:
        settings: dict[str, Any] = {"audience": data.audience, "access": "viewer"}
        if data.expires is not None:
            # Dropbox reads the time as UTC, written with a Z; a time without offset is UTC.
            expires = data.expires.astimezone(UTC) if data.expires.tzinfo else data.expires
            settings["expires"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        async with DropboxApi(conn, timeout=ctx.timeout) as api:
            try:
                link = await api.rpc(
                    "sharing/create_shared_link_with_settings",
                    {"path": data.path, "settings": settings},
                )
            except DropboxRouteError as exc:
                if not exc.summary.startswith("shared_link_already_exists"):
                    raise
                link = _existing_link(exc.error) or await _listed_link(api, data.path)
        return _shared_link(link)


def _existing_link(error: Any) -> Any:
    # The error may carry the existing link's metadata.
    found = error.get("shared_link_already_exists") if isinstance(error, dict) else None
    return found.get("metadata") if isinstance(found, dict) else None


async def _listed_link(api: DropboxApi, path: str) -> Any:
    listed = await api.rpc("sharing/list_shared_links", {"path": path, "direct_only": True})
    links = listed.get("links") if isinstance(listed, dict) else None
    if not links:
        raise PermanentError(f"Dropbox says {path} has a shared link, but lists none")
    return links[0]


def _shared_link(link: Any) -> SharedLink:
    if not isinstance(link, dict) or not link.get("url"):
        raise PermanentError("Dropbox answered without a link")
    url = str(link["url"])
    download = _with_query(url, dl="1")
    name = str(link.get("name", ""))
    file = None
    if link.get(".tag") == "file":
        size = link.get("size")
        mime_type, _ = mimetypes.guess_type(name)
        file = FileRef(
            url=download,
            name=name,
            mime_type=mime_type or "application/octet-stream",
            size=int(size) if isinstance(size, int) else None,
        )
    return SharedLink(
        url=url,
        download_url=download,
        name=name,
        path=str(link.get("path_lower", "")),
        expires=link.get("expires"),
        file=file,
    )


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))
