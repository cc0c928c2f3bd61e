"""Accounts for tests: services on a fresh migrated database, a clock tests move, and users.

Argon2 with its production parameters takes a tenth of a second per hash; engine tests that
sign in dozens of times use the cheapest parameters instead (still Argon2id, the same code).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from maillon.engine.db import create_db_engine, migrate
from maillon.engine.services.accounts import Accounts, SignInLimits
from maillon.engine.services.tokens import Tokens

__all__ = ["OWNER", "AccountsKit", "Clock", "accounts_kit"]

#: The owner the tests set up: e-mail, name, password.
OWNER = ("owner@example.com", "Olivia Owner", "correct horse battery")


class Clock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class AccountsKit:
    db: Engine
    accounts: Accounts
    tokens: Tokens
    clock: Clock
    hasher: PasswordHasher


@pytest.fixture
def accounts_kit(database_url: str) -> Iterator[AccountsKit]:
    """Accounts and Tokens on a fresh database, with a test clock and cheap Argon2 parameters."""
    migrate(database_url)
    db = create_db_engine(database_url)
    clock = Clock()
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    tokens = Tokens(db)
    accounts = Accounts(
        db,
        tokens,
        session_lifetime=3600,
        limits=SignInLimits(per_account=3, per_client=5, window=600),
        hasher=hasher,
        clock=clock,
    )
    yield AccountsKit(db, accounts, tokens, clock, hasher)
    db.dispose()
