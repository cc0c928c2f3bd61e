"""Turning pydantic validation errors into messages for people."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["describe", "problems"]


def describe(exc: ValidationError) -> str:
    """``"field.sub: reason; other: reason"``.

    Only locations and reasons: pydantic's own text quotes the input values, which for a
    connection may be a secret, and these messages end up in step errors and API answers.
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )


def problems(exc: ValidationError) -> list[str]:
    """One ``"steps[0].key: reason"`` per error, list indexes in brackets (no input values)."""
    out = []
    for err in exc.errors():
        where = ""
        for part in err["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        out.append(f"{where or 'value'}: {err['msg']}")
    return out
