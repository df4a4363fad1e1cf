"""Where a webhook may be sent: the URL rules and the private-address guard.

An endpoint URL names a host the merchant controls, but the host is resolved by us, inside our
network: a URL resolving to a loopback, private, link-local, multicast or reserved address
would let a merchant make paystream call its own neighbours (SSRF). Such addresses are refused
when the endpoint is registered and again at every delivery, on the very address the delivery
then connects to (so DNS changed in between cannot redirect it), unless
``WEBHOOK_ALLOW_PRIVATE_URLS`` is on (local development, tests).
"""

import ipaddress
import urllib.parse

from app.webhooks.models import URL_LENGTH_MAX

SCHEME_SECURE = "https"
SCHEME_PLAIN = "http"


class UrlRefused(ValueError):
    """The URL breaks a rule; the message says which, in words a merchant can act on."""


def check_url(url: str, allow_private: bool) -> urllib.parse.SplitResult:
    """The URL's parts, once it follows the rules that need no DNS."""
    if len(url) > URL_LENGTH_MAX:
        raise UrlRefused(f"The URL must be at most {URL_LENGTH_MAX} characters.")
    parts = urllib.parse.urlsplit(url)
    allowed = (SCHEME_SECURE, SCHEME_PLAIN) if allow_private else (SCHEME_SECURE,)
    if parts.scheme not in allowed:
        raise UrlRefused("The URL must start with https://.")
    if not parts.hostname:
        raise UrlRefused("The URL must name a host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("The URL must not carry a user name or password.")
    if parts.fragment:
        raise UrlRefused("The URL must not carry a fragment.")
    try:
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        raise UrlRefused("The URL's port is not valid.") from None
    return parts


def is_public(address: str) -> bool:
    """Whether ``address`` is one anyone on the internet could reach (not ours, not special)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global also rules out the shared (carrier-grade NAT) and documentation ranges.
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def refused_addresses(addresses: list[str]) -> list[str]:
    """Those of ``addresses`` a webhook must not go to."""
    return [address for address in addresses if not is_public(address)]
