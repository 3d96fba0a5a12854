"""When the person last signed in, kept in their session: adding a credential asks for a
sign-in within the last few minutes, so a session left open on someone else's screen
cannot mint a lasting way in (docs/transfer-users.md)."""

import time

from django.contrib.auth.signals import user_logged_in

SESSION_KEY = "signed_in_at"
# How recent a sign-in adding an SSH key or app password needs, in seconds.
FRESH_SECONDS = 10 * 60


def remember_sign_in(sender, request, user, **kwargs) -> None:
    """user_logged_in: runs inside login(), before the sign-in saves its session (the
    SAML ACS saves it once, in its transaction), so it adds no write of its own."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = int(time.time())


def signed_in_recently(session, *, now: float | None = None) -> bool:
    signed_in_at = session.get(SESSION_KEY)
    if not isinstance(signed_in_at, int):
        return False
    now = time.time() if now is None else now
    return now - signed_in_at <= FRESH_SECONDS


def connect() -> None:
    user_logged_in.connect(remember_sign_in, dispatch_uid="transfer.remember_sign_in")
