from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from maillon.connectors.particeep import get_event, load_events
from maillon.connectors.particeep.models import Transaction, User

ENTITY_MODELS: dict[str, type[BaseModel]] = {"user": User, "transaction": Transaction}


def test_the_catalog_has_the_known_events() -> None:
    names = {e.name for e in load_events()}
    assert {
        "transaction_created",
        "transaction_updated",
        "user_created",
        "user_updated",
        "user_deleted",
    } <= names
    user_deleted = get_event("user_deleted")
    assert user_deleted is not None
    assert user_deleted.evidence == "documented"
    assert get_event("nope_nope") is None


@pytest.mark.parametrize("spec", load_events(), ids=lambda s: s.name)
def test_every_sample_is_a_bare_entity_with_an_id(spec) -> None:
    body = json.loads(json.dumps(spec.sample_payload()))
    assert isinstance(body["id"], str)
    assert body["id"]
    assert spec.name.startswith(spec.entity + "_")
    assert "event" not in body  # Particeep sends the bare entity
    if spec.entity in ENTITY_MODELS:
        ENTITY_MODELS[spec.entity].model_validate(body)
    if spec.evidence == "inferred":
        assert "nferred" in spec.description


def test_sample_payload_is_a_copy() -> None:
    spec = get_event("transaction_created")
    assert spec is not None
    spec.sample_payload()["amount"] = 1
    assert spec.sample_payload()["amount"] == 150000


def test_an_extra_file_corrects_and_extends_the_catalog(tmp_path: Path) -> None:
    extra = tmp_path / "events.yaml"
    extra.write_text(
        "events:\n"
        "  - {name: fundraise_updated, entity: fundraise, evidence: documented,\n"
        "     description: Confirmed by Particeep., sample: {id: f1}}\n"
        "  - {name: wallet_created, entity: wallet, evidence: inferred,\n"
        "     description: Inferred., sample: {id: w1}}\n"
    )
    events = {e.name: e for e in load_events([extra])}
    assert events["fundraise_updated"].evidence == "documented"
    assert events["wallet_created"].sample == {"id": "w1"}
    assert events["user_created"].evidence == "named"


def test_a_sample_without_id_is_refused(tmp_path: Path) -> None:
    extra = tmp_path / "bad.yaml"
    extra.write_text(
        "events:\n  - {name: user_created, entity: user, evidence: named, "
        "description: x, sample: {email: a@example.com}}\n"
    )
    with pytest.raises(ValidationError, match="string id"):
        load_events([extra])
