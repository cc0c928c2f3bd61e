"""Key rotation: every stored secret re-encrypted under a new key, while the install runs.

With the key in the data directory's key file, :meth:`Keys.rotate` makes a new key and writes
it first in the file (atomically, readable by its owner only), keeping the key it replaces
second, then re-encrypts every connection's secrets and every pending OAuth state under the
new key, and so are the secret inputs written in flows (their published definitions, drafts
and the versions kept), a few rows per transaction so that intake is never held up for long. Running
processes notice the file's change (:class:`~maillon.engine.crypto.SecretBox`): they go on
opening rows under either key and seal new ones under the new key. No restart, no downtime.

The replaced key stays second in the file for rows a process may have sealed while the
rotation ran; the next rotation drops it. With the keys in ``MAILLON_SECRET_KEY`` (which no
command can change), the operator puts a new key first in the list on every process, and the
rotation re-encrypts under it; the old key can then be removed from the list.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select

from maillon.engine.crypto import SecretBox, parse_keys
from maillon.engine.models import ConnectionRow, FlowRow, FlowVersionRow, OAuthStateRow
from maillon.engine.secret_inputs import resealed
from maillon.engine.services.base import Service
from maillon.engine.settings import Settings

__all__ = ["Keys", "Rotation"]

#: Rows re-encrypted per write transaction.
_BATCH = 100

_Row = TypeVar("_Row", bound=SQLModel)


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

    #: Connections and OAuth states whose secrets were re-encrypted.
    connections: int
    oauth_states: int
    #: Flows with secret inputs written in them (in any of their versions or their draft).
    flows: int
    #: The key file written, or ``None`` when the keys come from ``MAILLON_SECRET_KEY``.
    key_file: Path | None


class Keys(Service):
    """Rotates the key that encrypts stored secrets (see the module)."""

    def __init__(self, db: Engine, box: SecretBox, settings: Settings) -> None:
        super().__init__(db)
        self._box = box
        self._settings = settings

    async def rotate(self) -> Rotation:
        """A new key first (in the key file), then every secret re-encrypted under it."""
        key_file = self._settings.key_file
        if key_file is not None:
            await self.sync(_add_key, key_file)
        connections = await self.sync(self._reseal, ConnectionRow, "id", "secrets")
        states = await self.sync(self._reseal, OAuthStateRow, "state", "payload")
        flows = await self.sync(self._reseal_flows)
        return Rotation(connections, states, flows, key_file)

    def _reseal(
        self, model: type[ConnectionRow | OAuthStateRow], key_name: str, column: str
    ) -> int:
        """Re-encrypt ``model.column`` in every row that has one."""
        done = 0
        for _, rows in self._batches(model, key_name, col(getattr(model, column)) != ""):
            for row in rows:
                setattr(row, column, self._box.reseal(getattr(row, column)))
            done += len(rows)
        return done

    def _reseal_flows(self) -> int:
        """Re-encrypt the secret inputs of every flow: its definition, its draft, and every
        version kept (a failed run replays the version it ran). How many flows had some."""
        touched: set[str] = set()
        for s, flows in self._batches(FlowRow, "id"):
            versions = s.exec(
                select(FlowVersionRow).where(col(FlowVersionRow.flow_id).in_([f.id for f in flows]))
            ).all()
            rows: list[tuple[str, FlowRow | FlowVersionRow]] = [
                *((f.id, f) for f in flows),
                *((v.flow_id, v) for v in versions),
            ]
            for flow_id, row in rows:
                for column in ("definition", "draft"):
                    text = getattr(row, column, None)
                    if text is not None and (again := resealed(text, self._box)) != text:
                        setattr(row, column, again)
                        touched.add(flow_id)
        return len(touched)

    def _batches(
        self, model: type[_Row], key_name: str, *where: Any
    ) -> Iterator[tuple[Session, Sequence[_Row]]]:
        """Every row of ``model`` (matching ``where``), walked by its key ``key_name`` in
        batches of :data:`_BATCH`, each in a write transaction committed once the caller is
        done with it."""
        key = col(getattr(model, key_name))
        after = ""
        while True:
            with self.session(write=True) as s:
                rows = s.exec(
                    select(model).where(key > after, *where).order_by(key).limit(_BATCH)
                ).all()
                if not rows:
                    return
                yield s, rows
                s.commit()
            after = getattr(rows[-1], key_name)


def _add_key(path: Path) -> None:
    """Write a new key first in ``path``, the current one second, atomically and 0600."""
    current = parse_keys(path.read_text()) if path.exists() else []
    keys = [secrets.token_urlsafe(32), *current[:1]]
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(keys) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
