"""A real headless Chromium for UI tests, and the checks every page gets.

Fixtures (registered for the whole suite):

- ``browser``: one Chromium per test session: Debian's ``/usr/bin/chromium`` (or
  ``CHROMIUM_PATH``), driven by Playwright, never a browser Playwright downloads. Without it
  the tests that need it are skipped with the reason, unless ``REQUIRE_BROWSER=1`` (as in CI),
  where its absence fails them.
- ``new_page``: a factory of pages, each in a fresh context (its own cookies), closed after the
  test: ``page = new_page()`` for one user, a second call for another user side by side.
- ``page``: one such page.

Helpers: :func:`sign_in` through the sign-in form; :func:`check_accessibility`, which runs
axe-core (vendored beside this file) on the page and fails on any serious or critical
violation; :func:`has_no_horizontal_scroll`.

A test of a signed-in page::

    def test_flows_page(page: Page, ui_server: UIServer) -> None:
        ui_server.set_up_owner()
        sign_in(page, ui_server.url)
        page.goto(ui_server.url + "/flows")
        check_accessibility(page)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.accounts import OWNER

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

__all__ = [
    "NewPage",
    "check_accessibility",
    "has_no_horizontal_scroll",
    "screenshot",
    "sign_in",
]

#: Where the README's pictures of the UI live; the browser tests refresh them on request.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# No sandbox (tests run as root); and no look-up or connection leaves the machine:
# --host-resolver-rules is what stops Chromium's background DNS queries.
_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
_AXE = Path(__file__).with_name("axe") / "axe.min.js"

#: ``new_page(width=1280, height=800)``: a page in a fresh browser context.
NewPage = Callable[..., "Page"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that use the browser after all the others.

    Playwright's sync API keeps its event loop running in the test thread from the browser's
    start to the end of the session, and no other event loop can start there meanwhile: an
    async test (anyio, ``asyncio.run``) after the first browser test would fail.
    """
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; skipped (or failed under REQUIRE_BROWSER=1) if absent."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = f"Chromium not found at {CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Open pages, each in its own context (cookies, storage), all closed after the test."""
    contexts: list[Any] = []

    def open_page(width: int = 1280, height: int = 800, locale: str = "en-US") -> Page:
        # The locale sets the browser's Accept-Language, which the pages follow.
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: NewPage) -> Page:
    """A page in a fresh browser context."""
    return new_page()


def sign_in(page: Page, url: str, email: str = OWNER[0], password: str = OWNER[2]) -> None:
    """Sign in through the form at ``url`` and wait for the signed-in page."""
    page.goto(url + "/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def check_accessibility(page: Page) -> None:
    """Fail on any serious or critical axe-core violation on the page as it is now."""
    # evaluate() rather than a <script> tag: the pages' Content-Security-Policy allows no
    # inline script, and evaluate() is not subject to it.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_AXE.read_text())
    violations = page.evaluate(
        """async () => (await axe.run(document)).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    assert not violations, f"{page.url}:\n{json.dumps(violations, indent=2)}"


def has_no_horizontal_scroll(page: Page) -> bool:
    """Whether the page fits its viewport's width (nothing to scroll sideways)."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def screenshot(
    target: Page | Locator, name: str, tmp_dir: Path, *, full_page: bool = False
) -> Path:
    """Take a picture of a page (or of one element) as a test reaches it.

    With ``UPDATE_SCREENSHOTS=1`` it replaces ``docs/screenshots/<name>.png``, the README's
    picture; otherwise it goes to ``tmp_dir``, so that a test run leaves the checkout as it was.
    """
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_dir
    path = folder / f"{name}.png"
    if full_page:
        target.screenshot(path=str(path), full_page=True)  # type: ignore[call-arg]
    else:
        target.screenshot(path=str(path))
    return path
