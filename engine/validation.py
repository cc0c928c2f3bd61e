"""Turning pydantic validation errors into messages for people."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from maillon.engine.errors import Invalid
from maillon.engine.i18n import N_, current_locale, ngettext, translations

__all__ = ["describe", "invalid", "problems", "reason", "too_long"]

#: What pydantic puts before the message of a ``ValueError`` raised by a validator: it tells
#: people nothing.
_VALUE_ERROR = "Value error, "


#: The reasons people meet most, by pydantic's error type, for the readers whose language has
#: them (placeholders: the error's context). Pydantic's own words are the English ones.
_REASONS = {
    "missing": N_("Field required"),
    "greater_than": N_("should be greater than %(gt)s"),
    "greater_than_equal": N_("should be greater than or equal to %(ge)s"),
    "less_than": N_("should be less than %(lt)s"),
    "less_than_equal": N_("should be less than or equal to %(le)s"),
    "literal_error": N_("should be %(expected)s"),
    "enum": N_("should be %(expected)s"),
    "url_parsing": N_("should be a valid URL (%(error)s)"),
    "int_parsing": N_("should be a whole number"),
    "float_parsing": N_("should be a number"),
    "bool_parsing": N_("should be true or false"),
    "string_type": N_("should be text"),
}


def _length_reason(err: Any) -> str | None:
    """A text's length refused, in the plural form its limit takes in the reader's language
    (``None``: another reason)."""
    ctx = err.get("ctx") or {}
    if err["type"] == "string_too_short" and isinstance(ctx.get("min_length"), int):
        return ngettext(
            "should have at least %(num)s character",
            "should have at least %(num)s characters",
            ctx["min_length"],
        )
    if err["type"] == "string_too_long" and isinstance(ctx.get("max_length"), int):
        return too_long(ctx["max_length"])
    return None


def too_long(limit: int) -> str:
    """The reason a text longer than ``limit`` characters is refused, in the reader's words."""
    return ngettext(
        "should have at most %(num)s character", "should have at most %(num)s characters", limit
    )


def reason(err: Any) -> str:
    """One of pydantic's errors in words for people: the reader's language where it has
    them, else pydantic's own words without their "Value error" prefix."""
    counted = _length_reason(err)
    if counted is not None:
        return counted
    message = _REASONS.get(err["type"])
    if message is not None:
        translated = translations(current_locale()).gettext(message)
        if translated != message:
            try:
                return translated % dict(err.get("ctx") or {})
            except (KeyError, TypeError, ValueError):
                pass  # a context unlike the usual one: pydantic's words say it
    return str(err["msg"]).removeprefix(_VALUE_ERROR)


def describe(exc: ValidationError) -> str:
    """``"field.sub: reason; other: reason"``.

    Only locations and reasons: pydantic's own text quotes the input values, which for a
    connection may be a secret, and these messages end up in step errors and API answers.
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {reason(err)}" for err in exc.errors()
    )


def problems(exc: ValidationError) -> list[str]:
    """One ``"steps[0].key: reason"`` per error, list indexes in brackets (no input values)."""
    out = []
    for err in exc.errors():
        where = ""
        for part in err["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        out.append(f"{where or 'value'}: {reason(err)}")
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
            general.append(reason(err))
            continue
        inner = ".".join(loc[1:])
        said = f"{inner}: {reason(err)}" if inner else reason(err)
        key = prefix + loc[0]
        fields[key] = f"{fields[key]}; {said}" if key in fields else said
    return Invalid(general, fields)
