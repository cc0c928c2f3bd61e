"""Which proxy the HTTP connector uses for a URL: the environment's, by the standard library's
NO_PROXY rules (the wire test, a request really sent through a proxy, is in test_send_request)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from yarl import URL

from maillon.connectors.http._client import _env_proxies, proxy_for

PROXY = "http://proxy.internal:3128"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set proxy variables through the returned monkeypatch; the connector reads them afresh."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    _env_proxies.cache_clear()
    yield monkeypatch
    _env_proxies.cache_clear()


def proxied(environment: pytest.MonkeyPatch, no_proxy: str, url: str) -> str | None:
    environment.setenv("HTTP_PROXY", PROXY)
    environment.setenv("HTTPS_PROXY", PROXY)
    environment.setenv("NO_PROXY", no_proxy)
    _env_proxies.cache_clear()
    return proxy_for(URL(url))


def test_no_proxy_variables_means_direct(environment: pytest.MonkeyPatch) -> None:
    assert proxy_for(URL("http://api.example.com/x")) is None


def test_the_proxy_of_the_scheme_then_all_proxy(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("HTTPS_PROXY", "https-proxy.internal:8443")  # no scheme: http:// added
    environment.setenv("ALL_PROXY", "http://all-proxy.internal:3128")
    _env_proxies.cache_clear()
    assert proxy_for(URL("https://api.example.com/")) == "http://https-proxy.internal:8443"
    assert proxy_for(URL("http://api.example.com/")) == "http://all-proxy.internal:3128"


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("api.example.com", "http://api.example.com/x"),
        ("API.Example.COM", "http://api.example.com/x"),  # host names ignore case
        ("example.com", "https://example.com/"),  # a domain covers itself ...
        ("example.com", "https://deep.api.example.com/"),  # ... and its subdomains
        (".example.com", "https://api.example.com/"),  # a leading dot changes nothing
        (".example.com", "https://example.com/"),
        ("other.org, example.com ", "https://api.example.com/"),  # a list, spaces ignored
        ("example.com:8080", "http://example.com:8080/"),  # a port exempts that port only
        ("example.com:80", "http://example.com/"),  # the scheme's default port counts
        ("*", "https://anything.example/"),
        ("127.0.0.1", "http://127.0.0.1:8000/"),
        ("::1", "http://[::1]:8000/"),  # IPv6 written without brackets
    ],
)
def test_no_proxy_exempts(environment: pytest.MonkeyPatch, no_proxy: str, url: str) -> None:
    assert proxied(environment, no_proxy, url) is None


@pytest.mark.parametrize(
    ("no_proxy", "url"),
    [
        ("example.com", "https://badexample.com/"),  # a suffix of the name is not a domain
        ("api.example.com", "https://example.com/"),  # a subdomain does not cover its parent
        ("example.com:8080", "http://example.com:9090/"),
        ("example.com:8080", "http://example.com/"),
        ("", "https://api.example.com/"),
        ("example.com,*", "https://api.other.org/"),  # "*" is a wildcard only alone
    ],
)
def test_no_proxy_does_not_exempt(environment: pytest.MonkeyPatch, no_proxy: str, url: str) -> None:
    assert proxied(environment, no_proxy, url) == PROXY


def test_lowercase_variables_win(environment: pytest.MonkeyPatch) -> None:
    # curl's convention, which the standard library follows: http_proxy over HTTP_PROXY.
    environment.setenv("HTTP_PROXY", "http://upper.internal:1")
    environment.setenv("http_proxy", "http://lower.internal:2")
    environment.setenv("NO_PROXY", "skipped.example")
    environment.setenv("no_proxy", "direct.example")
    _env_proxies.cache_clear()
    assert proxy_for(URL("http://api.example.com/")) == "http://lower.internal:2"
    assert proxy_for(URL("http://direct.example/")) is None
    assert proxy_for(URL("http://skipped.example/")) == "http://lower.internal:2"
