"""User accounts: setting up an install, signing in and out, users and their passwords.

Every rule about who gets in lives here, so that no transport can forget one:

- Passwords are hashed with Argon2id (argon2-cffi's defaults, the second profile RFC 9106
  recommends). A hash made with older parameters is replaced at the next sign-in. Hashing and
  verifying take a tenth of a second on purpose, so they run outside any database transaction:
  on SQLite a write transaction held meanwhile would stall the intake of webhooks.
- Sessions are rows in the database, so that every process on a shared PostgreSQL sees the same
  sign-ins, and a sign-out or a removed user ends them everywhere at once. The browser holds a
  random token; rows are keyed by its SHA-256, so reading the table lets nobody sign in.
- Failed sign-ins are counted per e-mail address and per client address, in the database (so
  across processes). An attempt reserves its failure before the password is verified and gives
  it back on success: attempts in parallel cannot outrun the limit by more than the ones that
  start in the very same instant. An unknown address costs the same Argon2 verification as a
  known one (against a dummy hash) and its failures count the same, so neither the time taken
  nor the lock tells whether an account exists.
- The owner adds a member by e-mail and name; the member then chooses a password through a
  one-time link, rather than receiving an initial password from the owner: the owner never
  knows a member's password, a link that leaks works once and expires, and the same link
  serves a member who forgot their password.
- There is one owner, made by the set-up of an empty install. A unique index, not a
  check before inserting, keeps a second one out: two set-ups racing both see no user.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, exists, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from maillon.engine.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from maillon.engine.i18n import LOCALES, known_time_zone, supported
from maillon.engine.i18n import gettext as _
from maillon.engine.ids import new_id
from maillon.engine.models import PasswordLinkRow, Role, SessionRow, SignInFailureRow, UserRow
from maillon.engine.services.base import Service
from maillon.engine.services.tokens import Tokens, hash_token

__all__ = ["Accounts", "PasswordLink", "SignInLimits", "SignedIn", "User"]

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_NAME = 200
MAX_EMAIL = 320
#: How long a member's link to choose a password stays valid.
LINK_LIFETIME = 3 * 86400.0


@dataclass(frozen=True)
class User:
    """A user as the rest of the code sees one: never with the password hash."""

    id: str
    email: str
    name: str
    role: str
    locale: str | None
    time_zone: str | None
    created_at: float
    last_sign_in_at: float | None
    #: False until a new member has chosen a password through their link.
    has_password: bool

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @classmethod
    def of(cls, row: UserRow) -> User:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=row.role,
            locale=row.locale,
            time_zone=row.time_zone,
            created_at=row.created_at,
            last_sign_in_at=row.last_sign_in_at,
            has_password=row.password_hash is not None,
        )


@dataclass(frozen=True)
class SignedIn:
    """A new session: give ``token`` to the browser (in a cookie) until ``expires_at``."""

    user: User
    token: str
    expires_at: float


@dataclass(frozen=True)
class PasswordLink:
    """A one-time secret that lets ``user`` choose a password until ``expires_at``."""

    user: User
    token: str
    expires_at: float


@dataclass(frozen=True)
class _Attempt:
    """A password check in progress: whose, and the failures it reserved."""

    #: ``""`` for an unknown address (the attempt can only fail).
    user_id: str
    password_hash: str | None
    account_key: str
    reserved: list[int]


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins allowed within ``window`` seconds before further attempts wait.

    Per client address the allowance is larger: an office's users share one address.
    """

    per_account: int = 5
    per_client: int = 20
    window: float = 900.0


def normalize_email(email: str) -> str:
    """The stored form of an e-mail address: trimmed and lower-cased."""
    return email.strip().lower()


def _account_key(email: str) -> str:
    """What an account's failed sign-ins are counted under."""
    return f"email:{normalize_email(email)[:MAX_EMAIL]}"


def _email_problems(email: str) -> list[str]:
    local, at, domain = email.partition("@")
    if len(email) > MAX_EMAIL:
        return [_("the e-mail address is longer than %(max)s characters", max=MAX_EMAIL)]
    if not at or not local or "." not in domain or any(c.isspace() for c in email):
        return [_("enter an e-mail address such as name@example.com")]
    return []


def _name_problems(name: str) -> list[str]:
    if not name or len(name) > MAX_NAME:
        return [_("enter a name of 1 to %(max)s characters", max=MAX_NAME)]
    return []


def _password_problems(password: str) -> list[str]:
    if len(password) < MIN_PASSWORD:
        return [_("choose a password of at least %(min)s characters", min=MIN_PASSWORD)]
    if len(password) > MAX_PASSWORD:
        return [_("choose a password of at most %(max)s characters", max=MAX_PASSWORD)]
    return []


