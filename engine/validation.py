"""Turning pydantic validation errors into messages for people."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["describe"]


def describe(exc: ValidationError) -> str:
    """``"field.sub: reason; other: reason"``.

    Only locations and reasons: pydantic's own text quotes the input values, which for a
    connection may be a secret, and these messages end up in step errors and API answers.
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )
