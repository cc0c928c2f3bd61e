"""Filter, paths with branches and their steps, a loop and a delay, built in the editor in a real
browser, with the field picker and live previews."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from maillon.connectors.testing import FakeServer
from maillon.engine.control import DelayStep, FilterStep, PathsStep
from maillon.engine.flows import StepSpec
from tests.support.browser import NewPage, check_accessibility, sign_in
from tests.support.web import UIServer

pytestmark = pytest.mark.browser

TRANSACTION = {
    "id": "tx-1",
    "amount": 150000,
    "currency": "EUR",
    "status": "REFUNDED",
    "items": [{"sku": "bond-a"}, {"sku": "bond-b"}],
}


def _open_add(page: Page) -> None:
    """Unfold "Add a step" (folded once the flow has steps)."""
    if page.locator(".add-step details").get_attribute("open") is None:
        page.locator(".add-step summary").click()


def _settled(page: Page) -> None:
    """Wait for htmx to be done with the editor's last request. It wires the new editor's
    inputs (their live previews) when it settles the swap, a timer tick after the new content
    shows: text typed before then would preview nothing."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def _add(page: Page, button: str, to: str | None = None) -> None:
    """Add a step (to the branch ``to``), and wait for the editor to show it."""
    cards = page.locator("section.step")
    count = cards.count()
    _open_add(page)
    if to is not None:
        page.get_by_label("Add it to").select_option(label=to)
    page.get_by_role("button", name=button).click()
    expect(cards).to_have_count(count + 1)
    _settled(page)


def _new_flow(new_page: NewPage, ui_server: UIServer, name: str) -> tuple[Page, str]:
    """The owner signed in, in the editor of a new flow named ``name``; the page, the flow's id."""
    ui_server.set_up_owner()
    page = new_page()
    sign_in(page, ui_server.url)
    page.goto(ui_server.url + "/flows/new")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create and add steps").click()
    return page, page.url.rsplit("/", 1)[1].split("?")[0]


def test_a_filter_paths_with_steps_a_loop_and_a_delay_are_built_in_the_editor(
    new_page: NewPage, ui_server: UIServer, fake_server: FakeServer
) -> None:
    page, flow_id = _new_flow(new_page, ui_server, "Refunds and big tickets")
    # htmx wires swapped-in inputs as it swaps them, not a timer tick later (base.html).
    assert page.evaluate("htmx.config.defaultSettleDelay") == 0
    # A delivery (the flow is off: it is held, and becomes the sample).
    hook_url = page.get_by_label("The flow's URL").input_value()
    assert httpx.post(hook_url, json=TRANSACTION).status_code == 200
    page.reload()
    expect(page.get_by_text("The delivery received")).to_be_visible()

    # A filter: its value picked from the sample, previewed as it is typed.
    _add(page, "Filter: go on only if")
    value = page.locator("#f-steps-0-cond-0-value")
    value.click()
    page.get_by_role("button", name="Insert amount (event.amount)").click()
    expect(value).to_have_value("{{ event.amount }}")
    expect(page.locator("#preview-steps-0-cond-0-value")).to_contain_text("150000")
    page.locator("#f-steps-0-cond-0-op").select_option("greater_than")
    page.locator("#f-steps-0-cond-0-to").fill("100000")

    # Paths: two branches to start with; the first renamed and given a condition.
    _add(page, "Paths: branches with conditions")
    page.locator("#f-steps-1-branch-0-name").fill("refunds")
    page.get_by_role("button", name="Refresh previews").click()
    expect(page.get_by_role("group", name="Branch refunds")).to_be_visible()
    _settled(page)
    page.locator("#f-steps-1-branch-0-cond-0-value").fill("{{ event.status }}")
    expect(page.locator("#preview-steps-1-branch-0-cond-0-value")).to_contain_text("REFUNDED")
    page.locator("#f-steps-1-branch-0-cond-0-to").fill("REFUNDED")

    # A step in the branch "refunds", from the catalog of actions.
    _add(page, "HTTP request: Send an HTTP request", to="Branch paths → refunds")
    expect(page.get_by_text("In branch refunds of paths")).to_be_visible()
    page.locator("#f-steps-2-input-url").fill(fake_server.url + "refunds/{{ event.id }}")
    expect(page.locator("#preview-steps-2-input-url")).to_contain_text("refunds/tx-1")

    # After the paths: an action run for each item of the order, then a delay.
    _add(page, "HTTP request: Send an HTTP request", to="The end of the flow")
    card = page.locator("#step-3")
    card.get_by_text("Advanced").click()
    card.get_by_label("For each item of").fill("{{ event.items }}")
    url = page.locator("#f-steps-3-input-url")
    url.fill(fake_server.url + "rows/")
    url.press("End")
    url.type("{{ item.sku }}")
    expect(page.locator("#preview-steps-3-input-url")).to_contain_text("rows/bond-a")
    _add(page, "Delay: wait")
    page.locator("#f-steps-4-duration").fill("1d")
    check_accessibility(page)

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published: version")).to_be_visible()
    spec = ui_server.call(ui_server.runtime.services.flows.get(flow_id)).spec
    check, paths, rows, wait = spec.steps
    assert isinstance(check, FilterStep) and isinstance(paths, PathsStep)
    assert check.filter.model_dump(exclude_none=True) == {
        "all": [{"value": "{{ event.amount }}", "op": "greater_than", "to": "100000"}]
    }
    assert [b.name for b in paths.paths.branches] == ["refunds", "otherwise"]
    [refund] = paths.paths.branches[0].steps
    assert isinstance(refund, StepSpec) and refund.input["url"].endswith("refunds/{{ event.id }}")
    assert paths.paths.branches[1].when is None and paths.paths.branches[1].steps == []
    assert isinstance(rows, StepSpec) and rows.for_each == "{{ event.items }}"
    assert isinstance(wait, DelayStep) and wait.delay.duration == "1d"

    # Opened again, the editor shows the flow as saved: the branch step in its branch.
    page.reload()
    expect(page.get_by_text("In branch refunds of paths")).to_be_visible()
    expect(page.locator("#f-steps-1-branch-0-cond-0-to")).to_have_value("REFUNDED")


