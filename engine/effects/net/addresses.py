"""Decide whether a URL's host may be contacted: parse odd IP spellings, resolve, check all.

The checks follow the SSRF guidance of OWASP: every resolved address must be public, and the
caller then connects to one of the checked addresses (never re-resolving the name).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from .errors import BlockedDestination, HttpError
from .redact import display_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data",
     "instance-data.ec2.internal", "metadata.azure.com"}
)  # fmt: skip
_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# Ordered: the first matching network names the reason.
_V4_RULES: tuple[tuple[Network, str], ...] = (
    (_V4("169.254.169.254/32"), "a cloud metadata address"),
    (_V4("0.0.0.0/8"), "a 'this network' address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("100.64.0.0/10"), "a shared (CGNAT) address"),
    (_V4("169.254.0.0/16"), "a link-local address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("255.255.255.255/32"), "a broadcast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)
_V6_RULES: tuple[tuple[Network, str], ...] = (
    (_V6("::/128"), "an unspecified address"),
    (_V6("::1/128"), "a loopback address"),
    (_V6("::/96"), "an IPv4-compatible address"),
    (_V6("2001::/32"), "a Teredo address"),
    (_V6("fd00:ec2::254/128"), "a cloud metadata address"),
    (_V6("fc00::/7"), "a unique-local (private) address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("ff00::/8"), "a multicast address"),
)
# IPv6 forms that carry an IPv4 address in their low 32 bits (RFC 4291, 6145/7915, 6052, 8215).
_LOW_32_EMBEDDINGS: tuple[Network, ...] = (
    _V6("::ffff:0:0/96"),  # IPv4-mapped
    _V6("::ffff:0:0:0/96"),  # SIIT translated
    _V6("64:ff9b::/96"),  # NAT64 well-known prefix
    _V6("64:ff9b:1::/48"),  # NAT64 local-use prefix (a /96 inside it, the common layout)
    _V6("::/96"),  # IPv4-compatible (deprecated)
)
_NAT64 = _V6("64:ff9b::/96")
_NAT64_LOCAL = _V6("64:ff9b:1::/48")


@dataclass(frozen=True)
class ResolvedAddress:
    """One checked address the caller may connect to for `host`."""

    host: str
    address: IPAddress
    port: int


def show(address: IPAddress) -> str:
    """Print an address as people write it (IPv4-mapped IPv6 keeps its dotted tail)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return f"::ffff:{address.ipv4_mapped}"
    if isinstance(address, ipaddress.IPv6Address) and 1 < int(address) < 2**32:
        return f"::{ipaddress.IPv4Address(int(address))}"  # IPv4-compatible
    return str(address)


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """Parse IPv4 the way inet_aton does (127.1, 2130706433, 0177.0.0.1, 0x7f000001); else None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10) if part.isdigit() else -1)
        except ValueError:
            return None
    if any(n < 0 for n in numbers):
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ip_literal(host: str) -> IPAddress | None:
    """An IP address written directly as the host (any spelling), or None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return parse_ipv4_literal(host)


