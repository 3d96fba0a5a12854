"""Carrying a new secret from the POST that made it to the one page that shows it.

The secret rides in the session between the two requests, encrypted (Fernet, with a key
derived from SECRET_KEY for the handoff's purpose only, accounts.derived_keys) and
readable for a few minutes only, so the session table never holds a usable secret, even
if the page is never opened. Taking it removes it: a reload or Back finds nothing. A
SECRET_KEY rotated in between still decrypts through SECRET_KEY_FALLBACKS.

The console's secrets (console.secret_handoff) and the person's app passwords
(transfer.views) each hand off under a session key and purpose of their own.
"""

from dataclasses import dataclass

from cryptography.fernet import InvalidToken

from accounts.derived_keys import fernet_for


@dataclass(frozen=True)
class SecretHandoff:
    session_key: str
    purpose: str
    readable_seconds: int = 300

    def hand_off(self, session, *, handoff_id: str, secret: str) -> None:
        sealed = fernet_for(self.purpose).encrypt(secret.encode()).decode()
        session[self.session_key] = {"id": handoff_id, "sealed": sealed}

    def take(self, session, *, handoff_id: str) -> str | None:
        """The secret handed off under this id, once; None when absent, another id's, or
        too old."""
        stored = session.get(self.session_key)
        if not isinstance(stored, dict) or stored.get("id") != handoff_id:
            return None
        del session[self.session_key]
        try:
            sealed = stored["sealed"].encode()
            return fernet_for(self.purpose).decrypt(sealed, ttl=self.readable_seconds).decode()
        except (InvalidToken, KeyError, AttributeError):
            return None
