"""Google Drive: upload a file, create (or find) a folder, copy a file, share a file.

On the shared ``google`` connection, through google-api-python-client like Gmail, Sheets and
Calendar. Drive has no idempotency key, so the actions that create something mark it with a
private ``appProperties`` entry derived from the step: a retry whose first attempt created the
file but lost the answer finds it by that mark and returns it instead of making a second one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from maillon.connectors.google import french
from maillon.connectors.google.client import DRIVE, GoogleSession, session
from maillon.connectors.google.connection import GoogleConnection
from maillon.connectors.google.oauth import GOOGLE_OAUTH
from maillon.connectors.sdk import (
    DEFAULT_MAX_FILE_BYTES,
    Action,
    ActionContext,
    ConnectionCheck,
    Connector,
    FileInput,
    LoadedFile,
    MaxFileBytes,
    PermanentError,
    aclose_fetch_clients,
    choice_labels,
    open_file,
)

__all__ = [
    "CopyFile",
    "CreateFolder",
    "ShareFile",
    "UploadFile",
    "check_connection",
    "connector",
    "drive_id_from",
]

FOLDER_TYPE = "application/vnd.google-apps.folder"
#: The fields of a file that the actions return.
_FILE_FIELDS = "id,name,mimeType,size,webViewLink,webContentLink,parents"
#: Files up to this size go in one multipart request; larger ones in a resumable upload
#: session, sent in chunks (Google's advice: resumable above 5 MB).
SIMPLE_UPLOAD_BYTES = 5 * 1024 * 1024
#: Chunks of a resumable upload: Google wants multiples of 256 KiB.
_UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
#: The private property that marks what a step created (see the module's docstring).
_STEP_MARK = "maillonStep"

_ID_IN_URL = re.compile(r"/(?:d|folders)/([A-Za-z0-9_-]{10,})|[?&]id=([A-Za-z0-9_-]{10,})")
_BARE_ID = re.compile(r"[A-Za-z0-9_-]+")


def drive_id_from(value: str) -> str:
    """A file or folder ID, given the ID itself or a Drive or Docs URL of it."""
    value = value.strip()
    found = _ID_IN_URL.search(value)
    if found:
        return found.group(1) or found.group(2)
    if _BARE_ID.fullmatch(value):
        return value
    raise ValueError(f"not a Drive ID or URL: {value!r}")


def _quoted(text: str) -> str:
    # A string literal of Drive's query language: backslashes and quotes escaped.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


#: A file or folder, by ID or URL; validated into the ID.
DriveId = Annotated[str, AfterValidator(drive_id_from)]
#: The same, optional: empty means "My Drive" (or "the original's folder").
OptionalDriveId = Annotated[
    str | None, AfterValidator(lambda value: drive_id_from(value) if value else None)
]


class DriveFile(BaseModel):
    """A file in Google Drive."""

    file_id: str = Field(title="File ID", examples=["1Cq3x0l7bN2Tq9yV8uWm4ZrPp6sKd5aHj"])
    name: str = Field(title="Name", examples=["bulletin-2026-0042.pdf"])
    mime_type: str = Field(title="MIME type", examples=["application/pdf"])
    size: int | None = Field(default=None, title="Size (bytes)", examples=[182044])
    web_view_link: str = Field(
        default="",
        title="Link",
        description="Opens the file in Google Drive (for people who have access).",
        examples=["https://drive.google.com/file/d/1Cq3x0l7bN2Tq9yV8uWm4ZrPp6sKd5aHj/view"],
    )
    parent_id: str | None = Field(default=None, title="Folder ID")

    @classmethod
    def of(cls, found: Any) -> DriveFile:
        """From Drive's file resource."""
        if not isinstance(found, dict) or not found.get("id"):
            raise PermanentError("Google Drive answered without a file ID")
        parents = found.get("parents") or [None]
        size = found.get("size")
        return cls(
            file_id=str(found["id"]),
            name=str(found.get("name", "")),
            mime_type=str(found.get("mimeType", "")),
            size=int(size) if size is not None else None,
            web_view_link=str(found.get("webViewLink", "")),
            parent_id=parents[0],
        )


