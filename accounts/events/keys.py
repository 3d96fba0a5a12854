"""API key secrets: `rk_<prefix>.<random>`, checked against a keyed digest.

Like provisioning tokens (NetBox's Token): the prefix is stored in clear to find the
row, and only an HMAC-SHA256 digest of the whole secret under a server-side hash key is
kept, with that key's id (accounts.derived_keys). The `rk_` head and a digest key of
their own keep API keys and SCIM tokens apart: a SCIM token is never found among API
keys, and the other way round.
"""

import re
import secrets

from accounts.derived_keys import token_digest, token_digest_matches

HEAD = "rk_"
PREFIX_BYTES = 6  # 8 URL-safe characters
SECRET_BYTES = 32
_SECRET = re.compile(r"^rk_([A-Za-z0-9_-]{8})\.[A-Za-z0-9_-]{20,}$")
DIGEST_PURPOSE = "roster.api-key-digest.v1"


def digest_of(secret: str) -> tuple[str, str]:
    """(key id, digest) of the secret under the current hash key."""
    return token_digest(DIGEST_PURPOSE, secret)


def new_secret() -> tuple[str, str]:
    """A fresh (prefix, secret) pair."""
    prefix = secrets.token_urlsafe(PREFIX_BYTES)
    return prefix, f"{HEAD}{prefix}.{secrets.token_urlsafe(SECRET_BYTES)}"


def prefix_of(secret: str) -> str | None:
    match = _SECRET.match(secret or "")
    return match.group(1) if match else None


def matches(secret: str, digest: str, *, key_id: str) -> bool:
    """Whether the digest, stored with `key_id`, is this secret's (constant time)."""
    return token_digest_matches(DIGEST_PURPOSE, secret, key_id=key_id, digest=digest)
