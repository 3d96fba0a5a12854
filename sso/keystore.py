"""Encryption at rest of the SP private keys.

Fernet (AES-128-CBC + HMAC-SHA256). The key is `SSO_KEY_ENCRYPTION_KEY` when set (a
Fernet key: 32 url-safe base64 bytes, which lets operators keep it apart from
SECRET_KEY), otherwise derived from SECRET_KEY with HKDF-SHA256. Keys derived from
SECRET_KEY_FALLBACKS still decrypt, so SECRET_KEY can be rotated like Django's own
signing keys; re-encryption happens on the next SP key rollover.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_HKDF_INFO = b"roster.sso.sp-private-key.v1"


def _derived(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


def _fernet() -> MultiFernet:
    dedicated = getattr(settings, "SSO_KEY_ENCRYPTION_KEY", "")
    if dedicated:
        try:
            return MultiFernet([Fernet(dedicated)])
        except ValueError:
            raise ImproperlyConfigured(
                "SSO_KEY_ENCRYPTION_KEY must be a Fernet key "
                "(python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')."
            ) from None
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_derived(secret)) for secret in secrets])


def encrypt_private_key(pem: bytes) -> str:
    return _fernet().encrypt(pem).decode()


def decrypt_private_key(token: str) -> bytes:
    try:
        return _fernet().decrypt(token.encode())
    except InvalidToken:
        raise ImproperlyConfigured(
            "An SP private key cannot be decrypted: SSO_KEY_ENCRYPTION_KEY or SECRET_KEY "
            "changed without keeping the old value (SECRET_KEY_FALLBACKS)."
        ) from None
