"""The connections pages' answers over HTTP, without a browser."""

from __future__ import annotations

from maillon.engine.flows import FlowDocument
from tests.support.web import UIServer, csrf_field, sign_in_client


def test_a_refused_form_asks_for_the_secrets_typed_in_it_again(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        form = client.get("/connections/new", params={"app": "slack"})
        token = csrf_field(form.text)
        refused = client.post(
            "/connections/new?app=slack",
            data={"name": "team/slack", "values.bot_token": "xoxb-1", "_csrf_token": token},
        )
        assert "Not saved: 1 problem" in refused.text
        # The form comes back without the token (secrets are never sent back): it says so.
        assert "xoxb-1" not in refused.text
        assert "Type the secrets again: they never come back to the browser." in refused.text
        # Nothing secret typed: nothing to type again.
        bare = client.post(
            "/connections/new?app=slack", data={"name": "team/slack", "_csrf_token": token}
        )
        assert "Type the secrets again" not in bare.text


def test_a_name_taken_is_said_next_to_the_name(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    ui_server.call(ui_server.runtime.services.connections.create("slack", "s", {"bot_token": "x"}))
    with sign_in_client(ui_server.url) as client:
        form = client.get("/connections/new", params={"app": "slack"})
        refused = client.post(
            "/connections/new?app=slack",
            data={"name": "s", "values.bot_token": "xoxb-2", "_csrf_token": csrf_field(form.text)},
        )
    problem = refused.text.split('id="connection-settings-name-problem"', 1)[1].split("</p>")[0]
    assert "A connection named &#39;s&#39; exists." in problem


def test_a_flow_whose_draft_alone_names_a_connection_is_marked_so(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    services = ui_server.runtime.services
    for name in ("live", "next"):
        ui_server.call(services.connections.create("slack", name, {"bot_token": "x"}))

    def doc(connection: str) -> FlowDocument:
        step = {
            "key": "s",
            "action": "slack.send_message",
            "connection": connection,
            "input": {"channel": "C1", "text": "hi"},
        }
        return FlowDocument.model_validate({"name": "Tell", "steps": [step]})

    flow_id = ui_server.call(services.flows.save(doc("live"))).row.id
    ui_server.call(services.flows.save_draft(doc("next"), flow_id))
    with sign_in_client(ui_server.url) as client:
        drafted = client.get("/connections/next").text
        live = client.get("/connections/live").text
    assert 'Tell</a> <span class="hint">(in its unpublished changes)</span>' in drafted
    assert "(in its unpublished changes)" not in live and "Tell</a>" in live


def test_a_choice_is_offered_in_words_and_saved_as_its_value(ui_server: UIServer) -> None:
    ui_server.set_up_owner()
    with sign_in_client(ui_server.url) as client:
        english = client.get("/connections/new", params={"app": "smtp"}).text
        french = client.get(
            "/connections/new", params={"app": "smtp"}, headers={"Accept-Language": "fr"}
        ).text
        saved = client.post(
            "/connections/new?app=smtp",
            data={
                "name": "relay",
                "values.host": "127.0.0.1",
                "values.security": "none",
                "_csrf_token": csrf_field(english),
            },
        )
    assert '<option value="none">No encryption (port 25, local relays only)</option>' in english
    assert '<option value="none">Sans chiffrement (port 25, relais locaux seulement)</option>' in (
        french
    )
    assert saved.status_code == 303
    view = ui_server.call(ui_server.runtime.services.connections.get("relay"))
    assert view.config["security"] == "none"
