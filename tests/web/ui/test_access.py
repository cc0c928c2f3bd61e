"""Getting in, in a real browser: set-up, sign-in and its limits, sign-out, CSRF, small screens."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.accounts import OWNER
from tests.support.browser import NewPage, check_accessibility, has_no_horizontal_scroll, sign_in
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

EMAIL, NAME, PASSWORD = OWNER
#: Every UI page this package serves to a signed-in user.
PAGES = ["/", "/settings", "/runs"]


def test_the_first_visit_sets_up_the_owner(page: Page, ui_server: UIServer) -> None:
    page.goto(ui_server.url + "/settings")
    expect(page).to_have_url(ui_server.url + "/setup")
    check_accessibility(page)
    page.get_by_label("Your name").fill(NAME)
    # The browser accepts an address without a dot in its domain; the server does not.
    page.get_by_label("E-mail address").fill("owner@localhost")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the owner account").click()
    expect(page.get_by_role("status")).to_contain_text("Enter an e-mail address such as")
    expect(page.get_by_label("Your name")).to_have_value(NAME)  # kept; the password is not
    expect(page.get_by_label("Password")).to_have_value("")
    check_accessibility(page)
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the owner account").click()
    expect(page).to_have_url(ui_server.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("status")).to_contain_text("Maillon is ready")
    check_accessibility(page)
    # The set-up page is gone for good.
    answer = page.goto(ui_server.url + "/setup")
    assert answer is not None
    assert answer.status == 404
    check_accessibility(page)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_signed_in_user(page: Page, ui_server: UIServer, path: str) -> None:
    ui_server.set_up_owner()
    page.goto(ui_server.url + path)
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    check_accessibility(page)
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(ui_server.url + path)  # back where they were going


def test_wrong_passwords_are_refused_then_the_account_waits(
    page: Page, ui_server: UIServer
) -> None:
    ui_server.set_up_owner()
    page.goto(ui_server.url + "/sign-in")
    for _ in range(5):
        page.get_by_label("E-mail address").fill(EMAIL)
        page.get_by_label("Password").fill("not my password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("status")).to_have_text(
            re.compile("Wrong e-mail address or password")
        )
    check_accessibility(page)
    # Locked now, even with the right password.
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(ui_server.url + "/sign-in") as response:
        page.get_by_role("button", name="Sign in").click()
    assert response.value.status == 429
    expect(page.get_by_role("status")).to_contain_text(
        "Too many failed sign-ins. Try again in 15 minutes."
    )
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_form_posted_without_its_csrf_token_is_refused(page: Page, ui_server: UIServer) -> None:
    owner = ui_server.set_up_owner()
    sign_in(page, ui_server.url)
    # What another site could make a signed-in browser send: a plain form, with the cookies.
    with page.expect_navigation() as navigation:
        page.evaluate(
            """() => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = "/settings/tokens";
                const name = document.createElement("input");
                name.name = "name";
                name.value = "forged";
                form.append(name);
                document.body.append(form);
                form.submit();
            }"""
        )
    response = navigation.value
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    check_accessibility(page)
    assert ui_server.call(ui_server.runtime.services.tokens.list(owner)) == []


def test_signing_out_ends_the_session(new_page: NewPage, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    page = new_page()
    sign_in(page, ui_server.url)
    session = next(c for c in page.context.cookies() if c["name"] == "maillon_session")
    assert session["httpOnly"]
    assert session["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(ui_server.url + "/sign-in")
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")
    # The old cookie, replayed from another browser, opens nothing.
    other = new_page()
    other.context.add_cookies(
        [{"name": "maillon_session", "value": session["value"], "url": ui_server.url}]
    )
    other.goto(ui_server.url + "/settings")
    expect(other).to_have_url(re.compile(r"/sign-in\?next="))
    replay = httpx.get(ui_server.url + "/api/flows", cookies={"maillon_session": session["value"]})
    assert replay.status_code == 401


def test_pages_fit_a_360_pixel_wide_screen(new_page: NewPage, ui_server: UIServer) -> None:
    page = new_page(width=360, height=740)
    page.goto(ui_server.url + "/setup")
    assert has_no_horizontal_scroll(page)
    ui_server.set_up_owner()
    page.goto(ui_server.url + "/sign-in")
    assert has_no_horizontal_scroll(page)
    sign_in(page, ui_server.url)
    # The settings page at its fullest: a token and a member listed, a link shown.
    page.goto(ui_server.url + "/settings")
    page.get_by_label("New token's name").fill("a token with a rather long name for a phone")
    page.get_by_role("button", name="Create token").click()
    page.get_by_label("Name", exact=True).fill("Maximilien Member-de-la-Longue-Lignée")
    page.get_by_label("E-mail address").fill("maximilien.member-de-la-longue-lignee@example.com")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_label("One-time link to choose a password")).to_be_visible()
    for path in [None, *PAGES]:
        if path is not None:
            page.goto(ui_server.url + path)
        assert has_no_horizontal_scroll(page), page.url
        check_accessibility(page)


def test_an_unknown_address_is_a_page_of_the_site(page: Page, ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    sign_in(page, ui_server.url)
    answer = page.goto(ui_server.url + "/no/such/page")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    check_accessibility(page)
    page.get_by_role("link", name="Flows").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Flows")
