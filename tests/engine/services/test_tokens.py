"""API tokens on SQLite and PostgreSQL: created once, checked, listed and revoked per role."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from maillon.engine.errors import Invalid, NotFound
from maillon.engine.models import ApiToken
from maillon.engine.services.accounts import User
from maillon.engine.services.tokens import USE_PRECISION, Tokens
from tests.support.accounts import OWNER, AccountsKit

pytestmark = pytest.mark.anyio


async def owner_and_member(accounts_kit: AccountsKit) -> tuple[User, User]:
    owner = (await accounts_kit.accounts.set_up(*OWNER)).user
    member = (await accounts_kit.accounts.add_member(owner, "m@example.com", "Max")).user
    return owner, member


async def test_a_token_is_shown_once_and_stored_hashed(accounts_kit: AccountsKit) -> None:
    info, plaintext = await accounts_kit.tokens.create("  deploy  ")
    assert plaintext.startswith("mlt_")
    assert info.name == "deploy"
    assert info.user_id is None
    with Session(accounts_kit.db) as s:
        row = s.exec(select(ApiToken)).one()
    assert plaintext not in row.token_hash
    checked = await accounts_kit.tokens.check(plaintext)
    assert checked is not None
    assert checked.id == info.id
    assert await accounts_kit.tokens.check(plaintext + "x") is None


async def test_a_token_needs_a_reasonable_name(accounts_kit: AccountsKit) -> None:
    for name in ("", "   ", "x" * 201):
        with pytest.raises(Invalid):
            await accounts_kit.tokens.create(name)


async def test_members_see_and_revoke_their_own_tokens_only(accounts_kit: AccountsKit) -> None:
    owner, member = await owner_and_member(accounts_kit)
    tokens = accounts_kit.tokens
    cli, _ = await tokens.create("cli")
    owners, _ = await tokens.create("owner's", owner)
    members, _ = await tokens.create("member's", member)
    assert [t.name for t in await tokens.list(member)] == ["member's"]
    assert [(t.name, t.user_name) for t in await tokens.list(owner)] == [
        ("cli", None),
        ("owner's", owner.name),
        ("member's", member.name),
    ]
    assert len(await tokens.list()) == 3  # the command line sees all
    for other in (cli, owners):
        with pytest.raises(NotFound):
            await tokens.revoke(other.id, member)
    await tokens.revoke(members.id, member)
    await tokens.revoke(cli.id, owner)
    assert [t.name for t in await tokens.list()] == ["owner's"]


async def test_revoking_stops_a_token_at_once_in_this_process(accounts_kit: AccountsKit) -> None:
    tokens = Tokens(accounts_kit.db, ttl=3600)
    info, plaintext = await tokens.create("ci")
    assert await tokens.check(plaintext) is not None  # cached for an hour
    await tokens.revoke(info.id)
    assert await tokens.check(plaintext) is None


async def test_other_processes_see_a_revocation_once_their_cache_expires(
    accounts_kit: AccountsKit,
) -> None:
    here, there = Tokens(accounts_kit.db, ttl=3600), Tokens(accounts_kit.db, ttl=0)
    info, plaintext = await here.create("ci")
    assert await there.check(plaintext) is not None
    await here.revoke(info.id)
    assert await there.check(plaintext) is None


async def test_a_tokens_last_use_is_kept_with_one_write_per_period(
    accounts_kit: AccountsKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = Tokens(accounts_kit.db, ttl=0)  # every check reads the row again
    _, plaintext = await tokens.create("ci")
    assert [t.last_used_at for t in await tokens.list()] == [None]
    clock = [1_000_000.0]
    monkeypatch.setattr("maillon.engine.services.tokens.time.time", lambda: clock[0])
    writes: list[str] = []
    event.listen(accounts_kit.db, "before_cursor_execute", lambda *a: writes.append(a[2]))

    await tokens.check(plaintext)
    clock[0] += USE_PRECISION - 1
    await tokens.check(plaintext)
    assert [t.last_used_at for t in await tokens.list()] == [1_000_000.0]
    clock[0] += 1
    await tokens.check(plaintext)
    assert [t.last_used_at for t in await tokens.list()] == [1_000_000.0 + USE_PRECISION]
    # Three calls, two writes: the second call came within the precision of the first.
    assert sum(sql.startswith("UPDATE api_tokens") for sql in writes) == 2