def _step_mark(ctx: ActionContext) -> str:
    return hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:40]


def _made_earlier(ctx: ActionContext, drive: GoogleSession) -> dict[str, Any] | None:
    """What an earlier attempt of this step created, if it did (retries only)."""
    if ctx.attempt == 1:
        return None
    query = (
        f"appProperties has {{ key='{_STEP_MARK}' and value='{_step_mark(ctx)}' }} "
        "and trashed = false"
    )
    found = drive.execute(
        ctx,
        drive.resource("files").list(
            q=query,
            fields=f"files({_FILE_FIELDS})",
            pageSize=1,
            supportsAllDrives=True,
            includeItemsFromAllDrives=True,
        ),
    )
    files = found.get("files") if isinstance(found, dict) else None
    if files:
        ctx.logger.info("an earlier attempt made %s already", files[0].get("id"))
        return dict(files[0])
    return None


# -- upload_file -------------------------------------------------------------------------------


class UploadFileInput(BaseModel):
    """A file to put in Drive."""

    file: FileInput = Field(
        title="File",
        description="A URL to download (or an earlier step's file), or content as text or base64.",
        examples=[{"url": "{{ event.permalink }}", "name": "{{ event.name }}"}],
    )
    folder_id: OptionalDriveId = Field(
        default=None,
        title="Folder",
        description="The folder's ID or URL (an earlier step's folder ID, for example). Leave "
        "empty for My Drive.",
        examples=["{{ steps.folder.folder_id }}"],
    )
    name: str | None = Field(
        default=None,
        title="Name in Drive",
        description="Leave empty to keep the file's own name.",
        examples=["Bulletin {{ event.id }}.pdf"],
    )
    description: str | None = Field(default=None, title="Description")
    max_file_bytes: MaxFileBytes = DEFAULT_MAX_FILE_BYTES


class UploadFile(Action[GoogleConnection, UploadFileInput, DriveFile]):
    """Upload a file: one multipart request for a small file, a resumable session for a large
    one, read from disk in chunks."""

    key = "upload_file"
    title = "Upload a file"
    description = "Put a file in Google Drive, from a URL, an earlier step's file, or content."
    advanced_inputs = ("name", "description", "max_file_bytes")

    async def run(
        self, ctx: ActionContext, conn: GoogleConnection, data: UploadFileInput
    ) -> DriveFile:
        async with open_file(data.file, max_bytes=data.max_file_bytes, timeout=ctx.timeout) as f:
            # The Google client blocks: the upload runs in a thread, the download did not.
            return await asyncio.to_thread(self._upload, ctx, conn, data, f)

    def _upload(
        self, ctx: ActionContext, conn: GoogleConnection, data: UploadFileInput, file: LoadedFile
    ) -> DriveFile:
        from googleapiclient.http import MediaIoBaseUpload

        drive = session(conn, DRIVE)
        earlier = _made_earlier(ctx, drive)
        if earlier is not None:
            return DriveFile.of(earlier)
        metadata: dict[str, Any] = {
            "name": data.name or file.name,
            "appProperties": {_STEP_MARK: _step_mark(ctx)},
        }
        if data.folder_id:
            metadata["parents"] = [data.folder_id]
        if data.description:
            metadata["description"] = data.description
        file.stream.seek(0)
        media = MediaIoBaseUpload(
            file.stream,
            mimetype=file.mime_type,
            chunksize=_UPLOAD_CHUNK_BYTES,
            resumable=file.size > SIMPLE_UPLOAD_BYTES,
        )
        request = drive.resource("files").create(
            body=metadata, media_body=media, fields=_FILE_FIELDS, supportsAllDrives=True
        )
        return DriveFile.of(drive.execute(ctx, request))


# -- create_folder -----------------------------------------------------------------------------


