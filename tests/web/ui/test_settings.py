"""The settings page in a real browser: users added by the owner, API tokens, one's password."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.accounts import OWNER
from tests.support.browser import NewPage, check_accessibility, sign_in
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

EMAIL, NAME, PASSWORD = OWNER


def test_the_owner_adds_a_member_who_then_signs_in(new_page: NewPage, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    owner = new_page()
    sign_in(owner, ui_server.url)
    owner.goto(ui_server.url + "/settings")
    owner.get_by_label("Name", exact=True).fill("Max Member")
    owner.get_by_label("E-mail address").fill("max@example.com")
    owner.get_by_role("button", name="Add user").click()
    link = owner.get_by_label("One-time link to choose a password").input_value()
    assert link.startswith(ui_server.url + "/set-password/")
    expect(owner.get_by_role("row", name="Max Member")).to_contain_text("link not used yet")
    check_accessibility(owner)

    member = new_page()
    member.goto(link)
    expect(member.get_by_role("heading", level=1)).to_have_text("Choose your password")
    check_accessibility(member)
    member.get_by_label("New password").fill("max's own password")
    member.get_by_role("button", name="Set my password").click()
    expect(member.get_by_role("status")).to_contain_text("Your password is set, Max Member")
    sign_in(member, ui_server.url, "max@example.com", "max's own password")
    expect(member.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(member.locator(".account .who")).to_have_text("Max Member")
    member.goto(ui_server.url + "/settings")
    expect(member.get_by_role("heading", name="Users")).to_have_count(0)  # owner only
    check_accessibility(member)
    # The link worked once.
    answer = member.goto(link)
    assert answer is not None
    assert answer.status == 404


def test_the_owner_removes_a_member_and_their_session_ends(
    new_page: NewPage, ui_server: UIServer
) -> None:
    owner = ui_server.set_up_owner()
    link = ui_server.call(
        ui_server.runtime.services.accounts.add_member(owner, "m@example.com", "Max")
    )
    ui_server.call(ui_server.runtime.services.accounts.set_password_with_link(link.token, "m" * 12))
    member = new_page()
    sign_in(member, ui_server.url, "m@example.com", "m" * 12)
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/settings")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove Max").click()
    expect(page.get_by_role("status")).to_contain_text("User removed")
    expect(page.get_by_role("row", name="Max")).to_have_count(0)
    member.reload()
    expect(member.get_by_role("heading", level=1)).to_have_text("Sign in")


def _new_token(page: Page, server: UIServer, name: str) -> str:
    """Sign in as the owner, make a token named ``name`` in Settings; its value."""
    server.set_up_owner()
    sign_in(page, server.url)
    page.goto(server.url + "/settings")
    page.get_by_label("New token's name").fill(name)
    page.get_by_role("button", name="Create token").click()
    return page.get_by_label("Your new token (shown once)").input_value()


def test_a_token_made_in_the_ui_works_until_revoked(page: Page, ui_server: UIServer) -> None:
    token = _new_token(page, ui_server, "deploy script")
    check_accessibility(page)
    row = page.get_by_role("row").filter(has_text="deploy script")
    expect(row).to_contain_text("never")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(ui_server.url + "/api/flows", headers=bearer).status_code == 200
    page.goto(ui_server.url + "/settings")
    expect(row).to_contain_text("just now")

    # Revoked in place by htmx, which sends the CSRF token in a header read from the cookie.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_request(f"{ui_server.url}/settings/tokens/*/revoke") as request:
        page.get_by_role("button", name="Revoke deploy script").click()
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    assert request.value.headers["x-csrftoken"] == csrf
    expect(page.get_by_role("status")).to_contain_text("Token revoked")
    expect(page.get_by_text("No token yet.")).to_be_visible()
    expect(page.locator("#tokens")).to_be_focused()
    check_accessibility(page)
    assert httpx.get(ui_server.url + "/api/flows", headers=bearer).status_code == 401
    # Shown once: the page, reloaded, has it no more.
    page.reload()
    expect(page.get_by_label("Your new token (shown once)")).to_have_count(0)


def test_the_copy_button_copies_the_new_token(page: Page, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/settings")
    page.get_by_label("New token's name").fill("ci")
    page.get_by_label("New token's name").press("Enter")
    token = page.get_by_label("Your new token (shown once)").input_value()
    page.get_by_role("button", name="Copy").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == token


def test_changing_ones_password(page: Page, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/settings")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password").fill("a brand new password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your current password is not right.")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("a brand new password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed.")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, ui_server.url, EMAIL, "a brand new password")


def test_a_request_that_fails_says_so_where_messages_go(page: Page, ui_server: UIServer) -> None:
    _new_token(page, ui_server, "old script")
    expect(page.get_by_role("button", name="Revoke old script")).to_be_visible()
    # Revoked elsewhere meanwhile: the page's Revoke meets a 404, which htmx does not swap.
    tokens = ui_server.runtime.services.tokens
    [token] = ui_server.call(tokens.list())
    ui_server.call(tokens.revoke(token.id))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke old script").click()
    expect(page.locator("#messages")).to_contain_text(
        "That did not go through: the server answered with an error, or could not be reached."
    )
    check_accessibility(page)
