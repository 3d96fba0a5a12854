"""Carrying a new secret (a token, an API key, a webhook or transfer key secret) from the
create POST to the page that shows it once: accounts.secret_handoff's mechanism, under
the console's session key and purpose.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers

from accounts.secret_handoff import SecretHandoff

SESSION_KEY = "console.new_token_secret"
READABLE_SECONDS = 300
PURPOSE = "roster.console.new-token-secret.v1"


def _handoff() -> SecretHandoff:
    # Built per call from the module's settings, which tests may change.
    return SecretHandoff(
        session_key=SESSION_KEY, purpose=PURPOSE, readable_seconds=READABLE_SECONDS
    )


def hand_off(session, *, token_id, secret: str) -> None:
    _handoff().hand_off(session, handoff_id=token_id, secret=secret)


def take(session, *, token_id) -> str | None:
    """The secret handed off for this id, once; None when absent, another's, or too old."""
    return _handoff().take(session, handoff_id=token_id)


def show_once(request, *, handoff_id, template: str, context: dict, gone: str, gone_to: str):
    """The page that shows a handed-off secret, once, answering `Cache-Control: no-store`;
    a reload or Back finds nothing and goes to `gone_to`, saying `gone`."""
    secret = take(request.session, token_id=handoff_id)
    if secret is None:
        messages.info(request, gone)
        return redirect(gone_to)
    response = render(request, template, {**context, "secret": secret})
    add_never_cache_headers(response)  # includes no-store: Back must not replay it
    return response
