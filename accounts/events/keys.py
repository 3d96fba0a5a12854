"""API key secrets: `rk_<prefix>.<random>`, checked against a keyed digest.

Like provisioning tokens (NetBox's Token): the prefix is stored in clear to find the
row, and only an HMAC-SHA256 digest of the whole secret under a server-side key is
kept. The `rk_` head and a separate digest key keep API keys and SCIM tokens apart: a
SCIM token is never found among API keys, and the other way round.
"""

import hashlib
import hmac
import re
import secrets

from accounts.derived_keys import derive_key

HEAD = "rk_"
PREFIX_BYTES = 6  # 8 URL-safe characters
SECRET_BYTES = 32
_SECRET = re.compile(r"^rk_([A-Za-z0-9_-]{8})\.[A-Za-z0-9_-]{20,}$")


def digest_of(secret: str) -> str:
    key = derive_key("roster.api-key-digest.v1")
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def new_secret() -> tuple[str, str]:
    """A fresh (prefix, secret) pair."""
    prefix = secrets.token_urlsafe(PREFIX_BYTES)
    return prefix, f"{HEAD}{prefix}.{secrets.token_urlsafe(SECRET_BYTES)}"


def prefix_of(secret: str) -> str | None:
    match = _SECRET.match(secret or "")
    return match.group(1) if match else None


def matches(secret: str, digest: str) -> bool:
    return hmac.compare_digest(digest_of(secret), digest)
