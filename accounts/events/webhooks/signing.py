"""Signing secrets and signatures per the Standard Webhooks specification.

Secrets are `whsec_<base64 of 24 random bytes>`, shown once and kept encrypted with a key
derived from SECRET_KEY for this purpose only. During a rotation every live secret signs,
so `webhook-signature` carries one `v1,<base64 HMAC-SHA256>` per secret, space-separated.
"""

import base64
import secrets
from datetime import datetime

from cryptography.fernet import InvalidToken
from django.core.exceptions import ImproperlyConfigured
from standardwebhooks.webhooks import Webhook

from accounts.derived_keys import fernet_for

SECRET_BYTES = 24
PURPOSE = "roster.webhook-signing-secret.v1"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def encrypt_secret(secret: str) -> str:
    return fernet_for(PURPOSE).encrypt(secret.encode()).decode()


def decrypt_secret(encrypted: str) -> str:
    try:
        return fernet_for(PURPOSE).decrypt(encrypted.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A webhook signing secret cannot be decrypted: SECRET_KEY changed without "
            "keeping the old value in SECRET_KEY_FALLBACKS."
        ) from None


def signature_header(secrets: list[str], *, msg_id: str, timestamp: datetime, body: str) -> str:
    return " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body) for secret in secrets
    )
