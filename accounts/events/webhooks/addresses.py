"""Where an outbound request may go: public addresses only, checked on the resolved IPs.

Webhooks use it, and so does single sign-on's OpenID Connect client (sso.oidc.fetch).
The check runs when a URL is registered and again before every request, on the
addresses the name resolves to then, and the request goes to the very address checked
(a name that later resolves elsewhere, DNS rebinding, is caught). Loopback, private,
link-local (the cloud metadata service, 169.254.169.254), multicast and every other
non-global range are refused. `allow_loopback` (WEBHOOK_ALLOW_LOOPBACK for webhooks,
OIDC_ALLOW_LOOPBACK for OpenID Connect) admits http and 127.0.0.0/8 / ::1, for local
development and tests, and nothing else.
"""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
from django.conf import settings

# Cloud metadata services outside the link-local range (AWS's IPv6 endpoint).
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254")}
RESOLVE_TIMEOUT_SECONDS = 3


class RefusedTarget(ValueError):
    """The URL may not receive the request; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    hostname: str
    port: int
    path: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the name."""
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.hostname if self.port == default else f"{self.hostname}:{self.port}"


def resolve_addresses(hostname: str) -> list[str]:
    """Every A and AAAA address of `hostname` (dnspython; tests replace this)."""
    resolver = dns.resolver.Resolver()
    resolver.lifetime = RESOLVE_TIMEOUT_SECONDS
    found = []
    for record_type in ("A", "AAAA"):
        try:
            found += [answer.to_text() for answer in resolver.resolve(hostname, record_type)]
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            continue
        except dns.exception.DNSException as error:
            name = error.__class__.__name__
            raise RefusedTarget(f"{hostname} could not be resolved ({name}).") from None
    return found


def _webhook_loopback_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False))


def _refusal(address, *, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address in METADATA_ADDRESSES or address == ipaddress.ip_address("169.254.169.254"):
        return "the cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def _addresses(hostname: str) -> list:
    try:
        return [ipaddress.ip_address(hostname)]
    except ValueError:
        pass
    addresses = [ipaddress.ip_address(raw) for raw in resolve_addresses(hostname)]
    if not addresses:
        raise RefusedTarget(f"{hostname} does not resolve to any address.")
    return addresses


def check_target(url: str, *, allow_loopback: bool | None = None, noun: str = "webhook") -> Target:
    """The address to send to, or RefusedTarget with the reason.

    `noun` names what is sent, in the refusals ("A webhook URL ...", "Webhooks are sent
    over https only."); `allow_loopback` left out reads WEBHOOK_ALLOW_LOOPBACK.
    """
    if allow_loopback is None:
        allow_loopback = _webhook_loopback_allowed()
    article = "An" if noun[:1].lower() in "aeiou" else "A"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RefusedTarget(f"{article} {noun} URL is an https:// address with a host name.")
    if parts.username or parts.password:
        raise RefusedTarget(f"{article} {noun} URL must not carry credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedTarget(f"The {noun} URL's port is not a number.") from None
    addresses = _addresses(parts.hostname)
    for address in addresses:
        reason = _refusal(address, allow_loopback=allow_loopback)
        if reason:
            raise RefusedTarget(f"{parts.hostname} resolves to {reason} ({address}).")
    if parts.scheme == "http" and not (
        allow_loopback and all(address.is_loopback for address in addresses)
    ):
        raise RefusedTarget(f"{noun[:1].upper()}{noun[1:]}s are sent over https only.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])
