"""Turning pydantic validation errors into messages for people."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from maillon.engine.errors import Invalid

__all__ = ["describe", "invalid", "problems"]

#: What pydantic puts before the message of a ``ValueError`` raised by a validator: it tells
#: people nothing.
_VALUE_ERROR = "Value error, "


def _reason(err: Any) -> str:
    return str(err["msg"]).removeprefix(_VALUE_ERROR)


def describe(exc: ValidationError) -> str:
    """``"field.sub: reason; other: reason"``.

    Only locations and reasons: pydantic's own text quotes the input values, which for a
    connection may be a secret, and these messages end up in step errors and API answers.
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {_reason(err)}" for err in exc.errors()
    )


def problems(exc: ValidationError) -> list[str]:
    """One ``"steps[0].key: reason"`` per error, list indexes in brackets (no input values)."""
    out = []
    for err in exc.errors():
        where = ""
        for part in err["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        out.append(f"{where or 'value'}: {_reason(err)}")
    return out


def invalid(exc: ValidationError, prefix: str = "") -> Invalid:
    """The same reasons as :func:`describe`, each tied to its input where it has one.

    A reason about a field goes under ``prefix + field`` (``values.bot_token``: the input as the
    caller named it); one about the model as a whole (a validator that compares fields) is
    general. Like :func:`describe`, no input value is quoted.
    """
    general: list[str] = []
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if not loc:
            general.append(_reason(err))
            continue
        inner = ".".join(loc[1:])
        reason = f"{inner}: {_reason(err)}" if inner else _reason(err)
        key = prefix + loc[0]
        fields[key] = f"{fields[key]}; {reason}" if key in fields else reason
    return Invalid(general, fields)
