"""API tokens: bearer tokens for the REST API, stored as SHA-256 hashes only."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import Engine
from sqlmodel import col, select

from maillon.engine.errors import NotFound
from maillon.engine.ids import new_id
from maillon.engine.models import ApiToken
from maillon.engine.services.base import Service

__all__ = ["Tokens"]

#: Tokens start with this, so that a leaked one is recognisable (secret scanners, logs).
PREFIX = "mlt_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens(Service):
    """Create, check, list and revoke API tokens.

    A token verified recently is accepted again without a query for ``cache_ttl`` seconds: an
    API client makes many calls in a row. A revoked token therefore keeps working that long in
    other processes; in this one, revoking forgets it at once.
    """

    def __init__(self, db: Engine, cache_ttl: float = 5.0) -> None:
        super().__init__(db)
        self._ttl = cache_ttl
        self._valid: dict[str, float] = {}

    async def create(self, name: str) -> tuple[ApiToken, str]:
        """Create a token; the plaintext is returned once and never stored."""
        plaintext = PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(id=new_id(), name=name, token_hash=_hash(plaintext), created_at=time.time())

        def write() -> None:
            with self.session(write=True) as s:
                s.add(row)
                s.commit()

        await self.sync(write)
        return row, plaintext

    async def check(self, plaintext: str) -> bool:
        """Whether ``plaintext`` is a valid token."""
        digest = _hash(plaintext)
        now = time.monotonic()
        expiry = self._valid.get(digest)
        if expiry is not None and expiry > now:
            return True

        def read() -> bool:
            with self.session() as s:
                found = s.exec(select(ApiToken.id).where(ApiToken.token_hash == digest)).first()
                return found is not None

        if not await self.sync(read):
            return False
        if len(self._valid) > 10_000:
            self._valid.clear()
        self._valid[digest] = now + self._ttl
        return True

    async def all(self) -> list[ApiToken]:
        """Every token (names and ids; the hashes are no use to anyone)."""

        def read() -> list[ApiToken]:
            with self.session() as s:
                return list(s.exec(select(ApiToken).order_by(col(ApiToken.created_at))))

        return await self.sync(read)

    async def revoke(self, token_id: str) -> None:
        """Revoke a token by id."""

        def write() -> str:
            with self.session(write=True) as s:
                row = s.get(ApiToken, token_id)
                if row is None:
                    raise NotFound(f"no token {token_id}")
                s.delete(row)
                s.commit()
                return row.token_hash

        self._valid.pop(await self.sync(write), None)
