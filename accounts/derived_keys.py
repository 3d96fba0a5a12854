"""Keys for one purpose each, derived with HKDF-SHA256, and the keyed digests of token secrets.

A key derived for one purpose never doubles as another's (RFC 5869 §3.2: `info` binds
the output to its use). Keys of SECRET_KEY_FALLBACKS come after, so data written
before a SECRET_KEY rotation stays readable.

Token digests (provisioning tokens, API keys) are made under the hash keys of
TOKEN_HASH_KEYS, as NetBox does with API_TOKEN_PEPPERS: each digest is stored with the
id of the key that made it, the first key makes new digests, and the others still
verify, so a key can be added, made current and retired without breaking a token. The
id `secret-key` stands for SECRET_KEY and its fallbacks.
"""

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from config.env import SECRET_KEY_HASH_KEY_ID as SECRET_KEY_ID


@functools.lru_cache(maxsize=64)
def _hkdf(secret: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(secret.encode())


def _secret_keys() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def derive_key(purpose: str, *, secret: str | None = None) -> bytes:
    """32 bytes for `purpose` (e.g. "roster.api-key-digest.v1"), from SECRET_KEY by default."""
    return _hkdf(settings.SECRET_KEY if secret is None else secret, purpose)


def fernet_for(purpose: str) -> MultiFernet:
    """Encrypts with the current SECRET_KEY's key, decrypts with the fallbacks' too."""
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(derive_key(purpose, secret=s))) for s in _secret_keys()]
    )


def _hash_key_secrets(key_id: str) -> list[str]:
    """The secrets a hash key id stands for; empty when the id is not configured."""
    for configured_id, secret in settings.TOKEN_HASH_KEYS:
        if configured_id == key_id:
            return _secret_keys() if key_id == SECRET_KEY_ID else [secret]
    return []


def _hmac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def token_digest(purpose: str, secret: str) -> tuple[str, str]:
    """(key id, HMAC-SHA256 hex digest) of `secret` under the current hash key."""
    key_id, key_secret = settings.TOKEN_HASH_KEYS[0]  # secret-key's is None: SECRET_KEY
    return key_id, _hmac(derive_key(purpose, secret=key_secret), secret)


def token_digest_matches(purpose: str, secret: str, *, key_id: str, digest: str) -> bool:
    """Whether `digest`, stored with `key_id`, is this secret's; False once the key is retired."""
    return any(
        hmac.compare_digest(_hmac(derive_key(purpose, secret=key_secret), secret), digest)
        for key_secret in _hash_key_secrets(key_id)
    )
