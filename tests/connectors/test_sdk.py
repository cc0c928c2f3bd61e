"""The public SDK: what it exports, and actions that name their models once."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import BaseModel

from maillon.connectors import sdk
from maillon.connectors.registry import Registry
from maillon.connectors.sdk import Action, ActionContext, Connection, Connector, NoConnection

CONNECTORS = Path(sdk.__file__).parent


class Token(Connection):
    token: str = ""


class Note(BaseModel):
    text: str


class Receipt(BaseModel):
    id: str


class CreateNote(Action[Token, Note, Receipt]):
    key = "create_note"
    title = "Create a note"

    def run(self, ctx: ActionContext, conn: Token, data: Note) -> Receipt:
        return Receipt(id=data.text)


def test_every_exported_name_exists() -> None:
    assert sorted(sdk.__all__) == sorted(set(sdk.__all__))
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None, name


def test_built_in_connectors_import_the_sdk_only() -> None:
    # The SDK's private homes are for the engine: a connector that imports them directly would
    # not be held to the public surface that outside packages get.
    private = {"maillon.connectors.base", "maillon.connectors.errors", "maillon.connectors.files"}
    offenders = []
    for path in CONNECTORS.glob("*/**/*.py"):
        if path.parent.name == "testing":
            continue  # the testing kit is part of the SDK, not a connector
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (
                node.module in private
                or (
                    node.module == "maillon.connectors"
                    and {alias.name for alias in node.names} & {"base", "errors"}
                )
            ):
                offenders.append(f"{path.relative_to(CONNECTORS)}:{node.lineno}")
    assert offenders == []


def test_models_come_from_the_generic_parameters() -> None:
    assert CreateNote.ConnectionModel is Token
    assert CreateNote.Input is Note
    assert CreateNote.Output is Receipt
    assert CreateNote().Input is Note  # on instances too


def test_every_built_in_action_has_its_models() -> None:
    actions = [action for connector in Registry().all() for action in connector.actions]
    assert len(actions) >= 10
    for action in actions:
        assert issubclass(action.Input, BaseModel), action
        assert issubclass(action.Output, BaseModel), action
        assert action.Input.model_json_schema()["type"] == "object"


def test_an_action_without_models_fails_at_definition() -> None:
    with pytest.raises(TypeError, match=r"Bare names no models: write class Bare\(Action\[MyCo"):

        class Bare(Action):  # type: ignore[type-arg]
            key = "bare"


def test_a_parameter_that_is_not_a_model_fails_at_definition() -> None:
    with pytest.raises(TypeError, match="the Output parameter of Action must be a subclass of"):

        class Loose(Action[Token, Note, dict[str, str]]):  # type: ignore[type-var]
            key = "loose"


def test_the_connection_parameter_must_be_a_connection() -> None:
    with pytest.raises(TypeError, match=r"ConnectionModel parameter .* subclass of Connection"):

        class Odd(Action[Note, Note, Receipt]):  # type: ignore[type-var]
            key = "odd"


def test_models_set_twice_are_refused() -> None:
    with pytest.raises(TypeError, match="sets Input: name the models once"):

        class Twice(Action[Token, Note, Receipt]):
            key = "twice"
            Input = Note


def test_a_subclass_of_an_action_keeps_its_models() -> None:
    class CreatePinnedNote(CreateNote):
        key = "create_pinned_note"

    assert (CreatePinnedNote.Input, CreatePinnedNote.Output) == (Note, Receipt)


InT = TypeVar("InT", bound=BaseModel)
OutT = TypeVar("OutT", bound=BaseModel)


class TokenAction(Action[Token, InT, OutT]):
    """A generic base for the actions of one app, as a connector with many may write."""


def test_a_generic_action_leaves_models_to_its_subclasses() -> None:
    assert TokenAction.ConnectionModel is Token
    with pytest.raises(AttributeError, match=r"TokenAction\.Input is not known: .* is generic"):
        _ = TokenAction.Input

    class ArchiveNote(TokenAction[Note, Receipt]):
        key = "archive_note"

    assert (ArchiveNote.ConnectionModel, ArchiveNote.Input, ArchiveNote.Output) == (
        Token,
        Note,
        Receipt,
    )

    with pytest.raises(TypeError, match="Unfinished names no models"):

        class Unfinished(TokenAction):  # type: ignore[type-arg]
            key = "unfinished"


def test_the_base_class_has_no_models() -> None:
    with pytest.raises(AttributeError, match=r"Action\.Output is not known"):
        _ = Action.Output


def test_a_connector_refuses_an_action_for_another_connection() -> None:
    with pytest.raises(TypeError, match=r"'create_note' takes Token, but .* is NoConnection"):
        Connector(key="notes", title="Notes", actions=(CreateNote,), connection=NoConnection)


def test_a_connector_accepts_a_subclass_of_the_actions_connection() -> None:
    class RegionToken(Token):
        region: str = "eu"

    notes = Connector(key="notes", title="Notes", actions=(CreateNote,), connection=RegionToken)
    assert notes.action("create_note") is CreateNote


def test_advanced_inputs_name_inputs_of_their_action() -> None:
    from maillon.connectors.registry import default_registry

    for connector in default_registry.all():
        for action in connector.actions:
            assert set(action.advanced_inputs) <= set(action.Input.model_fields), action.key
