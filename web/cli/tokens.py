"""``maillon tokens``: API tokens, created, listed and revoked."""

from __future__ import annotations

import click

from maillon.web.cli._base import Ctx, pass_ctx, when

__all__ = ["tokens"]


@click.group()
def tokens() -> None:
    """API tokens (bearer tokens for /api)."""


@tokens.command("create")
@click.argument("name")
@pass_ctx
def tokens_create(obj: Ctx, name: str) -> None:
    """Create a token and print it once; only its hash is kept."""
    row, plaintext = obj.run(obj.services.tokens.create(name))
    click.echo(plaintext)
    click.echo(f"(token {row.id} '{name}': store it now, it cannot be shown again)", err=True)


@tokens.command("list")
@pass_ctx
def tokens_list(obj: Ctx) -> None:
    """List tokens: id, name, when each was last used (never their value)."""
    for r in obj.run(obj.services.tokens.list()):
        used = f"last used {when(r.last_used_at)}" if r.last_used_at else "never used"
        click.echo(f"{r.id}  {r.name}  ({used})")


@tokens.command("revoke")
@click.argument("token_id")
@pass_ctx
def tokens_revoke(obj: Ctx, token_id: str) -> None:
    """Revoke a token by id."""
    obj.run(obj.services.tokens.revoke(token_id))
    click.echo("revoked")
