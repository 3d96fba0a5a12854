"""A request's first read stands for Django's connection health check
(accounts.raw_rows.fetch_first): no `SELECT 1` before it, and a connection the database
dropped is replaced and the read run again."""

import pytest
from django.db import OperationalError, connection, connections  # noqa: F401 (skipif)

from accounts import raw_rows

pytestmark = [
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's backends"),
    pytest.mark.django_db(transaction=True),
]


def _new_request(database) -> None:
    """What Django does to the connection at the start of every request (request_started,
    which the test client leaves out)."""
    database.close_if_unusable_or_obsolete()
    assert database.health_check_done is False


@pytest.fixture
def first_reads(organization, make_scim_token, system_actor):
    """Each hot path's first read, and what it should find."""
    from provisioning.selectors import token_for_secret
    from transfer.selectors import transfer_key_by_prefix
    from transfer.services import transfer_key_create

    transfer_key, _ = transfer_key_create(
        organization=organization, label="sftp", actor=system_actor
    )
    token, secret = make_scim_token(organization)
    return {
        "transfer key": (lambda: transfer_key_by_prefix(transfer_key.prefix), transfer_key.pk),
        "SCIM token": (lambda: token_for_secret(secret), token.pk),
    }


@pytest.mark.parametrize("read", ["transfer key", "SCIM token"])
def test_the_first_read_stands_for_the_connection_check(first_reads, read, monkeypatch):
    run, expected = first_reads[read]
    database = connections["default"]
    database.ensure_connection()
    checks = []
    monkeypatch.setattr(database, "is_usable", lambda: checks.append(1) or True)
    _new_request(database)

    assert run().pk == expected
    assert checks == []
    assert database.health_check_done is True


@pytest.mark.parametrize("read", ["transfer key", "SCIM token"])
def test_a_connection_the_database_dropped_is_replaced_and_the_read_answers(first_reads, read):
    """A database restart between two requests costs the next one nothing but a new
    connection, as Django's health check would have given it."""
    run, expected = first_reads[read]
    database = connections["default"]
    database.ensure_connection()
    dropped = database.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [dropped])
    finally:
        other.close()
    _new_request(database)

    assert run().pk == expected
    assert database.connection.info.backend_pid != dropped


def test_a_failed_read_on_a_live_connection_is_not_run_twice(monkeypatch):
    database = connections["default"]
    database.ensure_connection()
    with database.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")
    runs = []
    fetch = raw_rows.fetch
    monkeypatch.setattr(raw_rows, "fetch", lambda *args: runs.append(1) or fetch(*args))
    _new_request(database)
    try:
        with pytest.raises(OperationalError):
            raw_rows.fetch_first("SELECT pg_sleep(0.2)", [])
    finally:
        database.close()

    assert runs == [1]
