"""API tokens: created, checked on every API call, listed and revoked.

A token is ``mlt_`` and 32 random bytes; only its SHA-256 is stored. A fast hash is enough here,
unlike for passwords: the token is random, not chosen by a person, so its hash cannot be
reversed by guessing.

:meth:`Tokens.check` runs on every API call, so it remembers verified tokens for a few seconds:
a burst of calls costs one query. When a token was last used is kept to the nearest
:data:`USE_PRECISION` (a token nobody uses any more is one to revoke): at most one write per
token in that time, whatever the traffic. Wrong tokens are counted per client address: past a limit,
that address's calls are refused with :class:`RateLimited` before any look-up, so that nobody
can try tokens at the speed of the server (:mod:`maillon.engine.limits`). A token revoked (or
whose user is removed) through this service stops working at once in this process, and within
``ttl`` seconds in the others.

Who may do what: a member sees and revokes their own tokens; the owner, and the command line
(which acts for whoever runs the install), see and revoke all of them.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, update
from sqlmodel import col, select

from maillon.engine.errors import Invalid, NotFound
from maillon.engine.i18n import gettext as _
from maillon.engine.ids import new_id
from maillon.engine.limits import FailureLimit
from maillon.engine.models import ApiToken, Role, UserRow
from maillon.engine.services.base import Service

if TYPE_CHECKING:
    from maillon.engine.services.accounts import User

__all__ = ["TOKEN_PREFIX", "USE_PRECISION", "TokenInfo", "Tokens", "hash_token"]

#: Tells a Maillon token apart in a log or a secret scanner's report.
TOKEN_PREFIX = "mlt_"  # noqa: S105 (a prefix, not a secret)
MAX_NAME = 200
#: Cached verifications: enough for every client of a busy install, bounded all the same.
_MAX_CACHED = 10_000
#: Seconds within which a token's last use is kept.
USE_PRECISION = 600.0


def hash_token(plaintext: str) -> str:
    """The stored form of a random secret (API token, session or one-time link token)."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its value, which is shown once, at creation."""

    id: str
    name: str
    user_id: str | None
    #: The name of the user it belongs to; ``None`` for a token made on the command line.
    user_name: str | None
    created_at: float
    #: When it was last used, to :data:`USE_PRECISION`; ``None``: never.
    last_used_at: float | None = None


class Tokens(Service):
    """Creates, checks, lists and revokes API tokens."""

    def __init__(
        self, db: Engine, *, ttl: float = 5.0, failures: FailureLimit | None = None
    ) -> None:
        super().__init__(db)
        self.ttl = ttl
        self.failures = failures or FailureLimit("wrong API tokens", 20, 900.0)
        # token hash -> (the token's row, when this verification expires)
        self._verified: dict[str, tuple[ApiToken, float]] = {}

    async def create(self, name: str, user: User | None = None) -> tuple[TokenInfo, str]:
        """A new token for ``user`` (``None``: the command line); the value is returned once."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise Invalid([_("a token needs a name of 1 to %(max)s characters", max=MAX_NAME)])
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            id=new_id(),
            name=name,
            token_hash=hash_token(plaintext),
            user_id=user.id if user else None,
            created_at=time.time(),
        )
        await self.sync(self._insert, row)
        info = TokenInfo(row.id, row.name, row.user_id, user.name if user else None, row.created_at)
        return info, plaintext

    def _insert(self, row: ApiToken) -> None:
        with self.session(write=True) as s:
            s.add(row)
            s.commit()

    async def check(self, plaintext: str, client: str = "") -> ApiToken | None:
        """The token's row if ``plaintext`` is a valid token, else ``None``.

        ``client`` is the caller's address: raises :class:`RateLimited` while it has sent too
        many wrong tokens, each ``None`` answer counting one more.
        """
        self.failures.check(client)
        digest = hash_token(plaintext)
        now = time.monotonic()
        cached = self._verified.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        row = await self.sync(self._find, digest)
        if row is None:
            self.failures.fail(client)
            return None
        used = time.time()
        if row.last_used_at is None or used - row.last_used_at >= USE_PRECISION:
            await self.sync(self._used, row.id, used)
            row.last_used_at = used
        if len(self._verified) >= _MAX_CACHED:
            self._verified.clear()
        self._verified[digest] = (row, now + self.ttl)
        return row

    def _find(self, digest: str) -> ApiToken | None:
        with self.session() as s:
            return s.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()

    def _used(self, token_id: str, at: float) -> None:
        with self.session(write=True) as s:
            s.exec(update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=at))
            s.commit()

    async def list(self, actor: User | None = None) -> builtins.list[TokenInfo]:
        """The tokens ``actor`` may see, oldest first (``None``: the command line, all)."""
        return await self.sync(self._list, actor)

    def _list(self, actor: User | None) -> builtins.list[TokenInfo]:
        query = (
            select(ApiToken, UserRow.name)
            .join(UserRow, col(ApiToken.user_id) == col(UserRow.id), isouter=True)
            .order_by(col(ApiToken.created_at))
        )
        if actor is not None and actor.role != Role.OWNER:
            query = query.where(ApiToken.user_id == actor.id)
        with self.session() as s:
            return [
                TokenInfo(t.id, t.name, t.user_id, user_name, t.created_at, t.last_used_at)
                for t, user_name in s.exec(query)
            ]

    async def revoke(self, token_id: str, actor: User | None = None) -> None:
        """Delete a token ``actor`` may see; it stops working at once in this process."""
        digest = await self.sync(self._delete, token_id, actor)
        self._verified.pop(digest, None)

    def _delete(self, token_id: str, actor: User | None) -> str:
        with self.session(write=True) as s:
            row = s.get(ApiToken, token_id)
            # Someone else's token is "not found" to a member: its existence is not theirs to know.
            if row is None or (
                actor is not None and actor.role != Role.OWNER and row.user_id != actor.id
            ):
                raise NotFound(_("no token %(id)s", id=token_id))
            s.delete(row)
            s.commit()
            return row.token_hash

    def forget_user(self, user_id: str) -> None:
        """Drop the cached verifications of ``user_id``'s tokens (the user was removed)."""
        for digest, (row, _expires) in list(self._verified.items()):
            if row.user_id == user_id:
                self._verified.pop(digest, None)
