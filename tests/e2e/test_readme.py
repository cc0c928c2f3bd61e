"""The README's walkthroughs, run as written, line by line, against the local stand-ins.

The blocks marked ``<!-- readme-test: NAME -->`` are read from README.md and each command is
run in bash from the checkout's folder, in order, as a reader would type it: a command ending
with ``&`` is started in the background (and waited for until it listens), any other must end
with exit status 0. The lines ``#   ...`` written under a command are what it prints: each must
appear in its output, in order. In them, ``…`` alone stands for any text (an id, a time), and
``…`` inside a word for any characters but spaces (``http://127.0.0.1:8000/hooks/…``); such a
word written in a later command is replaced by the word it matched, as a reader copies a hook
URL. A listing of runs is read again until it shows what the README says (runs finish in the
background).

What the test changes, and only this: the ports (8000, 8088, 8089, 8090 become free ones, so
that the test runs beside other servers), ``.venv/bin/`` (the virtualenv running the tests),
and, from the install line, it runs only ``.venv/bin/maillon serve`` (the virtualenv exists).
The per-user data directory is the test's own (``XDG_DATA_HOME``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: The ports the README uses: Maillon, the fake Particeep API, the Slack and Google stand-ins.
PORTS = (8000, 8088, 8089, 8090)
#: Commands that only read, and may be run again until the README's output shows up.
READS = re.compile(r"maillon (runs|events) ")
_MARKER = re.compile(r"<!-- readme-test: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)\n```", re.S)


@dataclass
class Command:
    """One command of the README and the output lines written under it."""

    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def background(self) -> bool:
        return self.text.endswith("&")


def blocks() -> dict[str, list[Command]]:
    """The README's marked blocks, each as its commands."""
    found: dict[str, list[Command]] = {}
    for block in _MARKER.finditer(README.read_text()):
        commands: list[Command] = []
        after_command = False
        pending = ""
        for line in block["body"].splitlines():
            if pending:
                pending += " " + line.strip()
            elif line.startswith("#   ") and after_command:
                commands[-1].expected.append(line[1:].strip())
                continue
            elif line.startswith("#") or not line.strip():
                after_command = False
                continue
            else:
                pending = line.strip()
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip()
                continue
            commands.append(Command(pending))
            pending, after_command = "", True
        found[block["name"]] = commands
    return found


def _pattern(expected: str) -> tuple[re.Pattern[str], list[str]]:
    """A regular expression for an expected line, and the words with ``…`` it captures."""
    parts, words = [], []
    for piece in re.split(r"(\s+)", expected):
        if piece == "…":
            parts.append(".*?")
        elif "…" in piece:
            parts.append("(" + r"\S*?".join(re.escape(p) for p in piece.split("…")) + ")")
            words.append(piece)
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts)), words


@dataclass
class Background:
    """A process started with ``&``, and what it has printed so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))


class Reader:
    """Runs the README's commands as a reader would, in one folder and one environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.ports = {str(port): str(free_port()) for port in PORTS}
        self.env["MAILLON_PORT"] = self.ports["8000"]
        self.copied: dict[str, str] = {}
        self.background: dict[str, Background] = {}

    def written(self, text: str, *, copy: bool = True) -> str:
        """``text`` as it runs here: the test's ports and virtualenv, and (``copy``) the words
        copied from earlier output."""
        for readme_port, port in self.ports.items():
            text = re.sub(
                rf"(?<=127\.0\.0\.1:){readme_port}\b|(?<=--port ){readme_port}\b", port, text
            )
        text = text.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
        for word, value in self.copied.items() if copy else ():
            text = text.replace(word, value)
        return text

    def run(self, command: Command) -> None:
        text = self.written(command.text)
        if command.background:
            self.start(text.removesuffix("&").strip(), key=command.text)
            return
        retry = READS.search(command.text) is not None
        outcome: list[str] = []

        def attempt() -> bool:
            result = subprocess.run(
                ["bash", "-c", text], cwd=ROOT, env=self.env, capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            outcome[:] = [f"exit {result.returncode}", result.stdout, result.stderr]
            assert result.returncode == 0, f"{command.text}\n{result.stdout}{result.stderr}"
            return self.matches(command, (result.stdout + result.stderr).splitlines())

        if retry:
            wait_for(
                attempt, 60, what=lambda: f"{command.text} to print {command.expected}: {outcome}"
            )
        else:
            assert attempt(), f"{command.text}: expected {command.expected}, got {outcome}"

    def matches(self, command: Command, lines: list[str]) -> bool:
        """Whether each expected line matches a line of the output, in order; words with
        ``…`` are remembered for the commands that follow."""
        rest = iter(line.strip() for line in lines)
        copied: dict[str, str] = {}
        for expected in command.expected:
            # Expected lines match afresh: "…" there stands for whatever comes each time.
            pattern, words = _pattern(self.written(expected, copy=False))
            for line in rest:
                found = pattern.fullmatch(line)
                if found:
                    copied.update(zip(words, found.groups(), strict=True))
                    break
            else:
                return False
        self.copied.update(copied)
        return True

    def start(self, text: str, key: str) -> None:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {text}"], cwd=ROOT, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        started = Background(process)
        threading.Thread(target=started.read, daemon=True).start()
        self.background[key] = started
        port = int(re.search(r"--port (\d+)", text)[1]) if "--port" in text else None  # type: ignore[index]
        port = port or int(self.env["MAILLON_PORT"])
        wait_for(
            lambda: _listening(port) or process.poll() is not None, 60, what=f"{text} to listen"
        )
        assert process.poll() is None, f"{text} ended: {started.lines}"

    def stop(self) -> None:
        for started in self.background.values():
            if started.process.poll() is None:
                os.killpg(started.process.pid, signal.SIGTERM)
            started.process.wait(timeout=30)

    def output_of(self, fragment: str) -> list[str]:
        """What the background process whose command contains ``fragment`` printed."""
        [started] = [b for key, b in self.background.items() if fragment in key]
        return started.lines


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Reader]:
    # The autouse fixtures removed MAILLON_* settings and gave XDG_DATA_HOME a place of its own.
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "home-data")}
    started = Reader(env)
    yield started
    started.stop()


@pytest.mark.timeout(900)
def test_the_readme_walkthroughs_work_as_written(reader: Reader) -> None:
    readme = blocks()
    [install] = readme["install"]
    assert install.text.endswith("&& .venv/bin/maillon serve")
    reader.run(Command(".venv/bin/maillon serve &"))
    assert httpx.get(f"http://127.0.0.1:{reader.env['MAILLON_PORT']}/healthz").is_success

    for command in readme["first-flow"]:
        reader.run(command)
    slack = reader.output_of("examples.stand_ins.slack")
    wait_for(lambda: sum(line.startswith("#sales: New transaction: ") for line in slack) == 3)

    for command in readme["particeep-local"]:
        reader.run(command)
    wait_for(lambda: any("2,500.00 EUR" in line for line in slack), what="the Particeep message")
    google = reader.output_of("examples.stand_ins.google")
    wait_for(
        lambda: any(line.startswith("Gmail: to backoffice@example.com: Nouvelle transaction : ")
                    for line in google)
        and any(line.startswith("Sheets: row 2 of 1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/"
                                "Transactions: Date=") for line in google),
        what=lambda: f"the e-mail and the row; the stand-in printed {google}",
    )  # fmt: skip
    wait_for(lambda: len(slack) > 0 and sum("New transaction" in line for line in slack) == 5)