def test_a_mistake_in_a_branch_step_is_shown_next_to_its_input(
    new_page: NewPage, ui_server: UIServer
) -> None:
    page, _ = _new_flow(new_page, ui_server, "Broken branch")
    _add(page, "Paths: branches with conditions")
    _add(page, "HTTP request: Send an HTTP request", to="Branch paths → first")
    page.locator("#f-steps-1-input-url").fill("https://example.com/{{ event.id ")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Not saved: 1 problem")).to_be_visible()
    expect(page.locator("#f-steps-1-input-url-problem")).to_contain_text("template syntax error")


def test_a_branch_renamed_without_saving_takes_its_steps_with_it(
    new_page: NewPage, ui_server: UIServer
) -> None:
    page, flow_id = _new_flow(new_page, ui_server, "Early payers")
    _add(page, "Paths: branches with conditions")

    # Renamed, not saved: "Add it to" offers the branch by its new name, and the step goes there.
    page.locator("#f-steps-0-branch-0-name").fill("early")
    _open_add(page)
    add_to = page.get_by_label("Add it to")
    expect(add_to.get_by_role("option")).to_have_text(
        ["The end of the flow", "Branch paths → early", "Branch paths → otherwise"]
    )
    _add(page, "HTTP request: Send an HTTP request", to="Branch paths → early")
    expect(page.get_by_text("In branch early of paths")).to_be_visible()

    # Renamed again once it holds a step: that step stays in it, and the next one joins it.
    page.locator("#f-steps-0-branch-0-name").fill("late")
    _add(page, "HTTP request: Send an HTTP request", to="Branch paths → late")
    expect(page.get_by_text("In branch late of paths")).to_have_count(2)

    # A choice the form no longer has (a page shown before the branch went) is refused, said,
    # and the step is not put anywhere else.
    _open_add(page)
    page.locator("#f-add_to option[value='paths.late']").evaluate("o => o.value = 'paths.gone'")
    page.get_by_label("Add it to").select_option(label="Branch paths → late")
    page.get_by_role("button", name="HTTP request: Send an HTTP request").click()
    expect(page.locator("#f-add_to-problem")).to_contain_text(
        "The step was not added: the branch “gone” of paths is no longer in the flow."
    )
    expect(page.locator("section.step")).to_have_count(3)
    check_accessibility(page)

    page.locator("#f-steps-1-input-url").fill("https://example.com/a")
    page.locator("#f-steps-2-input-url").fill("https://example.com/b")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    [paths] = ui_server.call(ui_server.runtime.services.flows.get(flow_id)).editing.steps
    assert isinstance(paths, PathsStep)
    late, otherwise = paths.paths.branches
    assert (late.name, otherwise.name) == ("late", "otherwise")
    assert [s.key for s in late.steps] == ["send_request", "send_request_2"]
