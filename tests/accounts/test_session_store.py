"""The session store writes a session once per request, never shares a key."""

import pytest
from django.contrib.sessions.backends.base import CreateError
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import session_store
from accounts.session_store import SessionStore
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.django_db


def _statements(context) -> list[str]:
    return [query["sql"] for query in context.captured_queries]


def test_a_new_key_writes_nothing_until_the_session_is_saved():
    store = SessionStore()
    with CaptureQueriesContext(connection) as context:
        store.create()
    assert context.captured_queries == []
    assert not Session.objects.filter(session_key=store.session_key).exists()


def test_a_new_session_is_one_insert_with_its_data():
    store = SessionStore()
    store.create()
    store["organization"] = "acme"
    with CaptureQueriesContext(connection) as context:
        store.save()
    statements = _statements(context)
    assert len(statements) == 1
    assert statements[0].startswith('INSERT INTO "django_session"')
    assert SessionStore(session_key=store.session_key)["organization"] == "acme"


def test_a_session_saved_in_the_request_is_not_written_again_unless_changed():
    store = SessionStore()
    store["step"] = 1
    store.save()
    with CaptureQueriesContext(connection) as context:
        store.save()  # what the session middleware does at the end of the request
    assert context.captured_queries == []

    store["step"] = 2
    with CaptureQueriesContext(connection) as context:
        store.save()
    statements = _statements(context)
    assert len(statements) == 1
    assert statements[0].startswith('UPDATE "django_session"')
    assert SessionStore(session_key=store.session_key)["step"] == 2


def test_a_loaded_session_is_written_back_on_save():
    first = SessionStore()
    first["step"] = 1
    first.save()
    again = SessionStore(session_key=first.session_key)
    again["step"] = 2
    again.save()
    assert SessionStore(session_key=first.session_key)["step"] == 2


def test_cycling_the_key_moves_the_data_to_one_new_row():
    store = SessionStore()
    store["step"] = 1
    store.save()
    old_key = store.session_key
    store.cycle_key()
    store.save()
    assert not Session.objects.filter(session_key=old_key).exists()
    assert SessionStore(session_key=store.session_key)["step"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_key_that_exists_is_refused_never_shared(monkeypatch):
    taken = SessionStore()
    taken["owner"] = "first browser"
    taken.save()
    monkeypatch.setattr(session_store, "get_random_string", lambda *args: taken.session_key)
    clash = SessionStore()
    clash.create()
    clash["owner"] = "second browser"
    with pytest.raises(CreateError):
        clash.save()
    assert SessionStore(session_key=taken.session_key)["owner"] == "first browser"


def test_a_console_sign_in_writes_its_session_once(client, org_admin):
    with CaptureQueriesContext(connection) as context:
        response = client.post(
            "/console/login/", {"email": org_admin.email, "password": ADMIN_PASSWORD}
        )
    assert response.status_code == 302
    writes = [
        sql
        for sql in _statements(context)
        if sql.startswith(("INSERT", "UPDATE")) and '"django_session"' in sql.split("(", 1)[0]
    ]
    # login() draws the key and the session middleware INSERTs the row: no empty row
    # first, no UPDATE after.
    assert [sql.split(" ", 1)[0] for sql in writes] == ["INSERT"]
    assert client.session["_auth_user_id"] == str(org_admin.pk)
