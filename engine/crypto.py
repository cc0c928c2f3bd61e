"""Encryption of connection secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256), and key rotation.

The operator's secret may hold several keys, newest first, one per line in the key file or
separated by commas in ``MAILLON_SECRET_KEY``. Secrets are sealed with the newest and opened
with whichever key sealed them (``cryptography``'s MultiFernet), so that a rotation
(:mod:`maillon.engine.services.keys`) can re-encrypt rows one by one while every process goes
on reading them.

A box made from the key file notices when the file changes (a rotation wrote a new key first
in it): before sealing, and when a secret does not open with the keys it has, it reads the file
again. Running processes therefore follow a rotation without a restart, never sealing with a
key the file no longer lists first, and opening rows already re-encrypted under the new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

__all__ = ["SecretBox", "parse_keys"]


def parse_keys(text: str) -> list[str]:
    """The keys written in ``text``, newest first: one per line, or separated by commas."""
    return [key.strip() for key in re.split(r"[\n,]", text) if key.strip()]


def _fernet_key(secret: str) -> bytes:
    # Any string is accepted as the operator's key; Fernet needs exactly 32 url-safe bytes.
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


class SecretBox:
    """Encrypts and decrypts JSON-able secrets with keys derived from the operator's secret.

    ``key_file``: where ``secret_key`` was read from, to follow its changes (see the module).
    """

    def __init__(self, secret_key: str, *, key_file: Path | None = None) -> None:
        self._key_file = key_file
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._keys = self._checked(secret_key)
        self._multi: MultiFernet | None = None

    @staticmethod
    def _checked(text: str) -> tuple[bytes, ...]:
        keys = tuple(_fernet_key(k) for k in parse_keys(text))
        if not keys:
            raise ValueError("the secret key is empty: set MAILLON_SECRET_KEY or its key file")
        return keys

    def _file_stamp(self) -> tuple[int, int] | None:
        if self._key_file is None:
            return None
        try:
            st = self._key_file.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _reload(self) -> bool:
        """Read the key file again if it changed; whether the keys did."""
        stamp = self._file_stamp()
        if self._key_file is None or stamp is None or stamp == self._stamp:
            return False
        with self._lock:
            keys = self._checked(self._key_file.read_text())
            changed = keys != self._keys
            self._keys, self._stamp, self._multi = keys, stamp, None
        return changed

    def _fernet(self) -> MultiFernet:
        multi = self._multi
        if multi is None:
            # Imported on first use: cryptography adds to a server's resident memory, and one
            # that serves hooks without reading or saving a connection never needs it.
            from cryptography.fernet import Fernet, MultiFernet

            multi = self._multi = MultiFernet([Fernet(k) for k in self._keys])
        return multi

    def seal(self, values: dict[str, Any]) -> str:
        """Encrypt a mapping of secret values with the newest key."""
        self._reload()
        return self._fernet().encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str | None) -> dict[str, Any]:
        """Decrypt what :meth:`seal` produced; raise ``ValueError`` if no key opens it."""
        if not token:
            return {}
        from cryptography.fernet import InvalidToken  # on first use, as in _fernet

        try:
            plain = self._fernet().decrypt(token.encode())
        except InvalidToken:
            if not self._reload():
                raise self._wrong_key() from None
            try:
                plain = self._fernet().decrypt(token.encode())
            except InvalidToken:
                raise self._wrong_key() from None
        data: dict[str, Any] = json.loads(plain)
        return data

    def reseal(self, token: str) -> str:
        """``token`` encrypted again with the newest key (any of the keys opens it)."""
        from cryptography.fernet import InvalidToken

        self._reload()
        try:
            return self._fernet().rotate(token.encode()).decode()
        except InvalidToken:
            raise self._wrong_key() from None

    @property
    def key_count(self) -> int:
        """How many keys the box holds (the newest seals; every one opens)."""
        return len(self._keys)

    @staticmethod
    def _wrong_key() -> ValueError:
        return ValueError("cannot decrypt connection secrets: wrong MAILLON_SECRET_KEY?")
