"""``maillon keys``: the key that encrypts stored secrets."""

from __future__ import annotations

import click

from maillon.web.cli._base import Ctx, pass_ctx

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """The key that encrypts connection secrets."""


@keys.command("rotate")
@pass_ctx
def keys_rotate(obj: Ctx) -> None:
    """Re-encrypt every stored secret under a new key, while the install runs.

    With a key file, a new key is written first in it (the replaced one kept second, for the
    processes still using it). With MAILLON_SECRET_KEY, put the new key first in its
    comma-separated list on every process, then run this.
    """
    done = obj.run(obj.services.keys.rotate())
    if done.key_file is not None:
        click.echo(f"new key written first in {done.key_file} (the previous one kept second)")
    else:
        click.echo("re-encrypted under the first key of MAILLON_SECRET_KEY")
    click.echo(
        f"re-encrypted: {done.connections} connection(s), {done.oauth_states} OAuth state(s), "
        f"the secret inputs of {done.flows} flow(s)"
    )
    click.echo("back the key file up again: older backups need the previous key", err=True)
