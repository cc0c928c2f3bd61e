"""Particeep's ``PTP`` request signing, written once for the client, the fake API and the tests.

Every API call except ``GET /ping`` carries two headers::

    DateTime: 2026-05-02T09:15:00Z
    Authorization: PTP:<api_key>:<signature>

    signature = base64( lowercase_hex( HMAC-SHA1(key=api_secret,
                                                 message=api_secret + api_key + DateTime) ) )

Only the date is signed (not the method, path or body), so a signature is only as fresh as its
``DateTime``: Particeep rejects dates too far from its own clock, which is why the header is
recomputed for every request, including retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Generator
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr

__all__ = [
    "DATETIME_FORMAT",
    "PTPAuth",
    "compute_signature",
    "format_datetime",
    "parse_authorization",
    "parse_datetime",
    "sign_headers",
]

#: UTC, whole seconds, a literal ``Z``: the only form the signature is computed over.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SCHEME = "PTP"


def format_datetime(moment: datetime) -> str:
    """Render an aware ``moment`` as Particeep's ``DateTime`` header value."""
    if moment.tzinfo is None:
        # A naive datetime is ambiguous, and a wrong offset means a rejected signature.
        raise ValueError("format_datetime needs a timezone-aware datetime")
    return moment.astimezone(UTC).strftime(DATETIME_FORMAT)


def parse_datetime(value: str) -> datetime:
    """Read a ``DateTime`` header value back; raise ``ValueError`` if it is not in that form."""
    return datetime.strptime(value, DATETIME_FORMAT).replace(tzinfo=UTC)


def compute_signature(api_key: str, api_secret: str, date_time: str) -> str:
    """The ``<signature>`` part of the ``Authorization`` header for this ``DateTime`` value."""
    mac = hmac.new(
        api_secret.encode("utf-8"),
        (api_secret + api_key + date_time).encode("utf-8"),
        hashlib.sha1,  # Particeep's choice, not ours: the signature must match theirs.
    )
    # Particeep base64-encodes the *hex text* of the digest, not the raw digest bytes.
    return base64.b64encode(mac.hexdigest().encode("ascii")).decode("ascii")


def sign_headers(api_key: str, api_secret: str, now: datetime | None = None) -> dict[str, str]:
    """The ``DateTime`` and ``Authorization`` headers for a request made at ``now``."""
    date_time = format_datetime(now or datetime.now(UTC))
    signature = compute_signature(api_key, api_secret, date_time)
    return {"DateTime": date_time, "Authorization": f"{_SCHEME}:{api_key}:{signature}"}


def parse_authorization(value: str) -> tuple[str, str] | None:
    """Split ``PTP:<api_key>:<signature>`` into ``(api_key, signature)``; ``None`` if malformed."""
    # Base64 never contains ':', so the signature is everything after the last colon; the key
    # is what lies between the scheme and that colon.
    scheme, _, rest = value.strip().partition(":")
    api_key, _, signature = rest.rpartition(":")
    if scheme != _SCHEME or not api_key or not signature:
        return None
    return api_key, signature


class PTPAuth(httpx.Auth):
    """An ``httpx`` auth class that signs every request (sync and async clients alike).

    ``clock`` exists for tests that need a fixed or skewed time; it must return an aware
    datetime.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str | SecretStr,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._api_key = api_key
        # Kept as SecretStr so that a repr of the auth object (in a traceback, say) hides it.
        self._api_secret = (
            api_secret if isinstance(api_secret, SecretStr) else SecretStr(api_secret)
        )
        self._clock = clock or (lambda: datetime.now(UTC))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(
            sign_headers(self._api_key, self._api_secret.get_secret_value(), self._clock())
        )
        yield request
