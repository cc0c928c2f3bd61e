from __future__ import annotations

import pytest
from pydantic import ValidationError

from examples.particeep.entities import make_transaction, make_user
from examples.particeep.fake_api import FakeParticeep
from maillon.connectors.particeep import ParticeepConnection, connector
from maillon.connectors.particeep.actions import (
    GetTransaction,
    GetTransactionInput,
    GetUser,
    GetUserInput,
    UpdateUser,
    UpdateUserInput,
)
from maillon.connectors.sdk import ActionContext, PermanentError

anyio = pytest.mark.anyio


@anyio
async def test_get_user(
    particeep: FakeParticeep, conn: ParticeepConnection, ctx: ActionContext
) -> None:
    stored = particeep.add_user(**make_user(), address={})
    user = await GetUser().run(ctx, conn, GetUserInput(user_id=stored["id"]))
    assert user.email == stored["email"]
    assert user.addresses is not None
    assert user.addresses[0].city == stored["addresses"][0]["city"]
    # Fields the model does not declare still reach the flow's templates.
    assert user.model_dump()["address"] == {}


@anyio
async def test_get_transaction(
    particeep: FakeParticeep, conn: ParticeepConnection, ctx: ActionContext
) -> None:
    stored = particeep.add_transaction(**make_transaction(status="SUCCEEDED"))
    transaction = await GetTransaction().run(
        ctx, conn, GetTransactionInput(transaction_id=stored["id"])
    )
    assert (transaction.amount, transaction.currency, transaction.status) == (
        stored["amount"],
        "EUR",
        "SUCCEEDED",
    )
    assert transaction.succeeded_at == stored["succeeded_at"]


@anyio
async def test_get_user_unknown_is_permanent(conn: ParticeepConnection, ctx: ActionContext) -> None:
    with pytest.raises(PermanentError, match="Particeep has no user missing-id"):
        await GetUser().run(ctx, conn, GetUserInput(user_id="missing-id"))


@anyio
async def test_update_user_tag_only_posts_the_tag(
    particeep: FakeParticeep, conn: ParticeepConnection, ctx: ActionContext
) -> None:
    stored = particeep.add_user(email="a@example.com", custom={"ips": []})
    user = await UpdateUser().run(ctx, conn, UpdateUserInput(user_id=stored["id"], tag="vip"))
    [post] = particeep.received("POST", f"/user/{stored['id']}")
    assert post.body == {"tag": "vip"}
    assert user.tag == "vip"
    assert particeep.user(stored["id"]) == {**stored, "tag": "vip"}


@anyio
async def test_update_user_merges_custom_fields_by_default(
    particeep: FakeParticeep, conn: ParticeepConnection, ctx: ActionContext
) -> None:
    stored = particeep.add_user(custom={"ips": [{"ip": "92.154.55.100"}], "crm_id": "old"})
    data = UpdateUserInput(user_id=stored["id"], tag="kyc-ok", custom={"crm_id": "HS-1"})
    user = await UpdateUser().run(ctx, conn, data)
    assert user.custom == {"ips": [{"ip": "92.154.55.100"}], "crm_id": "HS-1"}
    [post] = particeep.received("POST", f"/user/{stored['id']}")
    assert post.body == {"tag": "kyc-ok", "custom": user.custom}


@anyio
async def test_update_user_can_replace_custom_fields(
    particeep: FakeParticeep, conn: ParticeepConnection, ctx: ActionContext
) -> None:
    stored = particeep.add_user(custom={"ips": []})
    data = UpdateUserInput(user_id=stored["id"], custom={"crm_id": "HS-1"}, merge_custom=False)
    user = await UpdateUser().run(ctx, conn, data)
    assert user.custom == {"crm_id": "HS-1"}
    assert particeep.received("GET", f"/user/{stored['id']}") == []


def test_update_user_needs_something_to_change() -> None:
    with pytest.raises(ValidationError, match="give a tag, custom fields, or both"):
        UpdateUserInput(user_id="u1")


def test_actions_are_verb_noun_and_document_their_inputs() -> None:
    assert sorted(a.key for a in connector.actions) == [
        "get_transaction",
        "get_user",
        "update_user",
    ]
    for action in connector.actions:
        assert action.title
        assert action.description
        for name, prop in action.Input.model_json_schema()["properties"].items():
            assert prop.get("title"), (action.key, name)
            assert prop.get("description"), (action.key, name)
