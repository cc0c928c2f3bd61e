"""The flow editor's answers over HTTP, without a browser: a step tried, where the focus goes."""

from __future__ import annotations

from maillon.web.ui.drafts import Draft
from maillon.web.ui.flows import _apply, _focus_after
from tests.support.web import UIServer, csrf_field, sign_in_client


def test_a_step_whose_input_cannot_be_rendered_is_said_to_send_nothing(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    flow_id, _ = ui_server.http_flow("Untested", "http://127.0.0.1:9/", enabled=False)
    with sign_in_client(ui_server.url) as client:
        page = client.get(f"/flows/{flow_id}")
        tried = client.post(
            f"/flows/{flow_id}/test/0",
            data={
                "name": "Untested",
                "trigger_type": "webhook",
                "steps-0-action": "http.send_request",
                "steps-0-key": "notify",
                "steps-0-input-url": "http://127.0.0.1:9/{{ event.nowhere }}",
                "_csrf_token": csrf_field(page.text),
            },
            headers={"HX-Request": "true"},
        )
    assert "The step failed:" in tried.text
    assert "Nothing was sent: the input could not be rendered." in tried.text
    assert "null" not in tried.text


def test_the_focus_goes_to_the_step_added_moved_or_in_place_of_the_one_removed() -> None:
    draft = Draft()
    for _ in range(3):
        before = [step.key for step in draft.steps]
        _apply(draft, "add:http.send_request")
        assert _focus_after("add:http.send_request", before, draft) == len(draft.steps) - 1
    keys = [step.key for step in draft.steps]
    _apply(draft, "up:2")
    assert _focus_after("up:2", keys, draft) == 1
    keys = [step.key for step in draft.steps]
    _apply(draft, "remove:2")
    assert _focus_after("remove:2", keys, draft) == 1  # the last one: the one before it
    keys = [step.key for step in draft.steps]
    _apply(draft, "remove:0")
    assert _focus_after("remove:0", keys, draft) == 0
    assert _focus_after("refresh", [step.key for step in draft.steps], draft) is None


def test_the_picker_says_an_untested_steps_fields_hold_example_values(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    flow_id, _ = ui_server.http_flow("Example", "http://127.0.0.1:9/", enabled=False)
    example = "example values until the step is tested"
    with sign_in_client(ui_server.url) as client:
        page = client.get(f"/flows/{flow_id}")
        assert example in page.text
        step = {
            "name": "Example",
            "trigger_type": "webhook",
            "steps-0-action": "http.send_request",
            "steps-0-key": "notify",
            "steps-0-input-url": "http://127.0.0.1:9/",
            "_csrf_token": csrf_field(page.text),
        }
        tested = client.post(
            f"/flows/{flow_id}/editor",
            data={**step, "steps-0-tested": '{"status": 200, "body": {"id": 7}}'},
            headers={"HX-Request": "true"},
        )
    assert tested.status_code == 200 and example not in tested.text
    assert "steps.notify.body.id" in tested.text


def test_a_warning_the_preview_already_gives_is_not_said_twice(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    flow_id, token = ui_server.http_flow("Twice", "http://127.0.0.1:9/", enabled=False)
    ui_server.deliver(token)  # the sample the editor reads, and a save checks against
    url = "http://127.0.0.1:9/{{ event.nowhere }}"
    saved = ui_server.http_flow("Twice", url, enabled=False, flow_id=flow_id)
    assert saved[0] == flow_id
    with sign_in_client(ui_server.url) as client:
        page = client.get(f"/flows/{flow_id}").text
    assert 'id="preview-steps-0-input-url" class="preview preview-error"' in page
    assert "no field &#39;nowhere&#39;" in page
    assert "the sample event has no field" not in page.lower()


ORDER_HOOK = (
    b"name: Order hook\n"
    b"steps:\n"
    b"  - key: notify\n"
    b"    action: http.send_request\n"
    b"    input: {method: POST, url: 'https://example.com/orders'}\n"
)


def test_the_import_form_imports_its_file_and_says_why_it_refuses_one(
    ui_server: UIServer,
) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        token = csrf_field(client.get("/flows").text)

        def send(content: bytes, **fields: str) -> str:
            """The form as a browser posts it (its file and its CSRF field); the list after."""
            answer = client.post(
                "/flows/import",
                data={"_csrf_token": token, **fields},
                files={"file": ("flows.yaml", content, "application/yaml")},
            )
            assert (answer.status_code, answer.headers["location"]) == (303, "/flows")
            return client.get("/flows").text

        assert "Imported “Order hook”." in send(ORDER_HOOK)
        assert "Choose a YAML file of at most 256 KB." in send(b"# padding\n" * 30_000)
        assert "The file was not imported: line 1" in send(b"name: [")
        assert "The file was not imported: the file holds no flow." in send(b"")

        # A form Litestar cannot read is said to be one, not an address it does not know.
        unread = client.post(
            "/flows/import",
            data={"_csrf_token": token, "file": "text"},
            files={"other": ("other.txt", b"", "text/plain")},
        )
    assert unread.status_code == 400
    assert "This form could not be read: reload its page and send it again." in unread.text
    assert "not one Maillon understands" not in unread.text


def test_a_flow_on_a_schedule_is_created_from_the_new_flow_page(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        page = client.get("/flows/new").text
        assert 'value="schedule"' in page
        made = client.post(
            "/flows/new",
            data={"name": "Hourly", "trigger": "schedule", "_csrf_token": csrf_field(page)},
        )
        assert made.status_code in (302, 303)
        editor = client.get(made.headers["location"]).text
    [view] = ui_server.call(ui_server.runtime.services.flows.all())
    trigger = view.spec.trigger.model_dump()
    assert (trigger["type"], trigger["every"], view.row.enabled) == ("schedule", "1h", False)
    # Its sample is an example tick; ticks are not delivered: nothing to wait for.
    assert "An example tick: each run gets these fields" in editor
    assert "No event yet" not in editor and "Wait for a test event" not in editor
