"""Accounts on SQLite and PostgreSQL: set-up, sign-in limits, sessions, users and passwords."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, select

from maillon.engine.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from maillon.engine.models import SessionRow, UserRow
from maillon.engine.services.accounts import Accounts, SignInLimits, User
from tests.support.accounts import OWNER, AccountsKit

pytestmark = pytest.mark.anyio

EMAIL, NAME, PASSWORD = OWNER


async def set_up(accounts_kit: AccountsKit) -> User:
    return (await accounts_kit.accounts.set_up(*OWNER)).user


async def test_the_first_user_is_the_owner_and_set_up_happens_once(
    accounts_kit: AccountsKit,
) -> None:
    accounts = accounts_kit.accounts
    assert await accounts.needs_setup()
    signed_in = await accounts.set_up(" Owner@Example.COM ", f"  {NAME} ", PASSWORD)
    assert signed_in.user.email == EMAIL  # stored lower-cased and trimmed
    assert signed_in.user.name == NAME
    assert signed_in.user.is_owner
    assert await accounts.session_user(signed_in.token) == signed_in.user
    assert not await accounts.needs_setup()
    with pytest.raises(Conflict, match="already set up"):
        await accounts.set_up("other@example.com", "Other", PASSWORD)


async def test_racing_set_ups_make_one_owner(accounts_kit: AccountsKit) -> None:
    # Each with its own service object, as two processes would be: neither knows of the other.
    rivals = [
        Accounts(
            accounts_kit.db,
            accounts_kit.tokens,
            hasher=accounts_kit.hasher,
            clock=accounts_kit.clock,
        )
        for _ in range(4)
    ]
    results = await asyncio.gather(
        *(a.set_up(f"owner{i}@example.com", "Owner", PASSWORD) for i, a in enumerate(rivals)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    with Session(accounts_kit.db) as s:
        assert len(s.exec(select(UserRow)).all()) == 1


def test_the_database_refuses_a_second_owner(accounts_kit: AccountsKit) -> None:
    # The guarantee the race test relies on, without the service's own check in front of it.
    asyncio.run(set_up(accounts_kit))
    with Session(accounts_kit.db) as s:
        s.add(UserRow(id="x", email="x@example.com", name="X", role="owner", created_at=0))
        with pytest.raises(Exception, match=r"(?i)unique"):
            s.commit()


async def test_set_up_lists_every_problem(accounts_kit: AccountsKit) -> None:
    with pytest.raises(Invalid) as caught:
        await accounts_kit.accounts.set_up("not-an-address", "", "short")
    assert len(caught.value.problems) == 3
    assert await accounts_kit.accounts.needs_setup()


async def test_sign_in_and_out(accounts_kit: AccountsKit) -> None:
    owner = await set_up(accounts_kit)
    signed_in = await accounts_kit.accounts.sign_in("OWNER@example.com", PASSWORD, "10.0.0.1")
    assert signed_in.user.id == owner.id
    assert signed_in.user.last_sign_in_at == accounts_kit.clock.now
    await accounts_kit.accounts.sign_out(signed_in.token)
    assert await accounts_kit.accounts.session_user(signed_in.token) is None


async def test_sessions_expire(accounts_kit: AccountsKit) -> None:
    await set_up(accounts_kit)
    signed_in = await accounts_kit.accounts.sign_in(EMAIL, PASSWORD)
    accounts_kit.clock.advance(3599)
    assert await accounts_kit.accounts.session_user(signed_in.token) is not None
    accounts_kit.clock.advance(2)
    assert await accounts_kit.accounts.session_user(signed_in.token) is None
    # The next sign-in clears expired rows away.
    await accounts_kit.accounts.sign_in(EMAIL, PASSWORD)
    with Session(accounts_kit.db) as s:
        assert len(s.exec(select(SessionRow)).all()) == 1


async def test_a_wrong_password_and_an_unknown_address_fail_alike(
    accounts_kit: AccountsKit,
) -> None:
    await set_up(accounts_kit)
    errors = []
    for email, password in [(EMAIL, "wrong password!"), ("nobody@example.com", PASSWORD)]:
        with pytest.raises(Invalid) as caught:
            await accounts_kit.accounts.sign_in(email, password)
        errors.append(caught.value.problems)
    assert errors[0] == errors[1] == ["wrong e-mail address or password"]


async def test_an_unknown_address_costs_one_argon2_verification(accounts_kit: AccountsKit) -> None:
    verified: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verified.append(str(hash))
            return super().verify(hash, password)

    cheap = Counting(time_cost=1, memory_cost=1024, parallelism=1)
    accounts = Accounts(accounts_kit.db, accounts_kit.tokens, hasher=cheap)
    await accounts.set_up(*OWNER)
    for email in (EMAIL, "nobody@example.com"):
        with pytest.raises(Invalid):
            await accounts.sign_in(email, "wrong password!")
    assert len(verified) == 2
    assert verified[0] != verified[1]  # the owner's hash, then the dummy one


async def test_failures_lock_the_account_until_the_window_moves_on(
    accounts_kit: AccountsKit,
) -> None:
    await set_up(accounts_kit)
    accounts, clock = accounts_kit.accounts, accounts_kit.clock
    for _ in range(3):
        with pytest.raises(Invalid):
            await accounts.sign_in(EMAIL, "wrong password!", "10.0.0.1")
        clock.advance(10)
    # Locked: even the right password is not checked, from any address.
    with pytest.raises(RateLimited) as caught:
        await accounts.sign_in(EMAIL, PASSWORD, "10.0.0.2")
    assert caught.value.retry_after == 600 - 30
    clock.advance(caught.value.retry_after)
    signed_in = await accounts.sign_in(EMAIL, PASSWORD, "10.0.0.2")
    # A success forgives the account's failures: three more are allowed again.
    await accounts.sign_out(signed_in.token)
    for _ in range(3):
        with pytest.raises(Invalid):
            await accounts.sign_in(EMAIL, "wrong password!", "10.0.0.3")


async def test_failures_for_unknown_addresses_lock_them_too(accounts_kit: AccountsKit) -> None:
    for _ in range(3):
        with pytest.raises(Invalid):
            await accounts_kit.accounts.sign_in("nobody@example.com", PASSWORD)
    with pytest.raises(RateLimited):
        await accounts_kit.accounts.sign_in("nobody@example.com", PASSWORD)


async def test_failures_from_one_address_lock_that_address(accounts_kit: AccountsKit) -> None:
    await set_up(accounts_kit)
    for i in range(5):
        with pytest.raises(Invalid):
            await accounts_kit.accounts.sign_in(f"guess{i}@example.com", PASSWORD, "10.0.0.9")
    with pytest.raises(RateLimited):
        await accounts_kit.accounts.sign_in(EMAIL, PASSWORD, "10.0.0.9")
    assert await accounts_kit.accounts.sign_in(EMAIL, PASSWORD, "10.0.0.10")


async def test_the_limit_holds_across_processes(accounts_kit: AccountsKit) -> None:
    await set_up(accounts_kit)
    other = Accounts(
        accounts_kit.db,
        accounts_kit.tokens,
        limits=SignInLimits(per_account=3, per_client=5, window=600),
        hasher=accounts_kit.hasher,
        clock=accounts_kit.clock,
    )
    for accounts in (accounts_kit.accounts, other, accounts_kit.accounts):
        with pytest.raises(Invalid):
            await accounts.sign_in(EMAIL, "wrong password!")
    with pytest.raises(RateLimited):
        await other.sign_in(EMAIL, PASSWORD)


async def test_a_hash_with_old_parameters_is_replaced_at_sign_in(accounts_kit: AccountsKit) -> None:
    await set_up(accounts_kit)  # cheap parameters
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    accounts = Accounts(
        accounts_kit.db, accounts_kit.tokens, hasher=stronger, clock=accounts_kit.clock
    )
    await accounts.sign_in(EMAIL, PASSWORD)
    with Session(accounts_kit.db) as s:
        row = s.exec(select(UserRow)).one()
    assert row.password_hash is not None
    assert not stronger.check_needs_rehash(row.password_hash)
    assert await accounts.sign_in(EMAIL, PASSWORD)


async def test_the_owner_adds_a_member_who_chooses_a_password_once(
    accounts_kit: AccountsKit,
) -> None:
    owner = await set_up(accounts_kit)
    accounts = accounts_kit.accounts
    link = await accounts.add_member(owner, " Member@Example.com", "Max Member")
    assert link.user.email == "member@example.com"
    assert not link.user.has_password
    # No password yet: signing in fails like a wrong password.
    with pytest.raises(Invalid):
        await accounts.sign_in("member@example.com", "")
    assert await accounts.password_link_user(link.token) == link.user
    with pytest.raises(Invalid):
        await accounts.set_password_with_link(link.token, "short")
    member = await accounts.set_password_with_link(link.token, "member password 1")
    assert member.has_password
    assert (await accounts.sign_in("member@example.com", "member password 1")).user.id == member.id
    with pytest.raises(NotFound, match="ask the owner"):
        await accounts.set_password_with_link(link.token, "member password 2")


async def test_a_link_expires_and_a_new_one_replaces_it(accounts_kit: AccountsKit) -> None:
    owner = await set_up(accounts_kit)
    first = await accounts_kit.accounts.add_member(owner, "m@example.com", "M")
    second = await accounts_kit.accounts.issue_password_link(owner, first.user.id)
    with pytest.raises(NotFound):
        await accounts_kit.accounts.password_link_user(first.token)
    accounts_kit.clock.advance(3 * 86400 + 1)
    with pytest.raises(NotFound):
        await accounts_kit.accounts.set_password_with_link(second.token, "member password 1")


async def test_a_password_set_through_a_link_unlocks_the_account(
    accounts_kit: AccountsKit,
) -> None:
    owner = await set_up(accounts_kit)
    accounts = accounts_kit.accounts
    link = await accounts.add_member(owner, "m@example.com", "M")
    await accounts.set_password_with_link(link.token, "member password 1")
    for _ in range(3):
        with pytest.raises(Invalid):
            await accounts.sign_in("m@example.com", "forgotten password", "10.0.0.1")
    with pytest.raises(RateLimited):
        await accounts.sign_in("m@example.com", "member password 1", "10.0.0.1")
    # Someone guesses the owner's password meanwhile: that lock is not the link's to lift.
    for _ in range(3):
        with pytest.raises(Invalid):
            await accounts.sign_in(EMAIL, "wrong password!", "10.0.0.2")

    again = await accounts.issue_password_link(owner, link.user.id)
    await accounts.set_password_with_link(again.token, "member password 2")
    signed_in = await accounts.sign_in("m@example.com", "member password 2", "10.0.0.1")
    assert signed_in.user.id == link.user.id
    with pytest.raises(RateLimited):
        await accounts.sign_in(EMAIL, PASSWORD, "10.0.0.3")


async def test_only_the_owner_manages_users(accounts_kit: AccountsKit) -> None:
    owner = await set_up(accounts_kit)
    accounts = accounts_kit.accounts
    link = await accounts.add_member(owner, "m@example.com", "M")
    member = link.user
    with pytest.raises(Conflict, match="exists already"):
        await accounts.add_member(owner, "M@example.com", "Again")
    for attempt in (
        accounts.list_users(member),
        accounts.add_member(member, "n@example.com", "N"),
        accounts.remove_user(member, owner.id),
        accounts.issue_password_link(member, member.id),
    ):
        with pytest.raises(Forbidden):
            await attempt
    with pytest.raises(Conflict, match="cannot be removed"):
        await accounts.remove_user(owner, owner.id)
    assert [u.email for u in await accounts.list_users(owner)] == [EMAIL, "m@example.com"]


async def test_removing_a_user_ends_their_sessions_and_tokens(accounts_kit: AccountsKit) -> None:
    owner = await set_up(accounts_kit)
    accounts, tokens = accounts_kit.accounts, accounts_kit.tokens
    link = await accounts.add_member(owner, "m@example.com", "M")
    await accounts.set_password_with_link(link.token, "member password 1")
    signed_in = await accounts.sign_in("m@example.com", "member password 1")
    _, token = await tokens.create("laptop", signed_in.user)
    assert await tokens.check(token) is not None  # now cached as valid
    await accounts.remove_user(owner, signed_in.user.id)
    assert await accounts.session_user(signed_in.token) is None
    assert await tokens.check(token) is None
    with pytest.raises(NotFound):
        await accounts.remove_user(owner, signed_in.user.id)


async def test_changing_ones_password_ends_the_other_sessions(accounts_kit: AccountsKit) -> None:
    owner = await set_up(accounts_kit)
    accounts = accounts_kit.accounts
    here = await accounts.sign_in(EMAIL, PASSWORD)
    elsewhere = await accounts.sign_in(EMAIL, PASSWORD)
    with pytest.raises(Invalid) as refused:
        await accounts.change_password(owner, "wrong password!", "new password 12")
    assert refused.value.problems == ["your current password is not right"]
    await accounts.change_password(owner, PASSWORD, "new password 12", keep_session=here.token)
    assert await accounts.session_user(here.token) == here.user
    assert await accounts.session_user(elsewhere.token) is None
    with pytest.raises(Invalid):
        await accounts.sign_in(EMAIL, PASSWORD)
    assert await accounts.sign_in(EMAIL, "new password 12")


async def test_wrong_current_passwords_count_as_failed_sign_ins(accounts_kit: AccountsKit) -> None:
    owner = await set_up(accounts_kit)
    for _ in range(3):
        with pytest.raises(Invalid):
            await accounts_kit.accounts.change_password(owner, "wrong password!", "new password 12")
    with pytest.raises(RateLimited):
        await accounts_kit.accounts.change_password(owner, PASSWORD, "new password 12")


async def test_each_person_chooses_their_language_and_time_zone(
    accounts_kit: AccountsKit,
) -> None:
    accounts = accounts_kit.accounts
    signed_in = await accounts.set_up(*OWNER)
    assert (signed_in.user.locale, signed_in.user.time_zone) == (None, None)

    chosen = await accounts.set_preferences(signed_in.user, "fr", "Europe/Paris")
    assert (chosen.locale, chosen.time_zone) == ("fr", "Europe/Paris")
    # Every page after it reads them from the session's user.
    assert await accounts.session_user(signed_in.token) == chosen

    with pytest.raises(Invalid) as refused:
        await accounts.set_preferences(chosen, "de", "Mars/Olympus")
    assert refused.value.problems == [
        "choose a language Maillon speaks: en, fr",
        "choose a time zone such as Europe/Paris",
    ]
    back = await accounts.set_preferences(chosen, "", "")  # the browser's, the install's
    assert (back.locale, back.time_zone) == (None, None)
