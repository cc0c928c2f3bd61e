"""What the CRM connectors share (maillon.connectors.crm): URL settings, and refusals read
the same way whichever client received them."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from maillon.connectors.crm import Answer, OptionalUrl, Url, default_explain, one_or_none, refusal
from maillon.connectors.sdk import AccessTokenRejected, PermanentError, TransientError


class Settings(BaseModel):
    base: Url
    proxy: OptionalUrl = None


def test_url_settings_lose_their_trailing_slash_and_must_be_http() -> None:
    assert Settings(base=" https://api.example.com/ ").base == "https://api.example.com"
    assert Settings(base="http://127.0.0.1:8080", proxy="").proxy is None
    with pytest.raises(ValidationError, match="must start with http:// or https://") as refused:
        Settings(base="https://x", proxy="ftp://x")
    assert refused.value.errors()[0]["loc"] == ("proxy",)


def test_a_key_several_records_share_is_refused() -> None:
    assert one_or_none([], "App", "email", "a@x.com") is None
    assert one_or_none(["1"], "App", "email", "a@x.com") == "1"
    with pytest.raises(PermanentError, match=r"App has 2 records with email = 'a@x\.com'"):
        one_or_none(["1", "2"], "App", "email", "a@x.com")


@pytest.mark.parametrize(
    ("status", "headers", "kind", "retry_after"),
    [
        (429, {"Retry-After": "3"}, TransientError, 3.0),
        (503, {}, TransientError, None),
        (408, {}, TransientError, None),
        (401, {}, AccessTokenRejected, None),
        (400, {"Retry-After": "3"}, PermanentError, None),
    ],
)
def test_refusals_by_status(
    status: int, headers: dict[str, str], kind: type[Exception], retry_after: float | None
) -> None:
    error = refusal(
        "App", Answer.of(status, headers, '{"message": "no"}'), "to do it", default_explain
    )
    assert type(error) is kind
    assert getattr(error, "retry_after", None) == retry_after
    assert error.details["status"] == status
    if kind is PermanentError:
        assert error.message == "App refused to do it: no"


def test_an_unreadable_refusal_shows_its_start() -> None:
    error = refusal("App", Answer.of(400, None, "<html>Bad</html>"), "to do it", default_explain)
    assert error.message == "App refused to do it: <html>Bad</html>"
    assert refusal("App", Answer.of(400, None, ""), "x", default_explain).message.endswith(
        "HTTP 400"
    )
