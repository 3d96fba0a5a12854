"""Receivers of Django's auth signals and of accounts' session store, connected in
SsoConfig.ready."""

from sso.models import OidcSession


def forget_oidc_session(sender, request, user, **kwargs) -> None:
    """On logout, the record of which provider session this one came from goes too
    (accounts.sessions forgets the user's own record of it the same way)."""
    if request is not None and hasattr(request, "session") and request.session.session_key:
        OidcSession.objects.filter(session_key=request.session.session_key).delete()


def forget_gone_oidc_sessions(sender, **kwargs) -> None:
    """After `clearsessions`, the records of OIDC sessions that expired or ended without
    a sign-out go too: the table holds the sessions that exist."""
    OidcSession.objects.filter(sender.gone()).delete()
