"""Which hosts connectors may call (the HTTP action first): allowed and denied names and
networks.

Flows are written by people with an account, and their URLs are often templates of what a
sender posted: without a policy, anyone who can edit a flow or shape an event can make the
engine call whatever it can reach, the cloud's metadata service first of all (its credentials
are one GET away on most clouds). Calling internal services is also one of the main reasons to
self-host an automation engine, so private networks stay allowed by default; what is refused
by default is the link-local range where every cloud serves its metadata, and Alibaba's
metadata address outside it. An operator narrows the rest with ``MAILLON_OUTBOUND_ALLOW``.

An entry is a network (``10.0.0.0/8``, ``192.168.1.7``, ``fd00::/8``) or a host name
(``api.example.com``, which also covers its subdomains). The rules, deny winning over allow:

- a host whose name or any address is denied is refused, or rather its denied addresses
  are never connected to (a name that resolves to one good and one denied address is
  called on the good one only);
- with an allow-list, a host is called only if its name is allowed or its addresses are all
  in allowed networks.

Addresses are checked **after DNS resolution**, by the resolver the HTTP sessions connect
through, so a name that resolves to a denied address is caught however it is spelt, and a
DNS answer cannot change between the check and the connection; **every redirect** is
checked the same way, since each hop connects through that resolver. An IP address written
in the URL, which no resolver sees, is checked before each request of a redirect chain.
Through a proxy (``HTTPS_PROXY``), the proxy connects: only the names and literal addresses of
the targets are checked here, and the proxy should enforce its own rules.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from maillon.connectors.errors import PermanentError

if TYPE_CHECKING:
    import aiohttp
    from aiohttp.abc import ResolveResult

__all__ = [
    "DEFAULT_DENY",
    "OutboundPolicy",
    "OutboundRefused",
    "check_each_hop",
    "configure_outbound",
    "outbound_policy",
    "resolver",
]

#: Refused unless an operator says otherwise: link-local networks (AWS, GCP, Azure, OpenStack
#: and DigitalOcean serve metadata at 169.254.169.254, ECS at 169.254.170.2, AWS on IPv6 at
#: fd00:ec2::254) and Alibaba Cloud's metadata address.
DEFAULT_DENY: tuple[str, ...] = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254",
    "100.100.100.200",
    "metadata.google.internal",
)

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(PermanentError):
    """The outbound policy refuses the host (a permanent error: retrying cannot help)."""


def _split(entries: tuple[str, ...]) -> tuple[tuple[_Network, ...], tuple[str, ...]]:
    networks: list[_Network] = []
    names: list[str] = []
    for entry in entries:
        text = entry.strip().lower()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            names.append(text.lstrip("."))
    return tuple(networks), tuple(names)


def _name_in(host: str, names: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == n or host.endswith("." + n) for n in names)


def _address_in(address: str, networks: tuple[_Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:169.254.169.254 is the metadata address too
    return any(ip in net for net in networks)


#: Hosts a policy remembers having let through (then it starts afresh).
_MAX_PASSED = 4096


@dataclass(frozen=True)
class OutboundPolicy:
    """Hosts the HTTP action may call (see the module for the rules)."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = DEFAULT_DENY
    _allow: tuple[tuple[_Network, ...], tuple[str, ...]] = field(init=False, repr=False)
    _deny: tuple[tuple[_Network, ...], tuple[str, ...]] = field(init=False, repr=False)
    #: Hosts :meth:`check_url_host` let through: the policy never changes, and the check runs
    #: before every request (parsing an address, matching it against every network).
    _passed: set[str] = field(init=False, repr=False, compare=False, default_factory=set)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allow", _split(self.allow))
        object.__setattr__(self, "_deny", _split(self.deny))

    def permitted(self, host: str, addresses: list[str]) -> list[str]:
        """The addresses of ``host`` that may be connected to; raise :class:`OutboundRefused`
        when none may (naming the rule)."""
        deny_nets, deny_names = self._deny
        if _name_in(host, deny_names):
            raise self._refused(host, "its name is on the deny-list")
        kept = [a for a in addresses if not _address_in(a, deny_nets)]
        if not kept:
            raise self._refused(host, "its address is on the deny-list")
        allow_nets, allow_names = self._allow
        if (allow_nets or allow_names) and not _name_in(host, allow_names):
            kept = [a for a in kept if _address_in(a, allow_nets)]
            if not kept:
                raise self._refused(host, "neither its name nor its address is on the allow-list")
        return kept

    def check_url_host(self, host: str) -> None:
        """Before a request: a literal address (which no resolver sees), or a denied name."""
        if host in self._passed:
            return
        bare = host.strip("[]")
        try:
            ipaddress.ip_address(bare.split("%", 1)[0])
        except ValueError:
            if _name_in(host, self._deny[1]):
                raise self._refused(host, "its name is on the deny-list") from None
            # Its addresses are checked when it is resolved.
        else:
            self.permitted(bare, [bare])
        if len(self._passed) >= _MAX_PASSED:
            self._passed.clear()
        self._passed.add(host)

    @staticmethod
    def _refused(host: str, why: str) -> OutboundRefused:
        return OutboundRefused(
            f"calling {host} is refused by the outbound policy ({why}): an operator allows it "
            "with MAILLON_OUTBOUND_ALLOW / MAILLON_OUTBOUND_DENY",
            details={"error": "outbound_refused", "host": host},
        )


_policy = OutboundPolicy()


def configure_outbound(policy: OutboundPolicy) -> None:
    """Set the policy of this process (the engine does, from its settings, at start)."""
    global _policy
    _policy = policy


def outbound_policy() -> OutboundPolicy:
    """The policy in force in this process."""
    return _policy


def resolver() -> aiohttp.abc.AbstractResolver:
    """aiohttp's default resolver, with every answer filtered through the policy in force."""
    import aiohttp

    class PolicyResolver(aiohttp.abc.AbstractResolver):
        def __init__(self) -> None:
            self._inner = aiohttp.DefaultResolver()

        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            answers = await self._inner.resolve(host, port, family)
            kept = set(_policy.permitted(host, [a["host"] for a in answers]))
            return [a for a in answers if a["host"] in kept]

        async def close(self) -> None:
            await self._inner.close()

    return PolicyResolver()


async def check_each_hop(req: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
    """A client middleware: runs before every request of a redirect chain."""
    if req.url.host is not None:
        _policy.check_url_host(req.url.host)
    response: aiohttp.ClientResponse = await handler(req)
    return response