def _v4_reason(address: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_RULES:
        if address in network:
            return reason
    return None if address.is_global else "a non-public address"


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address may carry: mapped, SIIT, NAT64 (well-known and
    local-use, in both its /96 and RFC 6052 /48 layouts), IPv4-compatible, 6to4 and Teredo
    (server and client)."""
    found: list[ipaddress.IPv4Address] = []
    value = int(address)
    spread = 0
    if address in _NAT64_LOCAL:  # RFC 6052 /48: bits 48-63 and 72-87 (bits 64-71 are zero)
        spread = ((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF
        if spread:
            found.append(ipaddress.IPv4Address(spread))
    low = value & 0xFFFFFFFF
    embeds = value > 1 and any(address in network for network in _LOW_32_EMBEDDINGS)
    if embeds and (low or not spread):
        found.append(ipaddress.IPv4Address(low))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def blocked_reason(address: IPAddress) -> str | None:
    """Why `address` must not be contacted ("is a private address", "embeds 10.0.0.1, a …").

    An IPv6 address carrying an IPv4 address is judged by the IPv4 inside first (a translator
    would connect there), then by the IPv6 rules.
    """
    if isinstance(address, ipaddress.IPv4Address):
        reason = _v4_reason(address)
        return f"is {reason}" if reason else None
    for embedded in embedded_ipv4(address):
        reason = _v4_reason(embedded)
        if reason:
            return f"embeds {embedded}, {reason}"
    if address.ipv4_mapped or address.sixtofour or address in _NAT64:
        return None  # the IPv4 inside is public
    for network, reason in _V6_RULES:
        if address in network:
            return f"is {reason}"
    return None if address.is_global else "is a non-public address"


def _name_reason(host: str) -> str | None:
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return f"{host} is a local host name"
    if host in _METADATA_NAMES:
        return f"{host} is a cloud metadata host name"
    return None


def parse_allowed(allowed_hosts: Iterable[str]) -> tuple[frozenset[str], tuple[Network, ...]]:
    """Split an allow-list into host names (lower-case, "*.suffix" wildcards kept) and networks."""
    names: set[str] = set()
    networks: list[Network] = []
    for entry in allowed_hosts:
        text = entry.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            names.add(text)
    return frozenset(names), tuple(networks)


def _name_allowed(host: str, names: frozenset[str]) -> bool:
    return host in names or any(n.startswith("*.") and host.endswith(n[1:]) for n in names)


def _address_allowed(address: IPAddress, networks: tuple[Network, ...]) -> bool:
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        candidates.append(address.ipv4_mapped)
    return any(a in n for a in candidates for n in networks if a.version == n.version)


def split_url(url: str) -> tuple[SplitResult, str, int]:
    """Parse `url` into parts, the lower-case host (no brackets, no trailing dot) and the port."""
    shown = display_url(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise HttpError(f"refused {shown}: invalid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        what = f"scheme '{scheme}' is not allowed" if scheme else "the URL has no scheme"
        raise BlockedDestination(f"refused {shown}: {what} (only http and https)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BlockedDestination(f"refused {shown}: the URL has no host")
    return parts, host, port or DEFAULT_PORTS[scheme]


def _resolve(host: str, port: int, shown: str) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        transient = getattr(exc, "errno", None) == socket.EAI_AGAIN
        raise HttpError(f"{shown}: could not resolve {host} ({exc})", transient=transient) from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_url(url: str, *, allowed_hosts: Iterable[str] | None = None) -> list[ResolvedAddress]:
    """Resolve the URL's host and check every address; raise BlockedDestination if any is unsafe.

    `allowed_hosts` holds host names ("hooks.internal", "*.corp.example") or CIDRs ("10.1.0.0/16")
    an operator allows although they are internal; None means no exceptions.
    """
    shown = display_url(url)
    _parts, host, port = split_url(url)
    names, networks = parse_allowed(allowed_hosts or ())
    if _name_allowed(host, names):
        literal = parse_ip_literal(host)
        addresses = [literal] if literal else _resolve(host, port, shown)
        return [ResolvedAddress(host=host, address=a, port=port) for a in addresses]
    name_reason = _name_reason(host)
    if name_reason:
        raise BlockedDestination(f"refused {shown}: {name_reason}")
    literal = parse_ip_literal(host)
    addresses = [literal] if literal else _resolve(host, port, shown)
    for address in addresses:
        if _address_allowed(address, networks):
            continue
        reason = blocked_reason(address)
        if reason:
            shown_address = show(address)
            where = (
                f"{shown_address} {reason}"
                if literal
                else f"{host} resolves to {shown_address}, which {reason}"
            )
            raise BlockedDestination(f"refused {shown}: {where}")
    return [ResolvedAddress(host=host, address=a, port=port) for a in addresses]
