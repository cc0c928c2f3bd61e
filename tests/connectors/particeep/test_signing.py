from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from maillon.connectors.particeep.signing import (
    PTPAuth,
    compute_signature,
    format_datetime,
    parse_authorization,
    sign_headers,
)
from maillon.connectors.testing import FakeServer

KEY, SECRET, DATE = "my-api-key", "my-api-secret", "2026-05-02T09:15:00Z"
# The documented formula evaluated outside Python (openssl dgst -sha1 -hmac, then base64) and
# frozen here, so that one mistake made in both the code and the test cannot slip through.
GOLDEN = "M2M1MDdlMGI5YTVjMzdlZmUwMDY2MmM2MDBmYmY4ODE5OGNlNzYwNw=="


def documented_signature(api_key: str, api_secret: str, date_time: str) -> str:
    """base64( lowercase_hex( HMAC-SHA1(key=secret, message=secret + key + DateTime) ) )."""
    digest = hmac.digest(api_secret.encode(), (api_secret + api_key + date_time).encode(), "sha1")
    return binascii.b2a_base64(digest.hex().encode(), newline=False).decode()


def test_signature_follows_the_documented_formula() -> None:
    assert compute_signature(KEY, SECRET, DATE) == documented_signature(KEY, SECRET, DATE)
    assert compute_signature(KEY, SECRET, DATE) == GOLDEN


def test_the_signature_is_base64_of_the_lowercase_hex_text() -> None:
    decoded = base64.b64decode(compute_signature(KEY, SECRET, DATE)).decode()
    assert len(decoded) == 2 * hashlib.sha1().digest_size
    assert decoded == decoded.lower()
    int(decoded, 16)  # hex digits only


def test_sign_headers_use_utc_whole_seconds() -> None:
    paris = timezone(timedelta(hours=2))
    headers = sign_headers(KEY, SECRET, datetime(2026, 5, 2, 11, 15, 0, 987654, tzinfo=paris))
    assert headers["DateTime"] == DATE
    assert headers["Authorization"] == f"PTP:{KEY}:{GOLDEN}"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2026, 5, 2, 9, 15))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"PTP:{KEY}:{GOLDEN}", (KEY, GOLDEN)),
        ("PTP:key:with:colons:sig", ("key:with:colons", "sig")),
        (f"Bearer {GOLDEN}", None),
        ("PTP::sig", None),
        ("PTP:key:", None),
    ],
)
def test_parse_authorization(value: str, expected: tuple[str, str] | None) -> None:
    assert parse_authorization(value) == expected


def test_ptp_auth_signs_each_request_on_the_wire(fake_server: FakeServer) -> None:
    fake_server.on("GET", "/v1/webhook/all", (200, []))
    clock = iter([datetime(2026, 5, 2, 9, 15, tzinfo=UTC), datetime(2026, 5, 2, 9, 16, tzinfo=UTC)])
    with httpx.Client(
        base_url=fake_server.url + "v1", auth=PTPAuth(KEY, SECRET, clock=lambda: next(clock))
    ) as http:
        http.get("/webhook/all")
        http.get("/webhook/all")
    first, second = fake_server.received("GET", "/v1/webhook/all")
    assert first.headers["datetime"] == DATE
    assert first.headers["authorization"] == f"PTP:{KEY}:{GOLDEN}"
    # A fresh DateTime and signature per request: a signature only vouches for its date.
    assert second.headers["datetime"] == "2026-05-02T09:16:00Z"
    assert (
        second.headers["authorization"]
        == f"PTP:{KEY}:{documented_signature(KEY, SECRET, '2026-05-02T09:16:00Z')}"
    )


def test_ptp_auth_hides_the_secret_in_its_repr() -> None:
    assert SECRET not in repr(vars(PTPAuth(KEY, SECRET)))
