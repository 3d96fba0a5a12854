"""Keys for one purpose each, derived from SECRET_KEY with HKDF-SHA256.

A key derived for one purpose never doubles as another's (RFC 5869 §3.2: `info` binds
the output to its use). Keys of SECRET_KEY_FALLBACKS come after, so data written
before a SECRET_KEY rotation stays readable.
"""

import base64

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _hkdf(secret: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(secret.encode())


def derive_key(purpose: str) -> bytes:
    """32 bytes for `purpose` (e.g. "roster.api-key-digest.v1") from the current SECRET_KEY."""
    return _hkdf(settings.SECRET_KEY, purpose)


def fernet_for(purpose: str) -> MultiFernet:
    """Encrypts with the current SECRET_KEY's key, decrypts with the fallbacks' too."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(_hkdf(secret, purpose))) for secret in secrets]
    )
