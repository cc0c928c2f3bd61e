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
