"""The authorization requests this browser is waiting on, in a short-lived signed cookie.

Each holds the `state`, the `nonce` and the PKCE verifier of one sign-in begun here, so
the callback accepts only an answer to a request this very browser started (OIDC Core
§3.1.2.1 and §15.5.2; RFC 7636). The cookie is scoped to the organization's callback
path and SameSite=Lax: the provider's redirect back is a top-level GET, which carries
it. Nothing is written server-side until the callback; a state is then spent once for
good (sso.services.oidc_state_spend), so a copied cookie and URL cannot be replayed.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "sso.oidc-pending-authorization"
COOKIE_NAME = "roster_oidc_pending"
MAX_AGE_SECONDS = 600
# Sign-ins begun in several tabs at once each keep their own entry, up to this many.
MAX_ENTRIES = 3
MAX_NEXT_PATH = 512


@dataclass(frozen=True)
class PendingAuthorization:
    state: str
    nonce: str
    code_verifier: str
    next_path: str
    connection_id: int
    # The owner testing a connection that is not the active one, or None.
    tester_id: str | None
    started_at: int
    # Begun by the provider (third-party initiated login, OIDC Core §4), not at Roster.
    provider_initiated: bool = False


def _path(organization_slug: str) -> str:
    return reverse("sso:oidc_callback", args=[organization_slug])


def _entries(request) -> list:
    raw = request.COOKIES.get(COOKIE_NAME)
    if not raw:
        return []
    try:
        data = signing.loads(raw, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return []
    return data if isinstance(data, list) else []


def remember(request, response, *, organization_slug: str, pending: PendingAuthorization) -> None:
    now = int(time.time())
    kept = [
        entry
        for entry in _entries(request)
        if isinstance(entry, list) and len(entry) == 8 and now - entry[6] < MAX_AGE_SECONDS
    ][-(MAX_ENTRIES - 1) :]
    kept.append(
        [
            pending.state,
            pending.nonce,
            pending.code_verifier,
            pending.next_path[:MAX_NEXT_PATH],
            pending.connection_id,
            pending.tester_id,
            now,
            pending.provider_initiated,
        ]
    )
    response.set_cookie(
        COOKIE_NAME,
        signing.dumps(kept, salt=_SALT),
        max_age=MAX_AGE_SECONDS,
        path=_path(organization_slug),
        secure=settings.PUBLIC_IS_HTTPS,
        httponly=True,
        samesite="Lax",
    )


def recall(request, *, state: str) -> PendingAuthorization | None:
    """The waiting request this `state` answers, or None."""
    if not state:
        return None
    now = int(time.time())
    for entry in _entries(request):
        if not isinstance(entry, list) or len(entry) != 8 or now - entry[6] >= MAX_AGE_SECONDS:
            continue
        if isinstance(entry[0], str) and signing.constant_time_compare(entry[0], state):
            return PendingAuthorization(
                *entry[:6], started_at=entry[6], provider_initiated=entry[7] is True
            )
    return None


def forget(request, response, *, organization_slug: str, state: str) -> None:
    """Drop the answered entry; the cookie goes when none is left."""
    kept = [
        entry for entry in _entries(request) if isinstance(entry, list) and entry[:1] != [state]
    ]
    if not kept:
        response.delete_cookie(COOKIE_NAME, path=_path(organization_slug), samesite="Lax")
        return
    response.set_cookie(
        COOKIE_NAME,
        signing.dumps(kept, salt=_SALT),
        max_age=MAX_AGE_SECONDS,
        path=_path(organization_slug),
        secure=settings.PUBLIC_IS_HTTPS,
        httponly=True,
        samesite="Lax",
    )