class CreateFolderInput(BaseModel):
    """A folder to find or create."""

    name: str = Field(
        min_length=1,
        title="Folder name",
        examples=["{{ event.last_name }} {{ event.first_name }} ({{ event.id }})"],
    )
    parent_id: OptionalDriveId = Field(
        default=None,
        title="Parent folder",
        description="The parent folder's ID or URL. Leave empty for My Drive.",
        examples=["https://drive.google.com/drive/folders/0B9x8sQ3mN1tWfkZyRkVXa1pDdE0"],
    )
    reuse_existing: bool = Field(
        default=True,
        title="Reuse a folder of that name",
        description="When the parent already has a folder of that name, use it instead of "
        "creating another (Drive allows several folders with one name).",
    )


class Folder(BaseModel):
    """A folder in Google Drive."""

    folder_id: str = Field(title="Folder ID", examples=["1fO1dErIdXyZ0123456789abcdefgh"])
    name: str = Field(title="Name")
    web_view_link: str = Field(default="", title="Link")
    created: bool = Field(
        title="Created", description="False when an existing folder was found and reused."
    )


class CreateFolder(Action[GoogleConnection, CreateFolderInput, Folder]):
    """Find a folder by name under a parent, or create it."""

    key = "create_folder"
    title = "Create a folder"
    description = "Create a folder in Google Drive, or find the one of that name in the parent."
    advanced_inputs = ("reuse_existing",)

    def run(self, ctx: ActionContext, conn: GoogleConnection, data: CreateFolderInput) -> Folder:
        drive = session(conn, DRIVE)
        parent = data.parent_id or "root"
        if data.reuse_existing:
            query = (
                f"name = {_quoted(data.name)} and mimeType = '{FOLDER_TYPE}' and "
                f"{_quoted(parent)} in parents and trashed = false"
            )
            found = drive.execute(
                ctx,
                drive.resource("files").list(
                    q=query,
                    fields="files(id,name,webViewLink)",
                    orderBy="createdTime",
                    pageSize=1,
                    supportsAllDrives=True,
                    includeItemsFromAllDrives=True,
                ),
            )
            existing = found.get("files") if isinstance(found, dict) else None
            if existing:
                return _folder(existing[0], created=False)
        earlier = _made_earlier(ctx, drive)
        if earlier is not None:
            return _folder(earlier, created=True)
        body = {
            "name": data.name,
            "mimeType": FOLDER_TYPE,
            "parents": [parent],
            "appProperties": {_STEP_MARK: _step_mark(ctx)},
        }
        request = drive.resource("files").create(
            body=body, fields="id,name,webViewLink", supportsAllDrives=True
        )
        return _folder(drive.execute(ctx, request), created=True)


def _folder(found: Any, *, created: bool) -> Folder:
    if not isinstance(found, dict) or not found.get("id"):
        raise PermanentError("Google Drive answered without a folder ID")
    return Folder(
        folder_id=str(found["id"]),
        name=str(found.get("name", "")),
        web_view_link=str(found.get("webViewLink", "")),
        created=created,
    )


# -- copy_file ---------------------------------------------------------------------------------


class CopyFileInput(BaseModel):
    """A file to copy, such as a template document."""

    file_id: DriveId = Field(
        title="File",
        description="The ID or URL of the file to copy.",
        examples=["https://docs.google.com/document/d/1TmPl4t3Xyz0123456789abcdefghijk/edit"],
    )
    name: str = Field(
        min_length=1, title="Name of the copy", examples=["Contrat {{ event.last_name }}"]
    )
    folder_id: OptionalDriveId = Field(
        default=None,
        title="Folder",
        description="Where the copy goes (ID or URL). Leave empty for the original's folder.",
        examples=["{{ steps.folder.folder_id }}"],
    )


class CopyFile(Action[GoogleConnection, CopyFileInput, DriveFile]):
    """Copy a file under a new name, optionally into another folder."""

    key = "copy_file"
    title = "Copy a file"
    description = "Copy a Google Drive file (a template document, for example) and rename it."

    def run(self, ctx: ActionContext, conn: GoogleConnection, data: CopyFileInput) -> DriveFile:
        drive = session(conn, DRIVE)
        earlier = _made_earlier(ctx, drive)
        if earlier is not None:
            return DriveFile.of(earlier)
        body: dict[str, Any] = {"name": data.name, "appProperties": {_STEP_MARK: _step_mark(ctx)}}
        if data.folder_id:
            body["parents"] = [data.folder_id]
        request = drive.resource("files").copy(
            fileId=data.file_id, body=body, fields=_FILE_FIELDS, supportsAllDrives=True
        )
        return DriveFile.of(drive.execute(ctx, request))


