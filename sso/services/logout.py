"""Single logout: a LogoutRequest is used once and ends only the session it names."""

from django.db import IntegrityError, transaction

from accounts.models import Organization
from sso.errors import LogoutRefused
from sso.logout import TrustedLogoutRequest
from sso.models import SamlAssertionUse

# LogoutRequest ids share the replay store with assertion ids, kept apart by this prefix.
LOGOUT_ID_PREFIX = "logout:"


@transaction.atomic
def logout_request_consume(
    *, organization: Organization, logout_request: TrustedLogoutRequest
) -> None:
    """Record the request id; a second use (the same signed URL again) is a replay."""
    try:
        with transaction.atomic():
            SamlAssertionUse.objects.create(
                organization=organization,
                assertion_id=(LOGOUT_ID_PREFIX + logout_request.request_id)[:256],
                expires_at=logout_request.expires_at,
            )
    except IntegrityError:
        raise LogoutRefused("replayed") from None


def session_is_named_by(saml_session: dict | None, *, organization, logout_request) -> bool:
    """Whether this browser's SSO session is the one the LogoutRequest names.

    The session must come from this organization's IdP (the one whose signature was
    checked) and carry the same NameID; a SessionIndex, when the IdP sends one, must
    match too (SAMLCore §3.7.1).
    """
    if not saml_session or saml_session.get("organization") != organization.slug:
        return False
    if (saml_session.get("name_id") or "").strip() != logout_request.name_id:
        return False
    indexes = logout_request.session_indexes
    return not indexes or saml_session.get("session_index") in indexes
