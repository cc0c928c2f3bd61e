"""Connections on SQLite and PostgreSQL: what a person deciding about one sees (its flows, its
last test, its app's registrations), problems tied to their inputs, and emptied settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from maillon.connectors.base import AppTrigger, Connection, ConnectionCheck, Connector
from maillon.connectors.errors import PermanentError
from maillon.connectors.google.gmail import connector as gmail
from maillon.connectors.google.sheets import connector as sheets
from maillon.connectors.http import connector as http
from maillon.connectors.hubspot import connector as hubspot
from maillon.connectors.registry import Registry
from maillon.connectors.slack import connector as slack
from maillon.engine.errors import Conflict, Invalid
from maillon.engine.flows import FlowDocument, FlowValidationError
from maillon.engine.models import SubscriptionStatus
from maillon.engine.redaction import MASK
from maillon.engine.runtime import Runtime
from maillon.engine.settings import Settings
from tests.support.probe import probe
from tests.support.services import Blocking


class KeyedConnection(Connection):
    api_key: SecretStr
    region: str = "eu"
    note: str | None = None


async def _check(conn: KeyedConnection) -> ConnectionCheck:
    key = conn.api_key.get_secret_value()
    if key == "good":
        return ConnectionCheck(ok=True, message="the key works")
    if key == "untestable":
        return ConnectionCheck(ok=None, message="nothing to ask without a side effect")
    raise PermanentError("the key was refused")


keyed = Connector(key="keyed", title="Keyed", actions=(), connection=KeyedConnection, check=_check)


class ShopConnection(Connection):
    label: str = ""


class Orders(AppTrigger[ShopConnection]):
    key = "orders"
    title = "Orders"

    async def subscribe(self, conn: ShopConnection, event: str, url: str) -> None:
        if event == "order_refused":
            raise PermanentError("the shop allows 5 webhooks per event")

    async def unsubscribe(self, conn: ShopConnection, event: str, url: str) -> None:
        return None


shop = Connector(
    key="shop", title="Shop", actions=(), connection=ShopConnection, triggers=(Orders,)
)


@pytest.fixture
def services(make_settings: Callable[..., Settings]) -> Iterator[Blocking]:
    rt = Runtime(
        make_settings(public_url="https://maillon.example.com"),
        registry=Registry([probe, keyed, shop, gmail, sheets]),
    )
    rt.open()
    yield Blocking(rt.services)
    rt.close()


def _flow(services: Blocking, name: str, doc: dict[str, object]) -> str:
    steps = [{"key": "s", "action": "probe.send_echo", "connection": "p1", "input": {"text": "x"}}]
    flow = FlowDocument.model_validate({"name": name, "steps": steps, **doc})
    return str(services.flows.save(flow).row.id)


def test_a_connection_shows_its_flows_its_last_test_and_its_registrations(
    services: Blocking,
) -> None:
    services.connections.create("probe", "p1", {"label": "P"})
    services.connections.create("shop", "shop-1", {})
    services.connections.create("keyed", "k1", {"api_key": "good"})
    trigger = {"type": "shop.orders", "connection": "shop-1"}
    created = _flow(services, "orders in", {"trigger": {**trigger, "event": "order_created"}})
    refused = _flow(services, "b: refused", {"trigger": {**trigger, "event": "order_refused"}})

    listed = {v.row.name: v for v in services.connections.all()}

    assert [(f.name, f.enabled) for f in listed["p1"].used_by] == [
        ("b: refused", True),
        ("orders in", True),
    ]
    assert [f.id for f in listed["shop-1"].used_by] == [refused, created]
    assert listed["k1"].used_by == () and listed["k1"].last_check is None
    shop_view = listed["shop-1"]
    assert shop_view.hook_prefix is not None
    assert shop_view.hook_prefix.startswith("https://maillon.example.com/hooks/shop/")
    registered = {r.event: r for r in shop_view.registrations}
    assert registered["order_created"].status == SubscriptionStatus.REGISTERED
    assert registered["order_created"].url == shop_view.hook_prefix + "order_created"
    assert registered["order_refused"].status == SubscriptionStatus.FAILED
    assert registered["order_refused"].error == "the shop allows 5 webhooks per event"
    assert services.connections.get("shop-1").registrations == shop_view.registrations
    assert listed["p1"].registrations == () and listed["p1"].hook_prefix is None


def test_the_last_test_is_kept_and_flagged_once_the_connection_changes(
    services: Blocking,
) -> None:
    services.connections.create("keyed", "k1", {"api_key": "good"})

    passed = services.connections.test("k1")

    assert (passed.ok, passed.message, passed.stale) == (True, "the key works", False)
    view = services.connections.get("k1")
    assert view.last_check == passed
    assert view.row.updated_at < passed.at  # a test is not a change

    services.connections.update("k1", {"api_key": "bad"})
    stale = services.connections.get("k1").last_check
    assert stale is not None and stale.ok and stale.stale

    failed = services.connections.test("k1")
    assert (failed.ok, failed.message) == (False, "the key was refused")
    assert services.connections.get("k1").last_check == failed

    # A test that could ask nothing is kept as such, neither passed nor failed.
    services.connections.update("k1", {"api_key": "untestable"})
    services.connections.test("k1")
    untested = services.connections.get("k1").last_check
    assert untested is not None and untested.ok is None and not untested.stale

    # An app without a test says so, and nothing is kept.
    services.connections.create("probe", "p1", {})
    said = services.connections.test("p1")
    assert not said.ok and said.message == "probe offers no connection test"
    assert services.connections.get("p1").last_check is None


def test_deleting_a_connection_in_use_names_every_flow(services: Blocking) -> None:
    services.connections.create("probe", "p1", {})
    _flow(services, "first", {})
    _flow(services, "second", {})

    with pytest.raises(Conflict) as refused:
        services.connections.delete("p1")

    assert str(refused.value) == (
        "flows 'first', 'second' use connection 'p1': change them to use another connection, "
        "or delete them, first"
    )
    with pytest.raises(Conflict, match="used by flows: keep its name"):
        services.connections.update("p1", {}, name="p2")


def test_a_connection_only_a_draft_names_is_in_use(services: Blocking) -> None:
    services.connections.create("probe", "p1", {})
    services.connections.create("probe", "p2", {})
    flow_id = _flow(services, "first", {})
    steps = [{"key": "s", "action": "probe.send_echo", "connection": "p2", "input": {"text": "x"}}]
    draft = FlowDocument.model_validate({"name": "first", "steps": steps})
    services.flows.save_draft(draft, flow_id)

    # Publishing the draft needs p2: deleting it would leave a draft that cannot be published.
    with pytest.raises(Conflict, match="flow 'first'"):
        services.connections.delete("p2")
    [use] = services.connections.get("p2").used_by
    assert (use.name, use.draft_only) == ("first", True)
    [live] = services.connections.get("p1").used_by
    assert (live.name, live.draft_only) == ("first", False)
    services.flows.discard_draft(flow_id)
    services.connections.delete("p2")


def test_problems_are_tied_to_the_inputs_they_concern(services: Blocking) -> None:
    with pytest.raises(Invalid) as refused:
        services.connections.create("keyed", "  ", {"region": 3, "extra": "x"})

    assert refused.value.fields == {
        "name": "give the connection a name, e.g. team-slack",
        "values.api_key": "Field required",
        "values.region": "Input should be a valid string",
        "values.extra": "keyed connections have no field 'extra'",
    }
    # A field the app does not have comes with the fields it has.
    assert refused.value.general == ["the fields of keyed connections are: api_key, region, note"]
    assert "values.api_key: Field required" in refused.value.problems

    # A rule about the model as a whole concerns no single input; pydantic's prefix is gone.
    with pytest.raises(Invalid) as both:
        services.connections.create("google", "g", {"client_id": "c", "service_account_json": "{}"})
    assert both.value.general == [
        "configure either an OAuth user (client_id, client_secret, refresh_token) or a service "
        "account (service_account_json), not both"
    ]
    for name in ("a/b", "tab\there", "x" * 201):
        with pytest.raises(Invalid) as bad_name:
            services.connections.create("probe", name, {})
        assert list(bad_name.value.fields) == ["name"]
    assert services.connections.create("probe", "  spaced  ", {}).row.name == "spaced"


def test_an_update_may_empty_a_setting_or_remove_a_secret(services: Blocking) -> None:
    services.connections.create("keyed", "k1", {"api_key": "good", "region": "us", "note": "n"})

    view = services.connections.update("k1", {}, unset=["region", "note"])

    assert view.config == {}
    assert services.connections.values("k1") == {"api_key": "good"}
    with pytest.raises(Invalid) as refused:
        services.connections.update("k1", {}, unset=["api_key"])
    assert refused.value.fields == {"values.api_key": "Field required"}
    assert services.connections.values("k1") == {"api_key": "good"}


def test_each_kind_of_connection_is_named_for_people(services: Blocking) -> None:
    apps = {a.kind: a for a in services.connections.apps()}

    # One Google account serves Gmail and Sheets: the kind is named by its model.
    assert apps["google"].title == "Google"
    assert apps["google"].connectors == ("Gmail", "Google Sheets")
    assert apps["google"].oauth is not None and apps["google"].testable
    assert (apps["keyed"].title, apps["keyed"].testable) == ("Keyed", True)
    assert apps["shop"].sends_events and not apps["keyed"].sends_events
    assert [a.title for a in services.connections.apps()] == sorted(a.title for a in apps.values())
    with pytest.raises(Invalid, match="unknown app 'nope'"):
        services.connections.app("nope")


# -- where credentials go ----------------------------------------------------------------------


@pytest.fixture
def apps(make_settings: Callable[..., Settings]) -> Iterator[Blocking]:
    rt = Runtime(
        make_settings(oauth_clients={"hubspot": {"client_id": "cid", "client_secret": "csec"}}),
        registry=Registry([http, slack, hubspot]),
    )
    rt.open()
    yield Blocking(rt.services)
    rt.close()


def test_moving_a_connection_elsewhere_needs_its_secrets_again(apps: Blocking) -> None:
    # A PATCH of base_url alone sent the stored bearer token to any host.
    apps.connections.create(
        "http", "api", {"base_url": "https://api.example.com/", "bearer_token": "tok-123456"}
    )
    with pytest.raises(Invalid) as refused:
        apps.connections.update("api", {"base_url": "https://evil.example.net/"})
    assert "values.bearer_token" in refused.value.fields
    with pytest.raises(Invalid):
        apps.connections.update("api", {}, unset=["base_url"])
    # Other settings change freely; with the secret given again, so does the base URL.
    apps.connections.update("api", {"headers": {"Accept": "application/json"}})
    moved = apps.connections.update(
        "api", {"base_url": "https://api2.example.com/", "bearer_token": "tok-123456"}
    )
    assert moved.config["base_url"] == "https://api2.example.com/"
    assert apps.connections.values("api")["bearer_token"] == "tok-123456"
    apps.connections.create("slack", "hook", {"webhook_url": "https://hooks.slack.com/T/B/x"})
    apps.connections.update("hook", {"webhook_url": "https://hooks.slack.com/T/B/y"})


@pytest.mark.parametrize(
    ("app", "values", "field"),
    [
        ("slack", {"webhook_url": "htp://hooks.slack.com/T/B/x"}, "values.webhook_url"),
        ("slack", {"base_url": "https://"}, "values.base_url"),
        ("http", {"base_url": "https://api.example.com:port/"}, "values.base_url"),
        ("http", {"test_url": "ftp://files.example.com/"}, "values.test_url"),
    ],
)
def test_url_fields_are_checked_when_saved(
    apps: Blocking, app: str, values: dict[str, str], field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        apps.connections.create(app, "c", values)
    assert field in refused.value.fields
    assert "htp://" not in str(refused.value)


def test_a_password_in_a_url_is_kept_as_a_secret(apps: Blocking) -> None:
    view = apps.connections.create(
        "http", "api", {"base_url": "https://me:pw-s3cret@api.example.com/"}
    )
    assert view.config["base_url"] == "https://me@api.example.com/"
    assert "base_url#password" in view.secrets_set
    assert "pw-s3cret" not in repr(apps.connections.all())
    assert apps.connections.values("api")["base_url"] == "https://me:pw-s3cret@api.example.com/"
    # Given again without a password, the URL has none.
    apps.connections.update("api", {"base_url": "https://me@api.example.com/"})
    assert apps.connections.values("api")["base_url"] == "https://me@api.example.com/"


def test_an_oauth_start_with_a_url_of_ones_own_needs_the_client_secret(apps: Blocking) -> None:
    # The configured client secret was posted to whatever token URL the request chose.
    with pytest.raises(Invalid, match="client_secret in the same request"):
        apps.oauth.start("hubspot", "crm", {"token_url": "https://evil.example.net/token"})
    consent = apps.oauth.start(
        "hubspot",
        "crm",
        {"token_url": "https://sso.example.com/token", "client_id": "mine", "client_secret": "x1"},
    )
    assert consent.authorize_url.startswith("https://")
    assert apps.oauth.start("hubspot", "crm", {}).authorize_url


# -- a flow's secret inputs, sent through a connection ---------------------------------------

TOKEN = "INPUTSECRETBEARER5555"


def _sealed_in(rt: Runtime, flow_id: str) -> list[bool]:
    """Whether the flow's definition, its draft, then each kept version holds a sealed value."""
    with rt.db.connect() as conn:
        row = conn.execute(
            text("SELECT definition, draft FROM flows WHERE id = :id"), {"id": flow_id}
        ).one()
        versions = conn.execute(
            text("SELECT definition FROM flow_versions WHERE flow_id = :id ORDER BY version"),
            {"id": flow_id},
        ).scalars()
        return ["$sealed" in (t or "") for t in (row.definition, row.draft, *versions)]


