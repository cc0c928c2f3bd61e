"""Test-wide guards: stay offline, ignore proxies, keep away from the per-user data directory
and the MAILLON_* settings of whoever runs the tests; fixtures from the support modules and the
connector testing kit (``fake_server``), loaded as plugins."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

import pytest

pytest_plugins = [
    "tests.support.accounts",
    "tests.support.browser",
    "tests.support.cli",
    "tests.support.db",
    "tests.support.tls",
    "tests.support.smtp",
    "tests.support.web",
    "maillon.connectors.testing.pytest_plugin",
]

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy")


def _is_loopback(host: Any) -> bool:
    if host in (None, "localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a host other than this machine."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise OSError(f"tests stay offline: refused to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise OSError(f"tests stay offline: refused to connect to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # httplib2 fails with a proxy set even with NO_PROXY, and aiohttp ignores NO_PROXY.
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(autouse=True)
def _own_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A test that builds default settings (a CLI run, a subprocess) must find no install of
    # the person running the tests, and write none into their home.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))
    for name in list(os.environ):
        if name.startswith("MAILLON_") and not name.startswith("MAILLON_TEST_"):
            monkeypatch.delenv(name)
