"""The seed's CRM flows as shipped in examples/, one per CRM: Particeep posts a new user, then a
transaction by that user, to a served Maillon; the fake CRM (a real socket, reached through the
connector's real client) sees the contact upserted by email and the deal linked to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.particeep.entities import make_transaction, make_user
from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.dynamics import _api as dynamics_api
from maillon.connectors.testing import FakeServer, Recorded
from maillon.engine.flows import load_yaml
from maillon.engine.settings import Settings
from tests.support.server import serve_at_public_url
from tests.support.services import Blocking
from tests.support.tls import Cert

EXAMPLES = Path(__file__).parents[2] / "examples"
SF = "/services/data/v62.0"
GUID = "00000000-0000-0000-0000-00000000c0de"


@dataclass(frozen=True)
class Crm:
    """One CRM's part in the test: its example, its connection, the fake's script, and where
    the deal lands."""

    app: str
    connection: str
    example: str
    values: Callable[[FakeServer], dict[str, Any]]
    script: Callable[[FakeServer, dict[str, Any]], None]
    #: The call that writes the user's contact (method, path), given the user.
    contact: Callable[[dict[str, Any]], tuple[str, str]]
    deal: tuple[str, str]


def _salesforce(crm: FakeServer, user: dict[str, Any]) -> None:
    crm.on(
        "GET",
        f"{SF}/query/",
        (200, {"totalSize": 0, "done": True, "records": []}),
        (200, {"totalSize": 1, "done": True, "records": [{"Id": "003A"}]}),
    )
    crm.on("POST", f"{SF}/sobjects/Contact/", (201, {"id": "003A", "success": True}))
    crm.on("PATCH", f"{SF}/sobjects/Contact/003A", (204, b""))
    # The session ended before the opportunity: the engine refreshes it and tries again.
    crm.on(
        "POST",
        f"{SF}/sobjects/Opportunity/",
        (401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        (201, {"id": "006B", "success": True}),
    )
    crm.on(
        "POST",
        "/services/oauth2/token",
        (200, {"access_token": "00D!fresh", "instance_url": crm.url.rstrip("/")}),
    )


def _hubspot(crm: FakeServer, user: dict[str, Any]) -> None:
    def upserted(new: bool) -> tuple[int, dict[str, Any]]:
        result = {"id": "51", "new": new, "properties": {}, "createdAt": "2026-05-02T09:15:00Z"}
        result.update(updatedAt="2026-05-02T09:15:00Z", archived=False)
        return 200, {"status": "COMPLETE", "results": [result], "startedAt": result["createdAt"]}

    crm.on("POST", "/crm/v3/objects/contacts/batch/upsert", upserted(True), upserted(False))
    crm.on(
        "POST",
        "/crm/v3/objects/deals",
        (
            201,
            {
                "id": "9001",
                "properties": {},
                "createdAt": "2026-05-02T09:15:00Z",
                "updatedAt": "2026-05-02T09:15:00Z",
                "archived": False,
            },
        ),
    )


def _pipedrive(crm: FakeServer, user: dict[str, Any]) -> None:
    found = {"items": [{"item": {"id": 42, "emails": [user["email"]]}}]}
    crm.on(
        "GET",
        "/api/v2/persons/search",
        (200, {"success": True, "data": {"items": []}}),
        (200, {"success": True, "data": found}),
    )
    crm.on("POST", "/api/v2/persons", (201, {"success": True, "data": {"id": 42}}))
    crm.on("PATCH", "/api/v2/persons/42", (200, {"success": True, "data": {"id": 42}}))
    crm.on("POST", "/api/v2/deals", (201, {"success": True, "data": {"id": 7}}))


def _zoho(crm: FakeServer, user: dict[str, Any]) -> None:
    def written(action: str | None) -> tuple[int, dict[str, Any]]:
        entry = {"status": "success", "code": "SUCCESS", "details": {"id": "5725767"}}
        return 201, {"data": [{**entry, "action": action} if action else entry]}

    crm.on("POST", "/crm/v7/Contacts/upsert", written("insert"), written("update"))
    crm.on("POST", "/crm/v7/Deals", written(None))


def _dynamics(crm: FakeServer, user: dict[str, Any]) -> None:
    def entity(entity_set: str) -> dict[str, str]:
        return {"OData-EntityId": f"{crm.url}api/data/v9.2/{entity_set}({GUID})"}

    exists = {"error": {"code": "0x80060882", "message": "A record with matching key exists."}}
    crm.on(
        "PATCH",
        f"/api/data/v9.2/contacts(emailaddress1='{user['email']}')",
        (204, b"", entity("contacts")),
        (412, exists),
        (204, b"", entity("contacts")),
    )
    crm.on("POST", "/api/data/v9.2/opportunities", (204, b"", entity("opportunities")))


CRMS = [
    Crm(
        "salesforce",
        "salesforce-prod",
        "particeep_to_salesforce.yaml",
        lambda crm: {
            "login_url": crm.url.rstrip("/"),
            "instance_url": crm.url.rstrip("/"),
            "client_id": "3MVG9",
            "client_secret": "cs",
            "access_token": "00D!old",
            "refresh_token": "5Aep861",
        },
        _salesforce,
        lambda user: ("POST", f"{SF}/sobjects/Contact/"),
        ("POST", f"{SF}/sobjects/Opportunity/"),
    ),
    Crm(
        "hubspot",
        "hubspot-prod",
        "particeep_to_hubspot.yaml",
        lambda crm: {"private_app_token": "pat-eu1-1", "api_url": crm.url},
        _hubspot,
        lambda user: ("POST", "/crm/v3/objects/contacts/batch/upsert"),
        ("POST", "/crm/v3/objects/deals"),
    ),
    Crm(
        "pipedrive",
        "pipedrive-prod",
        "particeep_to_pipedrive.yaml",
        lambda crm: {"api_token": "tok", "api_url": crm.url},
        _pipedrive,
        lambda user: ("POST", "/api/v2/persons"),
        ("POST", "/api/v2/deals"),
    ),
    Crm(
        "zoho_crm",
        "zoho-prod",
        "particeep_to_zoho_crm.yaml",
        lambda crm: {"access_token": "1000.at", "refresh_token": "1000.rt", "api_domain": crm.url},
        _zoho,
        lambda user: ("POST", "/crm/v7/Contacts/upsert"),
        ("POST", "/crm/v7/Deals"),
    ),
    Crm(
        "dynamics",
        "dynamics-prod",
        "particeep_to_dynamics.yaml",
        lambda crm: {
            "environment_url": crm.url,
            "tenant": "acme.onmicrosoft.com",
            "client_id": "app",
            "client_secret": "s3cret",
        },
        _dynamics,
        lambda user: ("PATCH", f"/api/data/v9.2/contacts(emailaddress1='{user['email']}')"),
        ("POST", "/api/data/v9.2/opportunities"),
    ),
]


@pytest.fixture
def microsoft(cert: Cert, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """Microsoft's sign-in service for Dynamics, over HTTPS as MSAL requires."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert.cert_file))
    with FakeServer(tls=cert.server_context()) as server:
        tenant = f"{server.url}acme.onmicrosoft.com"
        server.on(
            "GET",
            "/acme.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            (
                200,
                {
                    "issuer": f"{tenant}/v2.0",
                    "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{tenant}/oauth2/v2.0/token",
                },
            ),
        )
        server.on(
            "POST",
            "/acme.onmicrosoft.com/oauth2/v2.0/token",
            (200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.app"}),
        )
        yield server
    dynamics_api._apps.clear()


@pytest.mark.parametrize("crm", CRMS, ids=[c.app for c in CRMS])
def test_a_user_and_a_transaction_reach_the_crm(
    crm: Crm,
    make_settings: Callable[..., Settings],
    fake_server: FakeServer,
    microsoft: FakeServer,
) -> None:
    user = make_user()
    crm.script(fake_server, user)
    values = crm.values(fake_server)
    if crm.app == "dynamics":
        values["authority_host"] = microsoft.url
    with FakeParticeep("k", "s") as particeep, serve_at_public_url(make_settings) as (url, _, app):
        _, token = Blocking(app.state.runtime.services).tokens.create("crm")
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        particeep_values = {
            "api_key": "k",
            "api_secret": "s",
            "environment": "custom",
            "base_url": particeep.url,
        }
        for app_key, name, given in (
            ("particeep", "particeep-prod", particeep_values),
            (crm.app, crm.connection, values),
        ):
            r = api.post("/api/connections", json={"app": app_key, "name": name, "values": given})
            assert r.status_code == 201, r.text
        for flow in load_yaml((EXAMPLES / crm.example).read_text()):
            r = api.post("/api/flows", json=flow)
            assert r.status_code == 201, r.text
            assert r.json()["subscription"]["status"] == "registered"

        particeep.add_user(**user)
        particeep.emit("user_created", user)
        # The user's flow first, as in life: the contact exists when the investment comes.
        fake_server.wait_for(*crm.contact(user))
        tx = make_transaction(issuer_id=user["id"], status="SUCCEEDED")
        tx["amount"] = 150000
        particeep.emit("transaction_created", tx)
        assert particeep.wait_idle()
        [deal] = fake_server.wait_for(*crm.deal, count=2 if crm.app == "salesforce" else 1)[-1:]
        api.close()

    CHECKS[crm.app](fake_server, user, tx, deal)


def _check_salesforce(crm: FakeServer, user: Any, tx: Any, deal: Recorded) -> None:
    [created] = crm.received("POST", f"{SF}/sobjects/Contact/")
    assert created.json() == {
        "Email": user["email"],
        "FirstName": user["first_name"],
        "LastName": user["last_name"],
        "Phone": user["phone"],
    }
    first_lookup, _ = crm.received("GET", f"{SF}/query/")
    assert first_lookup.query["q"] == [
        f"SELECT Id FROM Contact WHERE Email = '{user['email']}' LIMIT 2"
    ]
    refused, _ = crm.received("POST", f"{SF}/sobjects/Opportunity/")
    assert refused.headers["authorization"] == "Bearer 00D!old"
    assert deal.headers["authorization"] == "Bearer 00D!fresh"
    body = deal.json()
    assert body["ContactId"] == "003A" and body["Amount"] == 1500.0
    assert body["StageName"] == "Closed Won" and tx["id"] in body["Name"]


def _check_hubspot(crm: FakeServer, user: Any, tx: Any, deal: Recorded) -> None:
    first, _ = crm.received("POST", "/crm/v3/objects/contacts/batch/upsert")
    [one] = first.json()["inputs"]
    assert one["idProperty"] == "email" and one["id"] == user["email"]
    assert one["properties"]["lastname"] == user["last_name"]
    body = deal.json()
    assert body["properties"]["amount"] == "1500.0"
    assert body["properties"]["dealstage"] == "closedwon"
    assert body["associations"] == [
        {
            "to": {"id": "51"},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
        }
    ]


def _check_pipedrive(crm: FakeServer, user: Any, tx: Any, deal: Recorded) -> None:
    [created] = crm.received("POST", "/api/v2/persons")
    assert created.json()["emails"] == [{"value": user["email"], "primary": True}]
    assert crm.received("PATCH", "/api/v2/persons/42")  # the transaction's upsert found it
    body = deal.json()
    assert body["person_id"] == 42 and body["value"] == 1500.0 and body["currency"] == "EUR"
    assert body["status"] == "won"


def _check_zoho(crm: FakeServer, user: Any, tx: Any, deal: Recorded) -> None:
    first, _ = crm.received("POST", "/crm/v7/Contacts/upsert")
    assert first.json()["duplicate_check_fields"] == ["Email"]
    assert first.json()["data"][0]["Email"] == user["email"]
    [record] = deal.json()["data"]
    assert record["Contact_Name"] == {"id": "5725767"} and record["Amount"] == 1500.0
    assert record["Stage"] == "Closed Won"


def _check_dynamics(crm: FakeServer, user: Any, tx: Any, deal: Recorded) -> None:
    created, exists, updated = crm.received("PATCH")
    assert (
        created.headers["if-none-match"] == "*" and created.json()["lastname"] == user["last_name"]
    )
    assert exists.headers["if-none-match"] == "*" and updated.headers["if-match"] == "*"
    assert deal.headers["authorization"] == "Bearer eyJ.app"
    body = deal.json()
    assert body["parentcontactid@odata.bind"] == f"/contacts({GUID})"
    assert body["estimatedvalue"] == 1500.0


CHECKS: dict[str, Callable[[FakeServer, Any, Any, Recorded], None]] = {
    "salesforce": _check_salesforce,
    "hubspot": _check_hubspot,
    "pipedrive": _check_pipedrive,
    "zoho_crm": _check_zoho,
    "dynamics": _check_dynamics,
}
