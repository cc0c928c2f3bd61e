"""A connector from another package: installed through its entry point, run by a real server.

``examples/connector-package`` is built and installed with pip into a folder of its own, put on
``PYTHONPATH`` as a user's site-packages would be. From there on only the ``maillon`` command and
HTTP are used, as a user would: a connection, an API token and a flow through the CLI, a delivery
to the hook URL of a running ``maillon serve``, and the run read back from the REST API while a
fake help desk records the ticket. The example's own tests, written on the testing kit, run
against the installed copy as well.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from maillon.connectors.testing import FakeServer
from tests.support.server import free_port, maillon_command

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "connector-package"

FLOW = """\
name: New investor to the help desk
trigger:
  type: webhook
steps:
  - key: open_ticket
    action: helpdesk.create_ticket
    connection: support
    input:
      subject: "KYC documents missing for {{ event.name }}"
      requester_email: "{{ event.email }}"
      priority: high
      tags: [kyc]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the example package is installed into; its source copy lies beside it."""
    work = tmp_path_factory.mktemp("connector-package")
    # pip builds in the source tree (build/, *.egg-info): build a copy, not the checkout.
    source = work / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__"))
    target = work / "site-packages"
    # Offline: no index, no build isolation (the setuptools of this environment builds it),
    # no dependencies (Maillon and httpx are here already).
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps"]
    pip += ["--no-build-isolation", "--target", str(target), str(source)]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def _environment(installed: Path, **settings: str) -> dict[str, str]:
    paths = [str(installed), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **settings}


def test_the_example_passes_its_own_tests(installed: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=installed.parent / "source",
        env=_environment(installed),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b[1-9][0-9]* passed\b", done.stdout), done.stdout


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """``maillon serve`` in a process of its own; yields its URL once it answers."""
    url = f"http://127.0.0.1:{env['MAILLON_PORT']}"
    with log.open("w") as output:
        server = subprocess.Popen(
            maillon_command("serve", "--workers", "1"),
            cwd=log.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"maillon serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"maillon serve did not start:\n{log.read_text()}"
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)  # not listening yet
        yield url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def test_a_flow_runs_the_installed_connector(
    installed: Path, tmp_path: Path, fake_server: FakeServer
) -> None:
    fake_server.on(
        "POST",
        "/api/tickets",
        (201, {"id": "T-7", "url": "https://support.example.com/t/T-7", "status": "open"}),
    )
    env = _environment(
        installed,
        MAILLON_DATA_DIR=str(tmp_path / "data"),
        MAILLON_PORT=str(free_port()),
        MAILLON_SECRET_KEY="connector-package-test",
        MAILLON_LOG_LEVEL="WARNING",
    )
    env.pop("MAILLON_DATABASE_URL", None)  # SQLite in the data folder
    env.pop("MAILLON_PUBLIC_URL", None)  # hook URLs on the port above

    def maillon(*args: str) -> str:
        done = subprocess.run(
            maillon_command(*args),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"maillon {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    maillon("migrate")  # the install's database, as the first `maillon serve` would create it
    added = maillon(
        "connections",
        "add",
        "helpdesk",
        "support",
        "--set",
        f"base_url={fake_server.url}api/",
        "--set",
        "api_token=tok-e2e",
    )
    assert "secrets set: api_token" in added
    token = maillon("tokens", "create", "e2e").strip()
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    imported = maillon("flows", "import", str(flow))
    flow_id = imported.split()[0]
    hook = re.search(r"http://\S+/hooks/\S+", imported)
    assert hook is not None, imported

    with serving(env, tmp_path / "serve.log") as url:
        delivered = httpx.post(
            hook.group(0), json={"name": "Ada Lovelace", "email": "ada@example.com"}, timeout=10
        )
        assert delivered.status_code == 200, delivered.text
        [run_id] = delivered.json()["run_ids"]

        [ticket] = fake_server.wait_for("POST", "/api/tickets", timeout=60)
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        with api:
            run = _finished(api, flow_id, run_id)
            steps = api.get(f"/api/runs/{run_id}").json()["steps"]

    assert run["status"] == "succeeded", run
    assert ticket.json() == {
        "subject": "KYC documents missing for Ada Lovelace",
        "description": "",
        "requester_email": "ada@example.com",
        "priority": "high",
        "tags": ["kyc"],
    }
    assert ticket.headers["authorization"] == "Bearer tok-e2e"
    assert ticket.headers["idempotency-key"] == f"{run_id}:open_ticket"
    [step] = steps
    assert step["output"] == {
        "ticket_id": "T-7",
        "url": "https://support.example.com/t/T-7",
        "status": "open",
    }


def _finished(api: httpx.Client, flow_id: str, run_id: str) -> dict[str, Any]:
    """The run, read from GET /api/runs, once it no longer waits or runs."""
    deadline = time.monotonic() + 60
    while True:
        answer = api.get("/api/runs", params={"flow_id": flow_id})
        assert answer.status_code == 200, answer.text
        [run] = [r for r in answer.json() if r["id"] == run_id]
        if run["status"] not in ("queued", "running"):
            return dict(run)
        assert time.monotonic() < deadline, f"the run did not finish: {run}"
        time.sleep(0.05)
