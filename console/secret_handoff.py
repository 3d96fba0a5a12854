"""Carrying a new token's secret from the create POST to the page that shows it once.

The secret rides in the session between the two requests, but encrypted (Fernet, with a
key derived from SECRET_KEY for this purpose only, accounts.derived_keys) and readable
for a few minutes only, so the session table never holds a usable provisioning token,
even if the page is never opened. A SECRET_KEY rotated in between still decrypts
through SECRET_KEY_FALLBACKS.
"""

from cryptography.fernet import InvalidToken

from accounts.derived_keys import fernet_for

SESSION_KEY = "console.new_token_secret"
READABLE_SECONDS = 300
PURPOSE = "roster.console.new-token-secret.v1"


def hand_off(session, *, token_id: int, secret: str) -> None:
    session[SESSION_KEY] = {
        "token_id": token_id,
        "sealed": fernet_for(PURPOSE).encrypt(secret.encode()).decode(),
    }


def take(session, *, token_id: int) -> str | None:
    """The secret for this token, once; None when absent, another token's, or too old."""
    stored = session.get(SESSION_KEY)
    if not stored or stored.get("token_id") != token_id:
        return None
    del session[SESSION_KEY]
    try:
        return fernet_for(PURPOSE).decrypt(stored["sealed"].encode(), ttl=READABLE_SECONDS).decode()
    except (InvalidToken, KeyError, AttributeError):
        return None