def _call(
    connection: str, url: str = "/orders", name: str | None = None, **more: str
) -> FlowDocument:
    step = {
        "key": "call",
        "action": "http.send_request",
        "connection": connection,
        "input": {"url": url, **more},
    }
    return FlowDocument.model_validate({"name": name or f"via {connection}", "steps": [step]})


def test_moving_a_connection_drops_the_secret_inputs_its_steps_would_send_there(
    make_settings: Callable[..., Settings],
) -> None:
    # A connection without secrets of its own changed its base URL freely, and every step
    # sending a relative URL there sent its sealed bearer token to the new host.
    rt = Runtime(make_settings(), registry=Registry([http]))
    rt.open()
    try:
        apps = Blocking(rt.services)
        for name in ("api", "other"):
            apps.connections.create("http", name, {"base_url": f"https://{name}.example.com/"})
        flow = apps.flows.save(_call("api", bearer_token=TOKEN)).row.id
        apps.flows.save(_call("api", method="POST", bearer_token=TOKEN), flow)  # version 2
        apps.flows.save_draft(_call("api", "/draft", bearer_token=TOKEN), flow)
        elsewhere = apps.flows.save(_call("other", bearer_token=TOKEN)).row.id
        assert _sealed_in(rt, flow) == [True, True, True, True]

        # Other settings change and nothing is dropped.
        kept = apps.connections.update("api", {"headers": {"Accept": "application/json"}})
        assert _sealed_in(rt, flow) == [True, True, True, True]
        assert kept.secret_inputs_dropped == ()

        moved = apps.connections.update("api", {"base_url": "https://evil.example.net/"})
        # The published version, the draft, and the versions a replay runs: all dropped; the
        # save says in which flows, to give them again there.
        assert _sealed_in(rt, flow) == [False, False, False, False]
        assert [f.id for f in moved.secret_inputs_dropped] == [flow]
        assert moved.older_versions_dropped == ()
        assert _sealed_in(rt, elsewhere) == [True, False, True]
        shown = apps.flows.get(flow).editing.model_dump(mode="json", exclude_none=True)
        assert shown["steps"][0]["input"]["bearer_token"] == MASK
        with pytest.raises(FlowValidationError) as refused:
            apps.flows.save_draft(FlowDocument.model_validate(shown), flow)
        assert (
            "steps[0] (call).input.bearer_token: give the secret input again: it was dropped "
            "when connection 'api' changed base_url, as it would have been sent there"
        ) in str(refused.value)
        # Given again, it goes where the step now sends it.
        shown["steps"][0]["input"]["bearer_token"] = "a-new-token"
        apps.flows.save(FlowDocument.model_validate(shown), flow)
        assert _sealed_in(rt, flow)[0]

        # Once only an old version names a connection, it may be renamed, and another saved
        # under its name: a replay of that version would send the token there.
        apps.flows.save(_call("api", name="via other"), elsewhere)
        assert _sealed_in(rt, elsewhere) == [False, False, True, False]
        apps.connections.update("other", {}, name="renamed")
        created = apps.connections.create(
            "http", "other", {"base_url": "https://evil.example.net/"}
        )
        assert _sealed_in(rt, elsewhere) == [False, False, False, False]
        # Only an old version held them: nothing to give again in the flow, but its runs of
        # that version replay only with the current one now.
        assert created.secret_inputs_dropped == ()
        assert [f.name for f in created.older_versions_dropped] == ["via other"]
    finally:
        rt.close()


@pytest.mark.parametrize("name", [".", "..", "01a2f3e4-5b6c-7d8e-9f01-23456789abcd"])
def test_a_name_that_would_reach_something_else_is_refused(services: Blocking, name: str) -> None:
    with pytest.raises(Invalid) as refused:
        services.connections.create("probe", name, {"label": "P"})
    assert refused.value.fields == {"name": "a name cannot be “.”, “..” or shaped like an id"}
