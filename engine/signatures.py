"""Signed webhook deliveries: the HMAC a sender computes over each body, checked at intake.

A webhook trigger may name a ``signature``: how its sender signs (a preset for the common
senders, or the parts of a generic HMAC scheme) and the connection that holds the shared
secret (a ``webhook`` connection, encrypted at rest like every other secret). A delivery whose
signature is missing, wrong, or whose timestamp is outside the tolerance is answered 401 and
recorded as a rejected delivery, never stored as an event nor silently dropped.

The check compares digests in constant time (:func:`hmac.compare_digest`), over the raw bytes
the sender posted (a form body re-encoded as JSON would not match).

Generic scheme: ``HMAC(secret, message)`` where ``message`` is ``{body}`` or, with a
timestamp header, a template such as ``{timestamp}.{body}``; the header holds the digest in hex
or base64, after an optional prefix (``sha256=``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["PRESETS", "SIGNING_SECRET_APP", "Scheme", "SignatureSpec", "signature_problem"]

#: The app of the connections that hold signing secrets (``maillon.connectors.webhook``).
SIGNING_SECRET_APP = "webhook"  # noqa: S105 (an app's name, not a secret)


@dataclass(frozen=True)
class Scheme:
    """How one sender signs."""

    header: str
    algorithm: Literal["sha256", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    #: Written before the digest in the header (``sha256=``, ``v0=``).
    prefix: str = ""
    #: What is signed: ``{body}``, with ``{timestamp}`` when the sender signs one too.
    message: str = "{body}"
    timestamp_header: str | None = None
    #: Stripe's header: ``t=<timestamp>,v1=<digest>[,v1=<digest>...]``.
    stripe: bool = False


#: The senders whose schemes are built in.
PRESETS: dict[str, Scheme] = {
    "github": Scheme(header="x-hub-signature-256", prefix="sha256="),
    "shopify": Scheme(header="x-shopify-hmac-sha256", encoding="base64"),
    "slack": Scheme(
        header="x-slack-signature",
        prefix="v0=",
        message="v0:{timestamp}:{body}",
        timestamp_header="x-slack-request-timestamp",
    ),
    "stripe": Scheme(header="stripe-signature", message="{timestamp}.{body}", stripe=True),
}


class SignatureSpec(BaseModel):
    """How a webhook trigger's deliveries are signed (see :mod:`maillon.engine.signatures`)."""

    model_config = ConfigDict(extra="forbid")

    connection: str = Field(
        description="Name of the `webhook` connection that holds the shared signing secret."
    )
    preset: Literal["github", "shopify", "slack", "stripe"] | None = Field(
        None, description="A sender's scheme; the fields below are then ignored."
    )
    header: str | None = Field(
        None, max_length=100, description="Header carrying the signature.", examples=["X-Signature"]
    )
    algorithm: Literal["sha256", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field("", max_length=50, description="Before the digest, e.g. 'sha256='.")
    timestamp_header: str | None = Field(
        None, max_length=100, description="Header with the signing time (Unix seconds)."
    )
    message: str = Field(
        "{body}",
        max_length=200,
        description="What is signed: '{body}', or e.g. '{timestamp}.{body}'.",
    )
    tolerance: int = Field(
        300,
        ge=1,
        le=86400,
        description="Seconds a signed timestamp may be away from now (replays are refused).",
    )

    @model_validator(mode="after")
    def _complete(self) -> SignatureSpec:
        if "{body}" not in self.message:
            raise ValueError("the message must contain {body}")
        if self.preset is None and not self.header:
            raise ValueError("give a preset, or the header that carries the signature")
        if "{timestamp}" in self.message and self.preset is None and not self.timestamp_header:
            raise ValueError("the message signs {timestamp}: name its timestamp_header")
        return self

    @property
    def scheme(self) -> Scheme:
        """The scheme this spec names."""
        if self.preset is not None:
            return PRESETS[self.preset]
        assert self.header is not None  # checked by the validator
        return Scheme(
            header=self.header.lower(),
            algorithm=self.algorithm,
            encoding=self.encoding,
            prefix=self.prefix,
            message=self.message,
            timestamp_header=self.timestamp_header.lower() if self.timestamp_header else None,
        )


def _given(scheme: Scheme, headers: Mapping[str, str]) -> tuple[list[str], str | None]:
    """The signatures a delivery carries, and the timestamp it signed."""
    value = headers.get(scheme.header, "")
    if scheme.stripe:
        parts = [p.partition("=") for p in value.split(",")]
        stamps = [v.strip() for k, _, v in parts if k.strip() == "t"]
        signed = [v.strip() for k, _, v in parts if k.strip() == "v1" and v.strip()]
        return signed, stamps[0] if stamps else None
    stamp = headers.get(scheme.timestamp_header) if scheme.timestamp_header else None
    if not value or not value.startswith(scheme.prefix):
        return [], stamp
    return [value[len(scheme.prefix) :].strip()], stamp


def _decoded(signature: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(signature)
        return base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return None


def signature_problem(
    spec: SignatureSpec,
    secret: str,
    raw: bytes,
    headers: Mapping[str, str],
    now: float | None = None,
) -> str | None:
    """Why the delivery's signature does not hold (``None``: it does). ``headers``: names in
    lower case."""
    scheme = spec.scheme
    signatures, stamp = _given(scheme, headers)
    if not signatures:
        return f"no signature in the {scheme.header} header"
    message = raw
    if "{timestamp}" in scheme.message:
        # ASCII digits, at most a timestamp in milliseconds' length: str.isdigit() takes "¹"
        # (headers are read as Latin-1), which int() refuses, and 400 digits overflow a float.
        if stamp is None or not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 13):
            return "no signing timestamp with the signature"
        if abs((now if now is not None else time.time()) - int(stamp)) > spec.tolerance:
            return f"the signing timestamp is more than {spec.tolerance}s away from now"
        before, _, after = scheme.message.replace("{timestamp}", stamp).partition("{body}")
        message = before.encode() + raw + after.encode()
    expected = hmac.new(secret.encode(), message, getattr(hashlib, scheme.algorithm)).digest()
    for signature in signatures:
        given = _decoded(signature, scheme.encoding)
        if given is not None and hmac.compare_digest(given, expected):
            return None
    return "the signature does not match (wrong secret, or the body was changed)"
