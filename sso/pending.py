"""The AuthnRequest this browser is waiting for, kept in a short-lived signed cookie.

The session cookie is SameSite=Lax, so the IdP's cross-site POST to the ACS does not
carry it; this cookie is SameSite=None (with Secure, which browsers require for None)
and scoped to the organization's ACS path. Over plain http browsers would drop a
SameSite=None cookie, so it falls back to Lax there (development only).
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "sso.pending-authn-request"


def _cookie_name() -> str:
    return getattr(settings, "SAML_PENDING_COOKIE_NAME", "roster_saml_pending")


def _max_age() -> int:
    return getattr(settings, "SAML_PENDING_MAX_AGE_SECONDS", 600)


@dataclass(frozen=True)
class PendingRequest:
    organization_slug: str
    request_id: str
    # The owner testing an IdP that is not the active connection, or None.
    tester_id: str | None = None


def remember(
    response, *, organization_slug: str, request_id: str, tester_id: str | None = None
) -> None:
    data = {"o": organization_slug, "r": request_id}
    if tester_id is not None:
        data["t"] = tester_id
    value = signing.dumps(data, salt=_SALT)
    secure = settings.PUBLIC_IS_HTTPS
    response.set_cookie(
        _cookie_name(),
        value,
        max_age=_max_age(),
        path=reverse("sso:acs", args=[organization_slug]),
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
    )


def recall(request, *, organization_slug: str) -> PendingRequest | None:
    raw = request.COOKIES.get(_cookie_name())
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=_SALT, max_age=_max_age())
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("o") != organization_slug:
        return None
    tester_id = data.get("t")
    return PendingRequest(
        organization_slug=organization_slug,
        request_id=str(data.get("r", "")),
        tester_id=tester_id if isinstance(tester_id, str) else None,
    )


def forget(response, *, organization_slug: str) -> None:
    secure = settings.PUBLIC_IS_HTTPS
    response.delete_cookie(
        _cookie_name(),
        path=reverse("sso:acs", args=[organization_slug]),
        samesite="None" if secure else "Lax",
    )
