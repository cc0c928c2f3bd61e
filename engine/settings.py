"""Configuration, read from ``MAILLON_*`` environment variables (and a ``.env`` file).

The data directory (the SQLite database and the generated secret key) is a per-user folder by
default, as n8n keeps ``~/.n8n``, so that every command finds the same install whatever folder
it is run from; ``MAILLON_DATA_DIR`` puts it elsewhere.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from maillon.connectors.outbound import DEFAULT_DENY
from maillon.engine.i18n import (
    DEFAULT_LOCALE,
    DEFAULT_TIME_ZONE,
    LOCALES,
    known_time_zone,
    supported,
)

__all__ = [
    "LEGACY_DATA_DIR",
    "SECRET_KEY_FILE",
    "Settings",
    "default_data_dir",
    "make_private_dir",
    "usable_cores",
]

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret.key"  # noqa: S105 (a file name, not a secret)
#: Where versions before the per-user default kept their data: relative to the working folder.
LEGACY_DATA_DIR = Path("maillon-data")


def default_data_dir() -> Path:
    """The per-user data directory of the platform.

    ``$XDG_DATA_HOME/maillon`` (``~/.local/share/maillon``) on Linux and other Unixes,
    ``~/Library/Application Support/Maillon`` on macOS, ``%LOCALAPPDATA%\\Maillon`` on Windows.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "Maillon"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Maillon"
    # XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base_dir = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base_dir / "maillon"


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing, readable by its owner only (``0700``):
    it holds the database and the key that decrypts the connections' secrets."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode passes through the umask, which may only take permissions away; a
        # chmod makes it exactly 0700 whatever the umask.
        path.chmod(0o700)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Settings(BaseSettings):
    """Everything an operator can set. Defaults give a working single-process SQLite install."""

    model_config = SettingsConfigDict(env_prefix="MAILLON_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where SQLite and the key live; default: a per-user folder "
        "(~/.local/share/maillon on Linux).",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file maillon.db in the data dir."
    )
    secret_key: str | None = Field(
        None,
        description="Encrypts connection secrets. Generated once into the data dir if unset.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        None, description="Base URL senders use to reach this install (for hook URLs)."
    )
    workers: int = Field(
        1,
        ge=0,
        description="Worker loops of `maillon serve` in each process that executes runs; 0 serves "
        "HTTP only (runs are executed by `maillon worker` processes elsewhere).",
    )
    worker_processes: int = Field(
        default_factory=usable_cores,
        ge=0,
        description="Processes `maillon serve` starts, and restarts after a crash, to execute runs "
        "(default: the number of cores this process may use); 0 executes them in the web "
        "process itself, as do systems without the local sockets the wake-ups use (Windows, "
        "macOS).",
    )
    worker_concurrency: int = Field(64, ge=1, description="Runs one worker executes at once.")
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="Largest hook body accepted.")
    max_body_depth: int = Field(
        64,
        ge=1,
        le=200,
        description="Deepest nesting of objects and lists a hook body may have (refused with "
        "a 400 past it).",
    )
    masked_fields: list[str] = Field(
        default_factory=list,
        description="More request headers and query parameters whose values are masked before "
        'a delivery is stored, as JSON: ["x-partner-key"] (besides Authorization, X-Api-Key, '
        "Api-Key, token, api_key and the other usual ones).",
    )
    source_dedup_window: float = Field(
        86400.0,
        ge=0,
        description="Seconds during which an app's resend of the same entity and content is a "
        "duplicate (app triggers such as Particeep).",
    )
    default_max_attempts: int = Field(
        5, ge=1, description="Attempts per step unless the flow says."
    )
    retry_base_delay: float = Field(2.0, ge=0, description="First retry delay, in seconds.")
    retry_max_delay: float = Field(600.0, ge=0, description="Longest backoff between attempts.")
    step_timeout: float = Field(120.0, gt=0, description="Longest a step may take, in seconds.")
    template_time_budget: float = Field(
        1.0,
        gt=0,
        description="Seconds the templates of one step input (or a trigger's dedup key) may "
        "take to render; past it the step fails with a clear error.",
    )
    template_output_budget: int = Field(
        2_000_000,
        ge=1000,
        description="Characters one step input may render to (measured as JSON), and the "
        "largest value any template may build along the way.",
    )
    lease_seconds: float = Field(
        10.0,
        gt=0,
        description="A claimed run's lease: renewed every third of it while the run executes, "
        "so that the runs of a process that died are taken over by others within this time.",
    )
    max_takeovers: int = Field(
        3,
        ge=1,
        description="Times a run may be claimed again after its lease expired (its worker "
        "died, or could not record a step) before it fails as a poison run.",
    )
    poll_interval: float = Field(
        1.0,
        gt=0,
        description="How often idle workers look at the queue anyway. Runs queued by their own "
        "process wake them at once, and on PostgreSQL so do runs queued by other processes "
        "(NOTIFY); the poll catches a notification lost with a dropped connection.",
    )
    retention_days: float = Field(
        30.0,
        ge=0,
        description="Days to keep the runs that ended well, with their steps and events "
        "(0: forever). A flow may say otherwise.",
    )
    retention_failed_days: float = Field(
        90.0, ge=0, description="Days to keep failed runs (0: forever). A flow may say otherwise."
    )
    retention_interval: float = Field(
        3600.0, gt=0, description="Seconds between two sweeps of what retention lets go."
    )
    pg_notify: bool = Field(
        True,
        description="On PostgreSQL, wake the workers of other processes with NOTIFY when runs "
        "are queued. Turn off behind a transaction-pooling proxy (PgBouncer in transaction "
        "mode), which cannot carry LISTEN: workers then find runs at their poll.",
    )
    alert_poll_interval: float = Field(
        5.0,
        gt=0,
        description="How often each process looks for failure alerts due: a failure is told "
        "within about this long (with the others of the moment).",
    )
    alert_retry_delay: float = Field(
        60.0,
        gt=0,
        description="Seconds before an alert that could not be sent (the channel was "
        "unreachable) is tried again.",
    )
    scheduler: bool = Field(
        True,
        description="Fire schedules (schedule triggers, digest releases) in `maillon serve`; "
        "`maillon worker` fires them with --scheduler. Several schedulers may share a "
        "database: each tick runs once.",
    )
    schedule_sync_interval: float = Field(
        5.0,
        gt=0,
        description="How often a scheduler reads the flows' schedules again: how long a change "
        "made in another process may take to reach it (its own process tells it at once).",
    )
    schedule_grace: float = Field(
        60.0,
        ge=0,
        description="Seconds a tick may be late and still run; a later one is missed, and the "
        "flow's `missed` policy applies.",
    )
    google_client_id: str | None = Field(
        None,
        description="OAuth client for connecting Google accounts (unless a connection has one).",
    )
    google_client_secret: SecretStr | None = None
    oauth_clients: dict[str, dict[str, SecretStr]] = Field(
        default_factory=dict,
        description="OAuth clients by app, as JSON: "
        '{"hubspot": {"client_id": "...", "client_secret": "..."}} (connections may name their '
        "own instead).",
    )
    session_lifetime: float = Field(
        7 * 86400.0, gt=0, description="Seconds a UI sign-in lasts before it must be renewed."
    )
    secure_cookies: bool | None = Field(
        None,
        description="Mark the UI's cookies Secure (sent over HTTPS only). Default: when the "
        "public URL is https. Force it on behind a proxy that terminates TLS while the public "
        "URL is unset.",
    )
    default_locale: str = Field(
        DEFAULT_LOCALE,
        description="The UI's language for a user who chose none and whose browser asks for none "
        "Maillon speaks: " + ", ".join(LOCALES) + "; and the language in which runs' records "
        "(why a run failed, was filtered or cancelled) are written.",
    )
    default_time_zone: str = Field(
        DEFAULT_TIME_ZONE,
        description="The time zone the UI shows times in for a user who chose none (an IANA "
        "name such as Europe/Paris).",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text",
        description="text for a terminal; json: one object per line (time, level, logger, "
        "message, and the request, run, event and flow ids) for a log collector.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token that /metrics asks for; unset, /metrics is off (404) unless "
        "metrics_port serves it.",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve /metrics without a token on this port of the listening host, apart "
        "from the app (for a scraper on a private network).",
    )
    ready_max_queue_age: float = Field(
        300.0,
        gt=0,
        description="/readyz fails when the oldest queued run has waited longer than this "
        "many seconds (the workers are not keeping up, or none is running).",
    )
    request_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a client has to send a whole request (headers and body) once "
        "it has connected or started one; a slower one is disconnected.",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request head (request line and headers) accepted; past it 431.",
    )
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="Seconds an idle keep-alive connection stays open."
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="Connections and requests served at once; past it new requests get 503.",
    )
    token_failures_per_client: int = Field(
        20,
        ge=1,
        description="Wrong API tokens a client address may send within the limit window "
        "before its API calls get 429.",
    )
    unknown_hooks_per_client: int = Field(
        100,
        ge=1,
        description="Requests to unknown hook URLs a client address may send within the "
        "limit window before its hook requests get 429.",
    )
    outbound_allow: list[str] = Field(
        default_factory=list,
        description="Hosts and networks the HTTP action may call, as JSON "
        '(["api.example.com", "10.1.0.0/16"]); empty: every host not denied.',
    )
    outbound_deny: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DENY),
        description="Hosts and networks the HTTP action never calls, checked after DNS "
        "resolution and on every redirect; default: the cloud metadata addresses.",
    )
    limit_window: float = Field(
        900.0, gt=0, description="Seconds the per-client failure counts cover."
    )

    @field_validator("default_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if known_time_zone(value) is None:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Paris")
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        found = supported(value)
        if found is None:
            raise ValueError(f"unknown language {value!r}: use one of {', '.join(LOCALES)}")
        return found

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'maillon.db').resolve()}"

    @property
    def data_dir_is_default(self) -> bool:
        """Whether the data directory is the per-user default (``MAILLON_DATA_DIR`` unset)."""
        return "data_dir" not in self.model_fields_set

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when the database is SQLite (``None`` for a server database)."""
        url = self.resolved_database_url
        if not url.startswith("sqlite"):
            return None
        path = url.split("///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)

    @property
    def key_file(self) -> Path | None:
        """The file the secret key is kept in, unless ``MAILLON_SECRET_KEY`` gives it."""
        return None if self.secret_key else self.data_dir / SECRET_KEY_FILE

    def legacy_data_dir(self) -> Path | None:
        """A ``./maillon-data`` folder that an older version filled, when this install does
        not use it: the default data directory has no database while that folder has one.

        Its data is not moved: the operator decides (set ``MAILLON_DATA_DIR``, or move it).
        """
        if not self.data_dir_is_default or self.database_url:
            return None
        old = LEGACY_DATA_DIR.resolve()
        if old == self.data_dir.resolve() or not (old / "maillon.db").exists():
            return None
        return None if (self.data_dir / "maillon.db").exists() else old

    @property
    def base_url(self) -> str:
        """Public base URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def oauth_client(self, app: str) -> tuple[str | None, str | None]:
        """The OAuth client (id, secret) configured for ``app``, if any."""
        given = self.oauth_clients.get(app, {})
        client_id, secret = given.get("client_id"), given.get("client_secret")
        if app == "google":
            client_id = client_id or (
                SecretStr(self.google_client_id) if self.google_client_id else None
            )
            secret = secret or self.google_client_secret
        return (
            client_id.get_secret_value() if client_id else None,
            secret.get_secret_value() if secret else None,
        )

    @staticmethod
    def oauth_client_hint(app: str) -> str:
        """Where an operator configures the OAuth client of ``app``."""
        if app == "google":
            return "MAILLON_GOOGLE_CLIENT_ID and MAILLON_GOOGLE_CLIENT_SECRET"
        return f'MAILLON_OAUTH_CLIENTS=\'{{"{app}": {{"client_id": ..., "client_secret": ...}}}}\''

    @property
    def cookies_secure(self) -> bool:
        """Whether the UI's cookies carry ``Secure``: as set, else when the public URL is https."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.base_url.startswith("https://")

    @cached_property
    def encryption_key(self) -> str:
        """The secret key: from the environment, else from the data dir, else generated there."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        if path.exists():
            return path.read_text().strip()
        make_private_dir(self.data_dir)
        key = secrets.token_urlsafe(32)
        # O_EXCL: two processes starting together must not write two different keys.
        try:
            with path.open("x") as f:
                f.write(key + "\n")
            path.chmod(0o600)
        except FileExistsError:
            return path.read_text().strip()
        log.warning(
            "generated a new secret key in %s: back it up; without it, stored connection "
            "secrets cannot be decrypted",
            path,
        )
        return key
