"""Pydantic's refusals in words for people, in the reader's language, never quoting values."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError

from maillon.engine.i18n import use_locale
from maillon.engine.validation import describe, invalid, problems


class Form(BaseModel):
    name: str = Field(min_length=2)
    attempts: int = Field(le=5)
    token: SecretStr


def _refusal() -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        Form.model_validate({"name": "x", "attempts": 9})
    return refused.value


def test_the_reasons_are_pydantics_words_in_english_but_lengths() -> None:
    assert problems(_refusal()) == [
        "name: should have at least 2 characters",
        "attempts: Input should be less than or equal to 5",
        "token: Field required",
    ]


def test_the_reasons_people_meet_most_are_in_the_readers_language() -> None:
    with use_locale("fr"):
        assert problems(_refusal()) == [
            "name: doit contenir au moins 2 caractères",
            "attempts: doit être inférieur ou égal à 5",
            "token: Champ obligatoire",
        ]
        assert invalid(_refusal(), "values.").fields == {
            "values.name": "doit contenir au moins 2 caractères",
            "values.attempts": "doit être inférieur ou égal à 5",
            "values.token": "Champ obligatoire",
        }
        assert describe(_refusal()).startswith("name: doit contenir au moins 2 caractères; ")


def test_a_length_takes_the_plural_form_of_its_limit() -> None:
    class Named(BaseModel):
        name: str = Field(min_length=1, max_length=3)

    for value, english, french in [
        ("", "should have at least 1 character", "doit contenir au moins 1 caractère"),
        ("long", "should have at most 3 characters", "doit contenir au plus 3 caractères"),
    ]:
        with pytest.raises(ValidationError) as refused:
            Named.model_validate({"name": value})
        assert problems(refused.value) == [f"name: {english}"]
        with use_locale("fr"):
            assert problems(refused.value) == [f"name: {french}"]