# -- share_file --------------------------------------------------------------------------------


class ShareFileInput(BaseModel):
    """Whom to give access to a file or folder, and how much."""

    file_id: DriveId = Field(
        title="File or folder",
        description="The ID or URL of what to share.",
        examples=["{{ steps.upload.file_id }}"],
    )
    email: str = Field(
        title="Person",
        description="The email address of the Google account to share with.",
        examples=["{{ event.email }}"],
    )
    role: Literal["reader", "commenter", "writer"] = Field(
        default="reader",
        title="Access",
        json_schema_extra=choice_labels(
            {"reader": "Can view", "commenter": "Can view and comment", "writer": "Can edit"}
        ),
        description="reader: can view; commenter: can view and comment; writer: can edit.",
    )
    notify: bool = Field(
        default=True,
        title="Send an email",
        description="Whether Google emails the person a link.",
    )
    message: str | None = Field(
        default=None,
        title="Message",
        description="Added to the email Google sends.",
        examples=["Votre bulletin de souscription"],
    )

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if value.count("@") != 1 or " " in value:
            raise ValueError(f"not an email address: {value!r}")
        return value


class Permission(BaseModel):
    """Access given to one person."""

    permission_id: str = Field(title="Permission ID", examples=["09876543210987654321"])
    role: str = Field(title="Access", examples=["reader"])
    email: str = Field(title="Person", examples=["ada@example.com"])


class ShareFile(Action[GoogleConnection, ShareFileInput, Permission]):
    """Give one person access to a file or folder (sharing again with the same person only
    updates the access)."""

    key = "share_file"
    title = "Share a file"
    description = "Give a person access to a Google Drive file or folder, by email address."
    advanced_inputs = ("notify", "message")

    def run(self, ctx: ActionContext, conn: GoogleConnection, data: ShareFileInput) -> Permission:
        drive = session(conn, DRIVE)
        options: dict[str, Any] = {"sendNotificationEmail": data.notify}
        if data.notify and data.message:
            options["emailMessage"] = data.message  # Drive refuses a message without an email
        request = drive.resource("permissions").create(
            fileId=data.file_id,
            body={"type": "user", "role": data.role, "emailAddress": data.email},
            fields="id,role,emailAddress",
            supportsAllDrives=True,
            **options,
        )
        given = drive.execute(ctx, request)
        if not isinstance(given, dict) or not given.get("id"):
            raise PermanentError("Google Drive answered without a permission ID")
        return Permission(
            permission_id=str(given["id"]),
            role=str(given.get("role", data.role)),
            email=str(given.get("emailAddress", data.email)),
        )


async def check_connection(conn: GoogleConnection) -> ConnectionCheck:
    """Ask Drive who the account is: proves the credentials and the Drive scope."""

    def ask() -> Any:
        drive = session(conn, DRIVE)
        ctx = ActionContext(idempotency_key="connection-check", attempt=1, timeout=20.0)
        return drive.execute(ctx, drive.resource("about").get(fields="user(emailAddress)"))

    try:
        about = await asyncio.to_thread(ask)
    except PermanentError as exc:
        if exc.details.get("status") == 403:
            return ConnectionCheck(
                ok=False,
                message=f"{exc.message}; if the account was connected before Google Drive was "
                "added, connect it again to grant Drive access",
            )
        raise
    user = about.get("user", {}) if isinstance(about, dict) else {}
    return ConnectionCheck(
        ok=True, message=f"Connected to Google as {user.get('emailAddress', 'an unnamed user')}."
    )


connector = Connector(
    key="google_drive",
    title="Google Drive",
    description="Upload, copy and share files, and create folders, in Google Drive.",
    actions=(UploadFile, CreateFolder, CopyFile, ShareFile),
    connection=GoogleConnection,
    oauth=GOOGLE_OAUTH,
    check=check_connection,
    close=aclose_fetch_clients,
    translations={"fr": {**french.CONNECTION, **french.DRIVE}},
)
