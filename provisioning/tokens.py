"""Provisioning token secrets: generation, keyed hashing, and reading them from requests.

The secret is `<prefix>.<random>`: the prefix is stored in clear to find the row; the
whole secret is checked against an HMAC-SHA256 digest under a server-side key, so a
copy of the table alone is useless (NetBox's Token model works the same way).
"""

import hashlib
import hmac
import re
import secrets

from django.conf import settings

PREFIX_BYTES = 6  # 8 URL-safe characters
SECRET_BYTES = 32
SEPARATOR = "."


def _hash_key() -> bytes:
    dedicated = getattr(settings, "SCIM_TOKEN_HASH_KEY", "")
    if dedicated:
        return dedicated.encode()
    # Derived rather than used as is, so the digest never doubles as another
    # SECRET_KEY-based signature.
    return hashlib.sha256(
        b"roster.provisioning-token-digest:" + settings.SECRET_KEY.encode()
    ).digest()


def digest_of(secret: str) -> str:
    return hmac.new(_hash_key(), secret.encode(), hashlib.sha256).hexdigest()


def new_secret() -> tuple[str, str]:
    """A fresh (prefix, secret) pair; the secret starts with the prefix."""
    prefix = secrets.token_urlsafe(PREFIX_BYTES)
    # The prefix must not contain the separator; token_urlsafe never emits ".".
    return prefix, f"{prefix}{SEPARATOR}{secrets.token_urlsafe(SECRET_BYTES)}"


_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


def prefix_of(secret: str) -> str | None:
    prefix, separator, rest = secret.partition(SEPARATOR)
    if not separator or not rest or not _PREFIX.match(prefix):
        return None
    return prefix


def matches(secret: str, digest: str) -> bool:
    return hmac.compare_digest(digest_of(secret), digest)


def secret_from_header(value: str) -> str | None:
    """The secret in an Authorization header: `Bearer <secret>` or the bare secret.

    Okta's "HTTP Header" authentication sends the header exactly as the admin typed
    it, so a pasted token without the `Bearer ` scheme must work too.
    """
    value = (value or "").strip()
    if not value:
        return None
    scheme, _, rest = value.partition(" ")
    if rest:
        if scheme.lower() != "bearer":
            return None
        value = rest.strip()
    if not value or " " in value:
        return None
    return value
