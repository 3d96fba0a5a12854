"""Provisioning tokens as a kind of keyed secret (accounts.keyed_secrets), and reading
them from requests.

A token is `<prefix>.<random>`, without a head. It keeps two things from before the
shared base: the prefix is read as it always was, and digests made before
TOKEN_HASH_KEYS still verify under the keys they were made with.
"""

import hashlib
import hmac
import re

from django.conf import settings

from accounts.keyed_secrets import HEADED_PREFIX, SEPARATOR, SecretKind

# Digests made before hash keys had ids (provisioning migration 0003). The underscore
# keeps it apart from every id TOKEN_HASH_KEYS accepts.
LEGACY_KEY_ID = "_legacy"
# What the prefix column holds; tokens are issued with 8 characters.
_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


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


class ProvisioningTokenKind(SecretKind):
    """Replaces the base's reading of a secret and adds the legacy digests."""

    def prefix_of(self, secret) -> str | None:
        """Any 1-16 character prefix before the first separator, as tokens have always
        been read; never a headed kind's (`rk_...`), whose prefix no token has."""
        if not isinstance(secret, str):
            return None
        prefix, separator, rest = secret.partition(SEPARATOR)
        if not separator or not rest or not _PREFIX.match(prefix):
            return None
        return None if HEADED_PREFIX.fullmatch(prefix) else prefix

    def matches(self, secret: str, *, digest: str, key_id: str) -> bool:
        if key_id == LEGACY_KEY_ID:
            return any(
                hmac.compare_digest(
                    hmac.new(key, secret.encode(), hashlib.sha256).hexdigest(), digest
                )
                for key in _legacy_keys()
            )
        return super().matches(secret, digest=digest, key_id=key_id)


PROVISIONING_TOKEN = ProvisioningTokenKind(head="", purpose="roster.provisioning-token-digest.v1")


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
