"""Encryption at rest of the SP private keys.

Fernet (AES-128-CBC + HMAC-SHA256). The key is `SSO_KEY_ENCRYPTION_KEY` when set (a
Fernet key: 32 url-safe base64 bytes, which lets operators keep it apart from
SECRET_KEY), otherwise derived from SECRET_KEY for this purpose (accounts.derived_keys).
Keys derived from SECRET_KEY_FALLBACKS still decrypt, so SECRET_KEY can be rotated like
Django's own signing keys; re-encryption happens on the next SP key rollover.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.derived_keys import fernet_for

PURPOSE = "roster.sso.sp-private-key.v1"


def _fernet() -> MultiFernet:
    dedicated = getattr(settings, "SSO_KEY_ENCRYPTION_KEY", "")
    if not dedicated:
        return fernet_for(PURPOSE)
    try:
        return MultiFernet([Fernet(dedicated)])
    except ValueError:
        raise ImproperlyConfigured(
            "SSO_KEY_ENCRYPTION_KEY must be a Fernet key "
            "(python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')."
        ) from None


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
