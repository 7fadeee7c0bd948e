"""Where a webhook may be sent: the URL rules (checked on create and update, 422) and the
address rules (checked at every delivery, after resolving the name).

A partner names the URL, so the service must not become a way into its own network:
https only, to public addresses only, unless `PORTAL_WEBHOOK_ALLOW_PRIVATE=true`
(development and tests), which also allows plain http to private and loopback addresses.
The name is resolved once per delivery and the connection goes to the very address that
was checked (the TLS name and Host header keep the original host), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot reach private space.
Link-local, multicast, reserved and unspecified addresses are never allowed (cloud
metadata services live at 169.254.169.254).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from aggregates.errors import InvalidInput

MAX_URL = 2000
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The URL's host resolves to an address deliveries may not reach."""


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _never(address: IpAddress) -> bool:
    return (address.is_link_local or address.is_multicast or address.is_unspecified
            or address.is_reserved)


def _private(address: IpAddress) -> bool:
    return address.is_private or address.is_loopback or not address.is_global


def address_allowed(address: IpAddress, *, allow_private: bool) -> bool:
    if _never(address):
        return False
    return allow_private or not _private(address)


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL, or InvalidInput (422) saying why it may not be an endpoint."""
    if len(url) > MAX_URL:
        raise InvalidInput(f"url takes at most {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidInput("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("url is not a valid URL") from None
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput("url must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("url must not carry credentials")
    if parts.fragment:
        raise InvalidInput("url must not have a fragment")
    if port == 0:
        raise InvalidInput("url names port 0")
    literal = _literal(host)
    if literal is not None and not address_allowed(literal, allow_private=allow_private):
        raise InvalidInput("url points at an address webhooks may not reach")
    if parts.scheme == "http":
        local = host == "localhost" or (literal is not None and _private(literal))
        if not (allow_private and local):
            raise InvalidInput("url must use https (plain http only to a private address "
                               "where PORTAL_WEBHOOK_ALLOW_PRIVATE=true)")
    return url


@dataclass(frozen=True)
class Target:
    """Where one delivery connects: the checked address, and the original host for the
    Host header and the TLS server name."""

    url: str  # the URL with the address in place of the host
    host_header: str
    server_name: str


def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolves the URL's host and picks an allowed address; AddressRefused when every
    address it resolves to is refused (or it does not resolve)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _literal(host)
    if literal is not None:
        candidates: list[IpAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise AddressRefused(f"cannot resolve {host}: {error}") from None
        candidates = [ipaddress.ip_address(info[4][0]) for info in infos]
    # Every address must pass: a name that also resolves to private space is refused,
    # whichever address the connection would have picked.
    refused = [a for a in candidates if not address_allowed(a, allow_private=allow_private)]
    if refused or not candidates:
        raise AddressRefused(f"{host} resolves to an address webhooks may not reach")
    address = candidates[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rpartition("@")[2]
    return Target(url=pinned, host_header=host_header, server_name=host)
