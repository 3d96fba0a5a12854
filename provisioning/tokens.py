"""Provisioning token secrets: generation, keyed hashing, and reading them from requests.

The secret is `<prefix>.<random>`: the prefix is stored in clear to find the row; the
whole secret is checked against an HMAC-SHA256 digest under a server-side hash key,
stored with that key's id, so a copy of the table alone is useless and the hash keys can
rotate (NetBox's Token model and its API_TOKEN_PEPPERS work the same way; see
accounts.derived_keys).
"""

import hashlib
import hmac
import re
import secrets

from django.conf import settings

from accounts.derived_keys import token_digest, token_digest_matches

PREFIX_BYTES = 6  # 8 URL-safe characters
SECRET_BYTES = 32
SEPARATOR = "."
DIGEST_PURPOSE = "roster.provisioning-token-digest.v1"
# Digests made before hash keys had ids (provisioning migration 0003). The underscore
# keeps it apart from every id TOKEN_HASH_KEYS accepts.
LEGACY_KEY_ID = "_legacy"


def _legacy_keys() -> list[bytes]:
    """The keys digests were made with before TOKEN_HASH_KEYS: verification only."""
    dedicated = getattr(settings, "SCIM_TOKEN_HASH_KEY", "")
    if dedicated:
        return [dedicated.encode()]
    secret_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [
        hashlib.sha256(b"roster.provisioning-token-digest:" + key.encode()).digest()
        for key in secret_keys
    ]


def digest_of(secret: str) -> tuple[str, str]:
    """(key id, digest) of the secret under the current hash key."""
    return token_digest(DIGEST_PURPOSE, secret)


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


def matches(secret: str, digest: str, *, key_id: str) -> bool:
    """Whether the digest, stored with `key_id`, is this secret's (constant time)."""
    if key_id == LEGACY_KEY_ID:
        return any(
            hmac.compare_digest(hmac.new(key, secret.encode(), hashlib.sha256).hexdigest(), digest)
            for key in _legacy_keys()
        )
    return token_digest_matches(DIGEST_PURPOSE, secret, key_id=key_id, digest=digest)


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
