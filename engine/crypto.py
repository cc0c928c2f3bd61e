"""Encryption of connection secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["SecretBox"]


class SecretBox:
    """Encrypts and decrypts JSON-able secrets with a key derived from the operator's secret."""

    def __init__(self, secret_key: str) -> None:
        # Any string is accepted as the operator's key; Fernet needs exactly 32 url-safe bytes.
        self._key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())

    @cached_property
    def _fernet(self) -> Fernet:
        # Imported on first use: cryptography adds to a server's resident memory, and one
        # that serves hooks without reading or saving a connection never needs it.
        from cryptography.fernet import Fernet

        return Fernet(self._key)

    def seal(self, values: dict[str, Any]) -> str:
        """Encrypt a mapping of secret values."""
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, token: str | None) -> dict[str, Any]:
        """Decrypt what :meth:`seal` produced; raise ``ValueError`` if the key is wrong."""
        if not token:
            return {}
        from cryptography.fernet import InvalidToken  # on first use, as in _fernet

        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError(
                "cannot decrypt connection secrets: wrong MAILLON_SECRET_KEY?"
            ) from exc
        return data
