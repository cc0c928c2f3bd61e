"""Forms generated from connectors' models: fields from JSON schemas, and values back."""

from __future__ import annotations

from maillon.connectors.google.sheets import AppendRow
from maillon.connectors.slack import SlackConnection
from maillon.connectors.slack.send_message import SendMessage
from maillon.connectors.smtp.connection import SmtpConnection
from maillon.web.ui.assets import templates
from maillon.web.ui.schema import FormField, as_text, form_fields, read_form


def _by_name(fields: list[FormField]) -> dict[str, FormField]:
    return {f.name: f for f in fields}


def test_fields_follow_the_model() -> None:
    fields = _by_name(form_fields(SendMessage.Input.model_json_schema()))
    channel, text, blocks = fields["channel"], fields["text"], fields["blocks"]
    assert (channel.title, channel.required, channel.kind) == ("Channel", True, "text")
    assert channel.example == "C0123456789" and "survives renames" in channel.help
    assert (text.kind, text.required) == ("textarea", False)
    assert blocks.kind == "json"
    assert fields["unfurl_links"].options == ("", "true", "false")

    sheets = _by_name(form_fields(AppendRow.Input.model_json_schema()))
    assert sheets["value_input_option"].options == ("", "USER_ENTERED", "RAW")
    assert sheets["values"].kind == "json"

    slack = _by_name(form_fields(SlackConnection.model_json_schema()))
    assert slack["bot_token"].kind == "secret" and slack["bot_token"].example == ""


def test_values_are_read_back_from_the_form() -> None:
    fields = form_fields(SendMessage.Input.model_json_schema())
    values, problems = read_form(
        fields,
        {
            "s-channel": "#sales",
            "s-text": "{{ event.amount }}",
            "s-blocks": '[{"type": "divider"}]',
            "s-thread_ts": "",
            "s-unfurl_links": "false",
        },
        "s-",
    )
    assert values == {
        "channel": "#sales",
        "text": "{{ event.amount }}",
        "blocks": [{"type": "divider"}],
        "unfurl_links": False,
    }
    assert problems == {}
    # A list may also be one template; broken JSON is said so.
    values, problems = read_form(fields, {"blocks": "{{ steps.a.blocks }}", "text": "x"})
    assert values["blocks"] == "{{ steps.a.blocks }}"
    _, problems = read_form(fields, {"blocks": "[{"})
    assert problems["blocks"].startswith("not valid JSON")
    _, problems = read_form(fields, {"blocks": '[{"text": {{ event.text }}}]'})
    assert problems["blocks"].startswith("a template in a JSON value goes in quotes")
    assert as_text([1, {"a": None}]) == '[\n  1,\n  {\n    "a": null\n  }\n]'
    assert as_text(None) == "" and as_text(True) == "true"


def test_a_secret_is_never_sent_back_to_the_browser() -> None:
    env = templates().to_engine().engine
    macro = env.from_string(
        '{% from "_macros.html" import schema_field %}{{ schema_field(f, value=v, is_set=True) }}'
    )
    [token] = [f for f in form_fields(SlackConnection.model_json_schema()) if f.name == "bot_token"]
    html = macro.render(f=token, v="xoxb-secret")
    assert "xoxb-secret" not in html
    assert 'type="password"' in html and "leave empty to keep" in html
    assert "required" not in html.split("<input", 1)[1].split(">", 1)[0]


def test_a_select_shows_its_default_as_its_option_reads() -> None:
    env = templates().to_engine().engine
    macro = env.from_string(
        '{% from "_macros.html" import schema_field %}{{ schema_field(f, value=v) }}'
    )
    fields = _by_name(form_fields(SmtpConnection.model_json_schema()))
    verify, security = fields["tls_verify"], fields["security"]

    assert '<option value="true" selected>Yes</option>' in macro.render(f=verify, v="")
    assert '<option value="false" selected>No</option>' in macro.render(f=verify, v="false")
    # A choice the connector labels reads as its label; its value stays the choice.
    chosen = '<option value="starttls" selected>STARTTLS (port 587)</option>'
    assert chosen in macro.render(f=security, v="")
    # An optional yes/no input: nothing chosen reads as a dash.
    unfurl = _by_name(form_fields(SendMessage.Input.model_json_schema()))["unfurl_links"]
    html = macro.render(f=unfurl, v="")
    assert '<option value="" selected>—</option>' in html
    assert '<option value="true">Yes</option>' in html
