"""Receivers of Django's auth signals, connected in SsoConfig.ready."""

from sso.models import OidcSession


def forget_oidc_session(sender, request, user, **kwargs) -> None:
    """On logout, the record of which provider session this one came from goes too
    (accounts.sessions forgets the user's own record of it the same way)."""
    if request is not None and hasattr(request, "session") and request.session.session_key:
        OidcSession.objects.filter(session_key=request.session.session_key).delete()
