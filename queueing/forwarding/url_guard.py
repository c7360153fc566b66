"""Which URLs mailhub may POST events to: a guard against server-side request forgery.

A webhook URL is given by whoever manages an API key, and mailhub calls it from inside its
network. So only https URLs to public addresses are allowed: no loopback, private, link-local
(cloud metadata), shared, multicast or reserved address, by literal or by name. The address
a name resolves to is checked again at every delivery, and the connection is made to that
checked address (queueing.forwarding.http), so a name that later resolves inwards is refused.
`MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS` lifts this (and allows http) for development and tests.
"""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2048
LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".localdomain")


def private_allowed() -> bool:
    return bool(settings.MAILHUB_WEBHOOK_ALLOW_PRIVATE_URLS)


def url_problem(url: str) -> str | None:
    """Why this URL may not be a webhook endpoint (for people), or None. Names are not
    resolved here (that is done at each delivery); literal addresses and local names are."""
    if len(url) > MAX_URL_LENGTH:
        return f"The URL is longer than {MAX_URL_LENGTH} characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as exc:
        return f"The URL cannot be read: {exc}."
    allowed_schemes = ("https", "http") if private_allowed() else ("https",)
    if parts.scheme not in allowed_schemes:
        return "The URL must start with https://."
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "The URL has no host."
    if parts.username or parts.password:
        return "The URL may not carry a user name or password."
    if parts.fragment:
        return "The URL may not have a #fragment."
    if private_allowed():
        return None
    if host == "localhost" or host.endswith(LOCAL_NAMES):
        return f"{host} is a local name; mailhub only calls public addresses."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return address_problem(str(address))


def address_problem(ip: str) -> str | None:
    """Why mailhub may not connect to this address, or None for a public one."""
    if private_allowed():
        return None
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        address = embedded
    if not address.is_global or address.is_multicast:
        return f"{ip} is not a public address (loopback, private, link-local or reserved)."
    return None


NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64, IPv4-compatible):
    judged as that address, so `::ffff:127.0.0.1`, `2002:7f00:1::` or `64:ff9b::a9fe:a9fe`
    cannot reach what `127.0.0.1` or `169.254.169.254` may not."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
