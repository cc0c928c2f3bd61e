"""Key rotation on SQLite and PostgreSQL: every secret re-encrypted under a new key while another
process, never restarted, goes on reading and writing connections."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import text

from maillon.connectors.registry import Registry
from maillon.engine.crypto import SecretBox, parse_keys
from maillon.engine.flows import FlowDocument
from maillon.engine.models import RunStatus
from maillon.engine.redaction import MASK
from maillon.engine.runtime import Runtime
from maillon.engine.settings import SECRET_KEY_FILE, Settings
from tests.support.flows import ECHO, deliver, make_flow, wait_status
from tests.support.probe import calls, probe
from tests.support.services import Blocking


def _sealed(runtime: Runtime) -> list[str]:
    with runtime.db.connect() as conn:
        return list(conn.execute(text("SELECT secrets FROM connections ORDER BY name")).scalars())


def test_rotation_reencrypts_every_secret_and_running_processes_follow(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(secret_key=None)  # the key lives in the data dir's key file
    serving = Runtime(settings, registry=Registry([probe]))
    serving.open()
    try:
        server = Blocking(serving.services)
        for n in range(3):
            server.connections.create("probe", f"p{n}", {"api_key": f"key-{n}"})
        key_file = settings.data_dir / SECRET_KEY_FILE
        [old_key] = parse_keys(key_file.read_text())
        before = _sealed(serving)

        # `maillon keys rotate`, in a process of its own.
        command = Runtime(make_settings(secret_key=None), registry=Registry([probe]))
        done = Blocking(command.services).keys.rotate()
        command.db.dispose()
        assert (done.connections, done.key_file) == (3, key_file)

        new_key, kept = parse_keys(key_file.read_text())
        assert kept == old_key and new_key != old_key
        assert key_file.stat().st_mode & 0o777 == 0o600
        after = _sealed(serving)
        assert all(a != b for a, b in zip(after, before, strict=True))
        only_new = SecretBox(new_key)
        assert [only_new.open(s)["api_key"] for s in after] == ["key-0", "key-1", "key-2"]

        # The server, not restarted, reads the re-encrypted rows and seals under the new key.
        assert server.connections.values("p1")["api_key"] == "key-1"
        server.connections.create("probe", "p3", {"api_key": "key-3"})
        assert only_new.open(_sealed(serving)[3]) == {"api_key": "key-3"}
    finally:
        serving.close()


def test_with_keys_in_the_environment_the_first_one_seals(
    make_settings: Callable[..., Settings],
) -> None:
    old = Runtime(make_settings(secret_key="old-key"), registry=Registry([probe]))
    old.open()
    try:
        Blocking(old.services).connections.create("probe", "p", {"api_key": "k"})
    finally:
        old.close()
    # The operator put a new key first on every process; the old one still opens rows.
    both = Runtime(make_settings(secret_key="new-key,old-key"), registry=Registry([probe]))
    both.open()
    try:
        done = Blocking(both.services).keys.rotate()
        assert (done.connections, done.key_file) == (1, None)
        assert SecretBox("new-key").open(_sealed(both)[0]) == {"api_key": "k"}
    finally:
        both.close()


def test_secret_inputs_written_in_flows_outlive_two_rotations(
    make_settings: Callable[..., Settings],
) -> None:
    # The key a value was sealed under is dropped at the next rotation but one: values left
    # under it would no longer open, and their runs would fail.
    calls.clear()
    runtime = Runtime(make_settings(secret_key=None), registry=Registry([probe]))
    runtime.open()
    try:
        services = Blocking(runtime.services)
        flow_id, token = make_flow(services, {**ECHO, "input": {"text": "x", "secret": "s3cret"}})

        def edited(name: str) -> FlowDocument:
            step = {**ECHO, "input": {"text": "x", "secret": MASK}}  # the value kept
            return FlowDocument.model_validate({"name": name, "steps": [step]})

        # A second version, and a draft.
        services.flows.save(edited("v2"), flow_id)
        services.flows.save_draft(edited("draft"), flow_id)
        rotations = [services.keys.rotate() for _ in range(2)]
        assert [r.flows for r in rotations] == [1, 1]

        [newest, _] = parse_keys((runtime.settings.data_dir / SECRET_KEY_FILE).read_text())
        with runtime.db.connect() as conn:
            texts = [
                *conn.execute(text("SELECT definition FROM flows")).scalars(),
                *conn.execute(text("SELECT draft FROM flows")).scalars(),
                *conn.execute(text("SELECT definition FROM flow_versions")).scalars(),
            ]
        sealed = re.findall(r'\{"\$sealed":"([^"]+)"\}', "".join(texts))
        assert len(sealed) == 4  # the definition, the draft, both versions
        assert {SecretBox(newest).open(s)["value"] for s in sealed} == {"s3cret"}

        run_id = deliver(runtime, token).run_ids[0]
        wait_status(runtime, services, run_id, RunStatus.SUCCEEDED)
        assert [c["secret"] for c in calls.log] == ["s3cret"]
    finally:
        runtime.close()
