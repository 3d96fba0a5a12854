"""Deactivating or deleting a user ends their sessions once the change commits."""

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import UserSession
from accounts.services import user_deactivate, user_delete


def _log_in(client, user):
    client.force_login(user, backend="accounts.backends.ConsoleEmailBackend")
    return client.session.session_key


def test_deactivation_ends_the_users_sessions_after_commit(
    client, org_admin, system_actor, django_capture_on_commit_callbacks
):
    session_key = _log_in(client, org_admin)
    assert client.session["_auth_user_id"] == str(org_admin.pk)
    assert UserSession.objects.filter(user=org_admin, session_key=session_key).exists()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        user_deactivate(user=org_admin, actor=system_actor)
        assert Session.objects.filter(session_key=session_key).exists()

    assert len(callbacks) == 1
    assert not Session.objects.filter(session_key=session_key).exists()
    assert not UserSession.objects.filter(session_key=session_key).exists()
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")
    assert "_auth_user_id" not in client.session


def test_deactivation_leaves_other_users_sessions(
    client, org_admin, org_owner, system_actor, django_capture_on_commit_callbacks
):
    from django.test import Client

    owner_client = Client()
    owner_key = _log_in(owner_client, org_owner)
    _log_in(client, org_admin)
    with django_capture_on_commit_callbacks(execute=True):
        user_deactivate(user=org_admin, actor=system_actor)
    assert Session.objects.filter(session_key=owner_key).exists()
    assert owner_client.session["_auth_user_id"] == str(org_owner.pk)


def test_deleting_a_user_ends_their_sessions(
    client, org_admin, system_actor, django_capture_on_commit_callbacks
):
    session_key = _log_in(client, org_admin)
    with django_capture_on_commit_callbacks(execute=True):
        user_delete(user=org_admin, actor=system_actor)
    assert not Session.objects.filter(session_key=session_key).exists()
    assert client.get("/console/").status_code == 302


def test_logging_out_forgets_the_session(client, org_admin):
    session_key = _log_in(client, org_admin)
    client.post("/console/logout/")
    assert not UserSession.objects.filter(session_key=session_key).exists()


def test_clearsessions_forgets_the_records_of_sessions_that_are_gone(client, org_admin):
    ended_key = _log_in(client, org_admin)
    Session.objects.filter(session_key=ended_key).delete()  # ended without a sign-out
    live_key = _log_in(Client(), org_admin)
    expired_key = _log_in(Client(), org_admin)
    Session.objects.filter(session_key=expired_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    call_command("clearsessions")

    assert not Session.objects.filter(session_key=expired_key).exists()
    assert list(
        UserSession.objects.filter(user=org_admin).values_list("session_key", flat=True)
    ) == [live_key]


def test_a_users_sessions_end_in_one_statement(org_admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.sessions import end_sessions, session_keys_of

    keys = [_log_in(Client(), org_admin) for _ in range(3)]
    assert sorted(session_keys_of(org_admin)) == sorted(keys)
    with CaptureQueriesContext(connection) as context:
        end_sessions(keys)
    deletes = [q["sql"] for q in context.captured_queries if q["sql"].startswith("DELETE")]
    assert len([sql for sql in deletes if '"django_session"' in sql.split("WHERE")[0]]) == 1
    assert not Session.objects.filter(session_key__in=keys).exists()
    assert session_keys_of(org_admin) == []
