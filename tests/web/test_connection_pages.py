"""The connections pages' answers over HTTP, without a browser."""

from __future__ import annotations

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
