"""Which sessions a user holds, so deactivation and deletion end them at once."""

from django.contrib.auth.signals import user_logged_in, user_logged_out

from accounts.models import User, UserSession
from accounts.session_store import SessionStore


def session_keys_of(user: User) -> list[str]:
    return list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))


def end_sessions(session_keys: list[str]) -> None:
    """Delete the sessions themselves; the next request with their cookie is anonymous."""
    SessionStore.delete_keys(session_keys)
    UserSession.objects.filter(session_key__in=session_keys).delete()


def remember_session(sender, request, user, **kwargs):
    if user.organization_id is None or request is None or not hasattr(request, "session"):
        return
    if request.session.session_key is None:
        request.session.save()
    # login() has just given the session a new key; ON CONFLICT DO NOTHING keeps this
    # one INSERT should a row for it exist all the same.
    UserSession.objects.bulk_create(
        [UserSession(session_key=request.session.session_key, user=user)], ignore_conflicts=True
    )
    # The records of sessions that expired are forgotten by `clearsessions`
    # (accounts.session_store), not by every sign-in.


def forget_session(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session") and request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).delete()


def connect() -> None:
    user_logged_in.connect(remember_session, dispatch_uid="accounts.remember_session")
    user_logged_out.connect(forget_session, dispatch_uid="accounts.forget_session")
