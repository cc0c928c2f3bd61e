"""parse_retry_after: the one reader of ``Retry-After`` that every connector uses."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from maillon.connectors.sdk import parse_retry_after

#: A fixed "now" for the HTTP-date cases: Sun, 06 Nov 1994 08:48:37 GMT.
NOW = datetime(1994, 11, 6, 8, 48, 37, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),  # clamped: never a negative wait
    ],
)
def test_delta_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


@pytest.mark.parametrize(
    "header",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # the IMF-fixdate of RFC 9110
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 form
        "Sun Nov  6 08:49:37 1994",  # obsolete asctime form, GMT by definition
        "Sun, 06 Nov 1994 09:49:37 +0100",  # a zone other than GMT is still understood
    ],
)
def test_http_dates_are_counted_from_now(header: str) -> None:
    assert parse_retry_after(header, now=NOW) == 60.0


def test_http_date_against_the_clock() -> None:
    header = format_datetime(datetime.fromtimestamp(time.time() + 90, UTC), usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None
    assert 80 < seconds <= 90


def test_a_date_in_the_past_means_now() -> None:
    assert parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize(
    "header", [None, "", "soon", "nan", "inf", "0x10", "Sun, 32 Nov 1994 08:49:37 GMT"]
)
def test_garbage_says_nothing(header: str | None) -> None:
    assert parse_retry_after(header) is None
