"""Google's failures become transient or permanent errors, over the real client library."""

from __future__ import annotations

import pytest

from maillon.connectors.google import GoogleConnection
from maillon.connectors.google.gmail import SendEmail
from maillon.connectors.sdk import PermanentError, TransientError
from maillon.connectors.testing import Answer, FakeServer
from tests.connectors.google.support import GMAIL_SEND, ctx, google_error
from tests.support.wait import wait_for

MAIL = SendEmail.Input(to="ada@example.com", subject="Hi", text="hi")


@pytest.mark.parametrize(
    ("answer", "error", "retry_after", "words"),
    [
        (
            (
                429,
                google_error(429, "Too many requests", "rateLimitExceeded"),
                {"Retry-After": "7"},
            ),
            TransientError,
            7.0,
            "Too many requests (HTTP 429, rateLimitExceeded)",
        ),
        (
            (500, google_error(500, "Backend Error", "backendError")),
            TransientError,
            None,
            "HTTP 500",
        ),
        ((503, "Service Unavailable"), TransientError, None, "HTTP 503"),
        (
            (403, google_error(403, "User-rate limit exceeded", "userRateLimitExceeded")),
            TransientError,
            None,
            "userRateLimitExceeded",
        ),
        (
            (
                403,
                {
                    "error": {
                        "code": 403,
                        "message": "Quota exceeded for quota metric 'Write requests'",
                        "status": "PERMISSION_DENIED",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "RATE_LIMIT_EXCEEDED",
                            }
                        ],
                    }
                },
                {"Retry-After": "2"},
            ),
            TransientError,
            2.0,
            "RATE_LIMIT_EXCEEDED",
        ),
        (
            (
                403,
                google_error(
                    403,
                    "Request had insufficient authentication scopes.",
                    "insufficientPermissions",
                    "PERMISSION_DENIED",
                ),
            ),
            PermanentError,
            None,
            "denied access: Request had insufficient authentication scopes.",
        ),
        (
            (400, google_error(400, "Invalid To header", "invalidArgument", "INVALID_ARGUMENT")),
            PermanentError,
            None,
            "rejected the request: Invalid To header (HTTP 400, invalidArgument)",
        ),
        (
            (404, google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")),
            PermanentError,
            None,
            "no such resource: Requested entity was not found.",
        ),
    ],
)
def test_http_errors_are_classified(
    google: FakeServer,
    conn: GoogleConnection,
    answer: Answer,
    error: type[TransientError | PermanentError],
    retry_after: float | None,
    words: str,
) -> None:
    google.on("POST", GMAIL_SEND, answer)

    with pytest.raises(error) as caught:
        SendEmail().run(ctx(), conn, MAIL)

    assert words in caught.value.message
    assert caught.value.details["status"] == answer[0]
    if isinstance(caught.value, TransientError):
        assert caught.value.retry_after == retry_after
    # The engine owns retries: the client library sent the request exactly once.
    assert len(google.received("POST", GMAIL_SEND)) == 1


def test_google_status_is_kept_in_the_details(google: FakeServer, conn: GoogleConnection) -> None:
    google.on("POST", GMAIL_SEND, (404, google_error(404, "Not Found", "notFound", "NOT_FOUND")))

    with pytest.raises(PermanentError) as caught:
        SendEmail().run(ctx(), conn, MAIL)

    assert caught.value.details == {
        "status": 404,
        "reasons": ["notFound"],
        "google_status": "NOT_FOUND",
    }


def test_unreachable_api_is_transient(google: FakeServer, conn: GoogleConnection) -> None:
    google.stop()

    with pytest.raises(TransientError, match="could not reach Google"):
        SendEmail().run(ctx(), conn, MAIL)


def test_timeout_is_transient(google: FakeServer, conn: GoogleConnection) -> None:
    google.on("POST", GMAIL_SEND, (200, {"id": "m1", "threadId": "t1"}))
    SendEmail().run(ctx(), conn, MAIL)  # token fetched, connection open
    google.delay = 0.3

    with pytest.raises(TransientError, match="could not reach Google"):
        SendEmail().run(ctx(timeout=0.05), conn, MAIL)

    # Let the slow answer meet its closed socket now, inside this test, and not in a later one.
    wait_for(lambda: google.in_flight == 0, what="the slow answer to be written")
    google.delay = 0
    # The next attempt works, on a fresh connection.
    assert SendEmail().run(ctx(), conn, MAIL).message_id == "m1"