def _check(problems: list[str]) -> None:
    if problems:
        raise Invalid(problems)


def _require_owner(actor: User) -> None:
    if not actor.is_owner:
        raise Forbidden(_("only the owner manages users"))


class Accounts(Service):
    """Users, their passwords and their browser sessions."""

    def __init__(
        self,
        db: Engine,
        tokens: Tokens,
        *,
        session_lifetime: float = 7 * 86400.0,
        limits: SignInLimits | None = None,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(db)
        self.tokens = tokens
        self.session_lifetime = session_lifetime
        self.limits = limits or SignInLimits()
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        # Becomes False once and stays so: the owner cannot be removed.
        self._empty: bool | None = None

    # -- set-up ------------------------------------------------------------------------------

    async def needs_setup(self) -> bool:
        """Whether the install has no user yet (its first visitor creates the owner)."""
        if self._empty is not False:
            self._empty = await self.sync(self._no_user)
        return self._empty

    def _no_user(self) -> bool:
        with self.session() as s:
            return not s.exec(select(exists().select_from(UserRow))).one()

    async def set_up(self, email: str, name: str, password: str) -> SignedIn:
        """Create the owner of an empty install and sign them in.

        Raises :class:`Conflict` once any user exists, including when another set-up won a race.
        """
        email, name = normalize_email(email), name.strip()
        _check(_email_problems(email) + _name_problems(name) + _password_problems(password))
        password_hash = await self.sync(self.hasher.hash, password)
        return await self.sync(self._create_owner, email, name, password_hash)

    def _create_owner(self, email: str, name: str, password_hash: str) -> SignedIn:
        already = Conflict(_("Maillon is already set up: sign in instead"))
        now = self.clock()
        with self.session(write=True) as s:
            if s.exec(select(exists().select_from(UserRow))).one():
                raise already
            row = UserRow(
                id=new_id(),
                email=email,
                name=name,
                password_hash=password_hash,
                role=Role.OWNER,
                created_at=now,
                last_sign_in_at=now,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:
                raise already from exc
            signed_in = self._open_session(s, row, now)
            s.commit()
        self._empty = False
        return signed_in

    # -- signing in and out ------------------------------------------------------------------

    async def sign_in(self, email: str, password: str, client: str = "") -> SignedIn:
        """A new session for the user with this e-mail address and password.

        ``client`` is the caller's network address, for the per-address limit. Raises
        :class:`RateLimited` while the account or the address is locked, and :class:`Invalid`
        for a wrong address or password (the same for both).
        """
        attempt = await self._authenticate(email, password, client)
        new_hash = None
        if attempt.password_hash and self.hasher.check_needs_rehash(attempt.password_hash):
            new_hash = await self.sync(self.hasher.hash, password)
        return await self.sync(self._signed_in, attempt, new_hash)

    async def _authenticate(self, email: str, password: str, client: str) -> _Attempt:
        """Check a password within the limits; the attempt counts as failed until forgiven."""
        limits = [(_account_key(email), self.limits.per_account)]
        if client:
            limits.append((f"client:{client[:200]}", self.limits.per_client))
        attempt = await self.sync(self._reserve_attempt, limits, normalize_email(email)[:MAX_EMAIL])
        if not await self.sync(self._verify, attempt.password_hash, password[:MAX_PASSWORD]):
            raise Invalid([_("wrong e-mail address or password")])
        return attempt

    def _verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; as slow without a hash as with a wrong password."""
        try:
            self.hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hasher.hash(secrets.token_urlsafe(16))

    def _reserve_attempt(self, limits: list[tuple[str, int]], email: str) -> _Attempt:
        """Count an attempt as failed for each key unless one is locked; load the user."""
        now = self.clock()
        since = now - self.limits.window
        with self.session(write=True) as s:
            for key, limit in limits:
                times = s.exec(
                    select(SignInFailureRow.at)
                    .where(SignInFailureRow.key == key, SignInFailureRow.at > since)
                    .order_by(col(SignInFailureRow.at).desc())
                    .limit(limit)
                ).all()
                if len(times) >= limit:
                    # Free again once the oldest of the last `limit` failures leaves the window.
                    raise RateLimited(
                        _("too many failed sign-ins for this account or from this address"),
                        retry_after=min(times) + self.limits.window - now,
                    )
            s.exec(delete(SignInFailureRow).where(col(SignInFailureRow.at) <= since))
            rows = [SignInFailureRow(key=key, at=now) for key, _limit in limits]
            s.add_all(rows)
            s.flush()
            user = s.exec(select(UserRow).where(UserRow.email == email)).first()
            s.commit()
        return _Attempt(
            user_id=user.id if user else "",
            password_hash=user.password_hash if user else None,
            account_key=limits[0][0],
            reserved=[r.id for r in rows if r.id is not None],
        )

    @staticmethod
    def _forgive(s: Session, attempt: _Attempt) -> UserRow:
        """Clear the account's failures and this attempt's; the user, unless removed since."""
        s.exec(
            delete(SignInFailureRow).where(
                or_(
                    col(SignInFailureRow.key) == attempt.account_key,
                    col(SignInFailureRow.id).in_(attempt.reserved),
                )
            )
        )
        user = s.get(UserRow, attempt.user_id)
        if user is None:  # removed while the password was being verified
            raise Invalid([_("wrong e-mail address or password")])
        return user

    def _signed_in(self, attempt: _Attempt, new_hash: str | None) -> SignedIn:
        now = self.clock()
        with self.session(write=True) as s:
            user = self._forgive(s, attempt)
            user.last_sign_in_at = now
            if new_hash is not None:
                user.password_hash = new_hash
            s.exec(delete(SessionRow).where(col(SessionRow.expires_at) <= now))
            signed_in = self._open_session(s, user, now)
            s.commit()
        return signed_in

    def _open_session(self, s: Session, user: UserRow, now: float) -> SignedIn:
        token = secrets.token_urlsafe(32)
        expires_at = now + self.session_lifetime
        s.add(
            SessionRow(
                token_hash=hash_token(token), user_id=user.id, created_at=now, expires_at=expires_at
            )
        )
        return SignedIn(User.of(user), token, expires_at)

    async def session_user(self, token: str) -> User | None:
        """The user whose unexpired session ``token`` is, else ``None``."""
        return await self.sync(self._session_user, hash_token(token))

    def _session_user(self, digest: str) -> User | None:
        with self.session() as s:
            row = s.exec(
                select(UserRow)
                .join(SessionRow, col(SessionRow.user_id) == col(UserRow.id))
                .where(SessionRow.token_hash == digest, SessionRow.expires_at > self.clock())
            ).first()
        return None if row is None else User.of(row)

    async def sign_out(self, token: str) -> None:
        """End the session ``token`` (nothing happens for an unknown one)."""
        await self.sync(self._sign_out, hash_token(token))

    def _sign_out(self, digest: str) -> None:
        with self.session(write=True) as s:
            s.exec(delete(SessionRow).where(col(SessionRow.token_hash) == digest))
            s.commit()

    # -- users -------------------------------------------------------------------------------

    async def list_users(self, actor: User) -> list[User]:
        """Every user, oldest first (for the owner)."""
        _require_owner(actor)
        return await self.sync(self._list_users)

    def _list_users(self) -> list[User]:
        with self.session() as s:
            return [User.of(r) for r in s.exec(select(UserRow).order_by(col(UserRow.created_at)))]

    async def add_member(self, actor: User, email: str, name: str) -> PasswordLink:
        """Add a member; give them the returned link to choose their password."""
        _require_owner(actor)
        email, name = normalize_email(email), name.strip()
        _check(_email_problems(email) + _name_problems(name))
        return await self.sync(self._add_member, email, name)

    def _add_member(self, email: str, name: str) -> PasswordLink:
        taken = Conflict(_("a user with the e-mail address %(email)s exists already", email=email))
        now = self.clock()
        with self.session(write=True) as s:
            if s.exec(select(UserRow.id).where(UserRow.email == email)).first() is not None:
                raise taken
            row = UserRow(id=new_id(), email=email, name=name, role=Role.MEMBER, created_at=now)
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:
                raise taken from exc
            link = self._new_link(s, row, now)
            s.commit()
        return link

    async def issue_password_link(self, actor: User, user_id: str) -> PasswordLink:
        """A new link for a member to choose a password; earlier links stop working."""
        _require_owner(actor)
        return await self.sync(self._issue_link, user_id)

    def _issue_link(self, user_id: str) -> PasswordLink:
        with self.session(write=True) as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise NotFound(_("no user %(id)s", id=user_id))
            if row.role == Role.OWNER:
                raise Conflict(_("the owner changes their password in their own settings"))
            s.exec(delete(PasswordLinkRow).where(col(PasswordLinkRow.user_id) == user_id))
            link = self._new_link(s, row, self.clock())
            s.commit()
        return link

    def _new_link(self, s: Session, user: UserRow, now: float) -> PasswordLink:
        token = secrets.token_urlsafe(32)
        expires_at = now + LINK_LIFETIME
        s.add(
            PasswordLinkRow(
                token_hash=hash_token(token), user_id=user.id, created_at=now, expires_at=expires_at
            )
        )
        return PasswordLink(User.of(user), token, expires_at)

    async def password_link_user(self, token: str) -> User:
        """The user a valid link is for; :class:`NotFound` if it is unknown, used or expired."""
        return await self.sync(self._link_user, hash_token(token))

    def _link_user(self, digest: str) -> User:
        with self.session() as s:
            row = s.exec(
                select(UserRow)
                .join(PasswordLinkRow, col(PasswordLinkRow.user_id) == col(UserRow.id))
                .where(
                    PasswordLinkRow.token_hash == digest,
                    PasswordLinkRow.expires_at > self.clock(),
                )
            ).first()
        if row is None:
            raise NotFound(_("this link is unknown, used or expired: ask the owner for a new one"))
        return User.of(row)

    async def set_password_with_link(self, token: str, password: str) -> User:
        """Use a link once: set its user's password, end their sessions, and clear the
        account's failed sign-ins (whoever uses the link is the person the owner gave it to: a
        member locked out by them, or by someone guessing, can sign in with the new password
        at once; the limit of their client's address stays)."""
        _check(_password_problems(password))
        await self.password_link_user(token)  # refuse a bad link before hashing
        password_hash = await self.sync(self.hasher.hash, password)
        return await self.sync(self._use_link, hash_token(token), password_hash)

    def _use_link(self, digest: str, password_hash: str) -> User:
        with self.session(write=True) as s:
            link = s.get(PasswordLinkRow, digest)
            if link is None or link.expires_at <= self.clock():
                raise NotFound(
                    _("this link is unknown, used or expired: ask the owner for a new one")
                )
            user = s.get(UserRow, link.user_id)
            assert user is not None  # the link is deleted with its user
            user.password_hash = password_hash
            s.exec(delete(PasswordLinkRow).where(col(PasswordLinkRow.user_id) == user.id))
            s.exec(delete(SessionRow).where(col(SessionRow.user_id) == user.id))
            s.exec(
                delete(SignInFailureRow).where(
                    col(SignInFailureRow.key) == _account_key(user.email)
                )
            )
            s.commit()
            return User.of(user)

    async def change_password(
        self, user: User, current: str, new: str, *, keep_session: str | None = None
    ) -> None:
        """Change ``user``'s own password; their sessions end, except ``keep_session``.

        A wrong ``current`` password counts as a failed sign-in, so that a session left open
        does not let anyone try passwords faster than the sign-in page would; it is refused as
        the current password (the person is signed in: their e-mail address is not in doubt).
        """
        _check(_password_problems(new))
        try:
            attempt = await self._authenticate(user.email, current, "")
        except Invalid:
            raise Invalid([_("your current password is not right")]) from None
        password_hash = await self.sync(self.hasher.hash, new)
        keep = hash_token(keep_session) if keep_session else ""
        await self.sync(self._set_password, attempt, password_hash, keep)

    def _set_password(self, attempt: _Attempt, password_hash: str, keep: str) -> None:
        with self.session(write=True) as s:
            user = self._forgive(s, attempt)
            user.password_hash = password_hash
            s.exec(
                delete(SessionRow).where(
                    col(SessionRow.user_id) == user.id, col(SessionRow.token_hash) != keep
                )
            )
            s.commit()

    async def set_preferences(self, user: User, locale: str, time_zone: str) -> User:
        """Set the language (one of :data:`maillon.engine.i18n.LOCALES`, or ``""`` for the
        browser's) and time zone (an IANA name, or ``""`` for the install's) ``user`` reads."""
        problems = []
        if locale and supported(locale) != locale:
            problems.append(
                _("choose a language Maillon speaks: %(codes)s", codes=", ".join(LOCALES))
            )
        if time_zone and known_time_zone(time_zone) is None:
            problems.append(_("choose a time zone such as Europe/Paris"))
        _check(problems)
        return await self.sync(self._set_preferences, user.id, locale or None, time_zone or None)

    def _set_preferences(self, user_id: str, locale: str | None, time_zone: str | None) -> User:
        with self.session(write=True) as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise NotFound(_("no user %(id)s", id=user_id))
            row.locale, row.time_zone = locale, time_zone
            s.commit()
            s.refresh(row)
            return User.of(row)

    async def remove_user(self, actor: User, user_id: str) -> None:
        """Remove a member with their sessions, tokens and links (the owner stays)."""
        _require_owner(actor)
        await self.sync(self._remove_user, user_id)
        self.tokens.forget_user(user_id)

    def _remove_user(self, user_id: str) -> None:
        with self.session(write=True) as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise NotFound(_("no user %(id)s", id=user_id))
            if row.role == Role.OWNER:
                raise Conflict(_("the owner cannot be removed"))
            # Sessions, tokens and links go with the row (ON DELETE CASCADE).
            s.delete(row)
            s.commit()
