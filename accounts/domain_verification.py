"""Proof that an organization controls an email domain: a DNS TXT record.

The record is `roster-verification=<token>` at the label `_roster-verification.<domain>`
(not at the apex: nothing there is disturbed, no SPF record is crowded, and the label
can be delegated with a CNAME). One TXT lookup with dnspython, bounded by
DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS; every DNS failure is an answer, never an
exception: NXDOMAIN and no TXT record mean "not found yet".
"""

import functools
import re
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.resolver
from django.conf import settings

from accounts.errors import InvalidValue
from accounts.folding import casefold_key
from accounts.models import DomainCheckResult

RECORD_LABEL = "_roster-verification"
RECORD_PREFIX = "roster-verification="
# RFC 1123 §2.1 host name labels, once IDNA has made them ASCII ("xn--...").
LDH_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def domain_key(value: str) -> str:
    """The stored, folded form of a domain (Unicode, as in users' email keys).

    "Bücher.Example.", "xn--bcher-kva.example" and "bücher.example" are one domain.
    Raises InvalidValue for what is not a host name of at least two labels.
    """
    value = (value or "").strip().lstrip("@").rstrip(".")
    refusal = InvalidValue(f"{value[:100]!r} is not a domain name such as example.com.")
    if not value:
        raise refusal
    try:
        name = dns.name.from_unicode(casefold_key(value))
        ascii_labels = name.to_text(omit_final_dot=True).lower().split(".")
        folded = casefold_key(name.to_unicode(omit_final_dot=True))
    except (dns.exception.DNSException, UnicodeError, ValueError):
        raise refusal from None
    if len(ascii_labels) < 2 or not all(LDH_LABEL.match(label) for label in ascii_labels):
        raise refusal
    if ascii_labels[-1].isdigit():  # an IP address, not a domain
        raise refusal
    return folded


@functools.lru_cache(maxsize=4096)
def domain_key_or_blank(value: str) -> str:
    """domain_key, or '' for what is not a domain (for lookups, which then find nothing).

    Remembered for the last few thousand values: every login decision asks it of the
    login name's domain, and IDNA through dnspython costs more than the decision's
    statement."""
    try:
        return domain_key(value)
    except InvalidValue:
        return ""


def email_domain_key(email: str) -> str:
    """The folded domain of an email address; '' when it has none or it is not valid."""
    local, at, domain = (email or "").strip().rpartition("@")
    return domain_key_or_blank(domain) if at and local else ""


def record_name(domain: str) -> str:
    """Where the TXT record goes, in ASCII as DNS consoles want it."""
    ascii_domain = dns.name.from_unicode(domain).to_text(omit_final_dot=True)
    return f"{RECORD_LABEL}.{ascii_domain}"


def record_value(token: str) -> str:
    return f"{RECORD_PREFIX}{token}"


@dataclass(frozen=True)
class Lookup:
    result: str  # a DomainCheckResult
    detail: str = ""

    @property
    def found(self) -> bool:
        return self.result == DomainCheckResult.FOUND


def make_resolver() -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver()
    resolver.lifetime = settings.DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS
    return resolver


def _txt_strings(answer) -> list[str]:
    # One TXT record may be split into several character-strings (RFC 1035 §3.3.14).
    return [b"".join(rdata.strings).decode("ascii", "replace").strip() for rdata in answer]


def look_up_record(domain: str, token: str) -> Lookup:
    """Whether `_roster-verification.<domain>` holds `roster-verification=<token>`."""
    name = record_name(domain)
    try:
        answer = make_resolver().resolve(name, "TXT", search=False)
    except dns.resolver.NXDOMAIN:
        return Lookup(DomainCheckResult.NOT_FOUND, f"{name} does not exist in DNS yet.")
    except dns.resolver.NoAnswer:
        return Lookup(DomainCheckResult.NOT_FOUND, f"{name} has no TXT record yet.")
    except dns.exception.Timeout:
        return Lookup(DomainCheckResult.TIMEOUT, f"DNS did not answer for {name} in time.")
    except dns.exception.DNSException as error:
        return Lookup(
            DomainCheckResult.DNS_ERROR, f"DNS lookup of {name} failed ({type(error).__name__})."
        )
    if record_value(token) in _txt_strings(answer):
        return Lookup(DomainCheckResult.FOUND, f"{name} holds the verification record.")
    return Lookup(
        DomainCheckResult.NOT_FOUND,
        f"{name} has TXT records, but none is {record_value(token)}.",
    )
