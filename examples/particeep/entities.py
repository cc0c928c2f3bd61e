"""Realistic Particeep entities (users, transactions) for demos, the simulator and tests.

Values look like a French crowdfunding platform's: French names, amounts in cents of EUR,
Particeep's statuses. Nothing here can reach a real person: emails use the reserved
``example.*`` domains and phone numbers come from the range that the French regulator (ARCEP)
sets aside for fiction (06 39 98 xx xx).

Pass a seeded ``random.Random`` for reproducible values (ids included).
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from maillon.connectors.particeep.events import get_event

__all__ = ["GENERATORS", "make_entity", "make_transaction", "make_user", "new_id"]

Entity = dict[str, Any]

_FIRST_NAMES = (
    ("Camille", "WOMAN"), ("Léa", "WOMAN"), ("Manon", "WOMAN"), ("Chloé", "WOMAN"),
    ("Inès", "WOMAN"), ("Émilie", "WOMAN"), ("Sophie", "WOMAN"), ("Hélène", "WOMAN"),
    ("Lucas", "MAN"), ("Hugo", "MAN"), ("Louis", "MAN"), ("Théo", "MAN"),
    ("Julien", "MAN"), ("Nicolas", "MAN"), ("François", "MAN"), ("Mathéo", "MAN"),
)  # fmt: skip
_LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Fournier",
    "Lambert", "Girard", "Bonnet", "Dupont", "Rousseau", "Chevalier", "Faure", "Mercier",
)  # fmt: skip
_CITIES = (
    ("Paris", "75011"), ("Lyon", "69003"), ("Marseille", "13006"), ("Toulouse", "31000"),
    ("Nantes", "44000"), ("Bordeaux", "33000"), ("Lille", "59000"), ("Rennes", "35000"),
    ("Strasbourg", "67000"), ("Montpellier", "34000"),
)  # fmt: skip
_STREETS = (
    "rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Voltaire",
    "rue du Moulin", "place de la Mairie", "rue des Lilas", "allée des Tilleuls",
)  # fmt: skip
_DOMAINS = ("example.com", "example.org", "example.net")
_TRANSACTION_STATUSES = ("PENDING", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FROZEN", "CANCELLED")
_PAYMENT_METHODS = ("WALLET", "CREDIT_CARD", "DIRECT_CASHIN")
_FUNDRAISE_TYPES = ("FUNDRAISE_LOAN", "FUNDRAISE_LOAN", "FUNDRAISE_EQUITY", "FUNDRAISE_REWARD")


def new_id(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (so a seed reproduces ids too)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def make_user(rng: random.Random | None = None, *, now: datetime | None = None) -> Entity:
    """A user as Particeep would post it for ``user_created``."""
    rng = rng or random.Random()
    now = now or datetime.now(UTC)
    first_name, gender = rng.choice(_FIRST_NAMES)
    last_name = rng.choice(_LAST_NAMES)
    city, zip_code = rng.choice(_CITIES)
    email = f"{_ascii(first_name)}.{_ascii(last_name)}{rng.randint(1, 99)}@{rng.choice(_DOMAINS)}"
    birthday = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
    return {
        "id": new_id(rng),
        "created_at": _iso(now),
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "gender": gender,
        "birthday": birthday.isoformat(),
        "birth_place": rng.choice(_CITIES)[0],
        "birth_country": "FR",
        "nationality": "FR",
        "phone": f"+33 6 39 98 {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}",
        "investor_type": "NATURAL" if rng.random() < 0.9 else "LEGAL",
        "has_been_claimed": False,
        "lang": "fr",
        "addresses": [
            {
                "number": str(rng.randint(1, 180)),
                "street": rng.choice(_STREETS),
                "zip": zip_code,
                "city": city,
                "country": "FR",
            }
        ],
        "custom": {},
    }


def make_transaction(
    rng: random.Random | None = None,
    *,
    issuer_id: str | None = None,
    status: str | None = None,
    now: datetime | None = None,
) -> Entity:
    """A transaction (an investment by a user) as Particeep would post it.

    ``amount`` is in cents: investments between 100 EUR and 20,000 EUR, in steps of 50 EUR, as
    crowdfunding tickets usually are.
    """
    rng = rng or random.Random()
    now = now or datetime.now(UTC)
    status = status or rng.choice(_TRANSACTION_STATUSES)
    amount = rng.randint(2, 400) * 50 * 100
    transaction: Entity = {
        "id": new_id(rng),
        "created_at": _iso(now),
        "issuer_id": issuer_id or new_id(rng),
        "issuer_type": "USER",
        "recipient_id": new_id(rng),
        "recipient_type": "ENTERPRISE",
        "fundraise_id": new_id(rng),
        "fundraise_type": rng.choice(_FUNDRAISE_TYPES),
        "amount": amount,
        "fees": 0,
        "currency": "EUR",
        "status": status,
        "payment_method": rng.choice(_PAYMENT_METHODS),
        "handled_offline": False,
        "custom": {},
    }
    if status == "SUCCEEDED":
        transaction["succeeded_at"] = _iso(now + timedelta(seconds=rng.randint(5, 300)))
    return transaction


def _updated_user(rng: random.Random) -> Entity:
    user = make_user(rng, now=datetime.now(UTC) - timedelta(days=rng.randint(1, 400)))
    user["has_been_claimed"] = True
    user["tag"] = rng.choice(("investisseur-actif", "newsletter", "vip"))
    return user


def _updated_transaction(rng: random.Random) -> Entity:
    return make_transaction(
        rng, status="SUCCEEDED", now=datetime.now(UTC) - timedelta(minutes=rng.randint(1, 90))
    )


#: Events with a dedicated generator; others fall back to the catalog's sample (fresh id).
GENERATORS: dict[str, Callable[[random.Random], Entity]] = {
    "user_created": make_user,
    "user_updated": _updated_user,
    "user_deleted": _updated_user,
    "transaction_created": lambda rng: make_transaction(rng, status="PENDING"),
    "transaction_updated": _updated_transaction,
}


def make_entity(event: str, rng: random.Random | None = None) -> Entity:
    """A realistic body for ``event``; ``KeyError`` if the event is unknown."""
    rng = rng or random.Random()
    generator = GENERATORS.get(event)
    if generator is not None:
        return generator(rng)
    spec = get_event(event)
    if spec is None:
        raise KeyError(f"unknown Particeep event {event!r}")
    entity = spec.sample_payload()
    entity["id"] = new_id(rng)
    entity["created_at"] = _iso(datetime.now(UTC))
    return entity
