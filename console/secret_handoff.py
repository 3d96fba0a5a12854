"""Carrying a new token's secret from the create POST to the page that shows it once.

The secret rides in the session between the two requests, but encrypted (Fernet, with a
key derived from SECRET_KEY for this purpose only) and readable for a few minutes only,
so the session table never holds a usable provisioning token, even if the page is
never opened.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SESSION_KEY = "console.new_token_secret"
READABLE_SECONDS = 300
_HKDF_INFO = b"roster.console.new-token-secret.v1"


def _fernet() -> Fernet:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode())))


def hand_off(session, *, token_id: int, secret: str) -> None:
    session[SESSION_KEY] = {
        "token_id": token_id,
        "sealed": _fernet().encrypt(secret.encode()).decode(),
    }


def take(session, *, token_id: int) -> str | None:
    """The secret for this token, once; None when absent, another token's, or too old."""
    stored = session.get(SESSION_KEY)
    if not stored or stored.get("token_id") != token_id:
        return None
    del session[SESSION_KEY]
    try:
        return _fernet().decrypt(stored["sealed"].encode(), ttl=READABLE_SECONDS).decode()
    except (InvalidToken, KeyError, AttributeError):
        return None
