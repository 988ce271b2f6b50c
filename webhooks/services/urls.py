"""Which receiver URLs a subscription may post to.

A webhook makes Siyu send requests where an integration asks, so the address is checked before it
is saved and again before each send: http:// or https:// only (https only in production), a host,
no credentials in the URL, not Siyu itself (its ALLOWED_HOSTS names, its public address, the
server's own addresses), and, when SIYU_WEBHOOK_FORBID_PRIVATE is on (the default in production),
no private, loopback, link-local, reserved or multicast address: the host name is resolved (within
RESOLVE_TIMEOUT seconds) and every address it resolves to must be public, so a name pointing inside
the brand's network is refused as surely as the literal address.

Before each send the check is made again where it matters, at the connection: the sender's HTTP
client connects through `GuardedBackend`, which resolves the host itself, refuses (`Refused`) when an
address it resolves to is Siyu's own or, with SIYU_WEBHOOK_FORBID_PRIVATE, not public, and connects
to the very address it checked (TLS still verifies the host's name). A name that pointed outside when
it was saved and inside later (a changed record, DNS rebinding) is refused at send time.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

import httpcore
from django.conf import settings
from django.http.request import validate_host
from django.utils.translation import gettext as _

RESOLVE_TIMEOUT = 3.0  # seconds a name may take to resolve
MAX_URL = 500
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-resolve")


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None:
    """Every address `host` resolves to; None when it does not resolve in time."""
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=RESOLVE_TIMEOUT)
    except (FutureTimeout, OSError, UnicodeError):
        return None
    found = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        found.append(address)
    return found


def _not_public(address) -> bool:
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
            or address.is_multicast or address.is_unspecified)


@functools.cache
def _own_addresses() -> frozenset:
    """The server's own non-loopback addresses (those its host name resolves to)."""
    try:
        names = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        return frozenset()
    return frozenset(a for a in (ipaddress.ip_address(n) for n in names) if not a.is_loopback)


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _is_siyu(host: str, port: int) -> bool:
    public = urlsplit(settings.SIYU_PUBLIC_URL)
    if public.hostname and host == public.hostname.lower() and port == _port(public):
        return True
    # The names Siyu answers to; loopback names are where a developer's own receiver listens too,
    # so on them only Siyu's own port (above) counts as Siyu.
    patterns = [h for h in settings.ALLOWED_HOSTS if h != "*" and h.strip("[]").lower() not in LOOPBACK_NAMES]
    return host not in LOOPBACK_NAMES and validate_host(host, patterns)


def refuse_reason(url: str, *, resolve: bool = True) -> str | None:
    """Why Siyu will not post to `url` (a translated sentence), or None when it may. `resolve=False`
    checks the URL's text only (no name lookup): literal addresses are still checked."""
    url = (url or "").strip()
    if not url:
        return _("A URL is required.")
    if len(url) > MAX_URL:
        return _("The URL is longer than %(max)d characters.") % {"max": MAX_URL}
    try:
        parts = urlsplit(url)
        port = _port(parts)
    except ValueError:
        return _("The URL cannot be read; write it as https://host/path.")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return _("Only http:// and https:// URLs can receive webhooks.")
    if settings.PRODUCTION and scheme != "https":
        return _("Webhooks are sent over https:// only.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return _("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        return _("The URL must not carry a user name or password; the signature proves who sends.")
    if _is_siyu(host, port):
        return _("The URL points at Siyu itself.")
    forbid_private = settings.SIYU_WEBHOOK_FORBID_PRIVATE
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal.ipv4_mapped or literal if isinstance(literal, ipaddress.IPv6Address) else literal]
    elif resolve:
        addresses = _resolve(host, port)
        if addresses is None:
            if forbid_private:
                return _("The host %(host)s does not resolve.") % {"host": host}
            return None
    else:
        return None
    return _address_refusal(host, addresses, forbid_private=forbid_private)


def _address_refusal(host: str, addresses: list, *, forbid_private: bool) -> str | None:
    if addresses and any(a in _own_addresses() for a in addresses):
        return _("The URL points at Siyu itself.")
    if forbid_private:
        if not addresses:
            return _("The host %(host)s does not resolve.") % {"host": host}
        private = next((a for a in addresses if _not_public(a)), None)
        if private is not None:
            return _("The URL leads to %(address)s, which is not a public address.") % {"address": private}
    return None


class Refused(httpcore.ConnectError):
    """The connection was not made: the host's address is one Siyu does not post to."""


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses `refuse_reason` would allow, checked as the connection is made."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        name = host.lower().rstrip(".")
        try:
            literal = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal.ipv4_mapped or literal if isinstance(literal, ipaddress.IPv6Address) else literal]
        else:
            addresses = _resolve(name, port)
            if addresses is None:
                raise httpcore.ConnectError(f"{name} does not resolve")
        reason = _address_refusal(name, addresses, forbid_private=settings.SIYU_WEBHOOK_FORBID_PRIVATE)
        if reason is not None:
            raise Refused(reason)
        if not addresses:
            raise httpcore.ConnectError(f"{name} does not resolve")
        return super().connect_tcp(str(addresses[0]), port, timeout=timeout, local_address=local_address,
                                   socket_options=socket_options)
