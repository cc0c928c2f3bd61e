"""Calls generated from the OpenAPI document (schemathesis) against the served app, with a
valid token: whatever the input, no answer is a 5xx.

Each operation of the document gets its own Hypothesis run, driven here rather than through
schemathesis' pytest integration (whose lazy fixture loader does not run on this pytest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support.api import Live

#: Examples per operation: enough to reach the validation paths of each, quick enough to run
#: with every test run.
EXAMPLES = 30


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: the inputs are the point here, and the services' own tests cover PostgreSQL."""
    return f"sqlite:///{tmp_path / 'maillon.db'}"


def test_no_input_makes_a_server_error(live: Live) -> None:
    document = live.client.get("/schema/openapi.json")
    assert document.status_code == 200
    schema = schemathesis.openapi.from_dict(document.json())
    token = live.client.headers["authorization"]
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20  # the whole API, not a document that failed to load

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any) -> None:
            response = case.call(base_url=live.url, headers={"Authorization": token}, timeout=10)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:500]}"
            )

        no_server_error()
