"""The sign-in log's rows through Redis: buffered in the decision's round trip, written
in batches, and never behind for anyone who reads the log (transfer.sign_in_log)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, Organization
from accounts.services import user_delete
from config import ratelimit
from tests.conftest import use_redis_cache
from transfer import sign_in_log
from transfer.models import AppPassword, SshKey, TransferSignIn
from transfer.tasks import drain_transfer_sign_ins

WRONG_PASSWORD = "rap_AAAAAAAA." + "y" * 43


@pytest.fixture
def redis(settings):
    """Redis as the shared cache, as in production: rows are buffered."""
    use_redis_cache(settings)


def buffered() -> list[bytes]:
    client, name = ratelimit.redis_list_client(sign_in_log.BUFFER)
    return client.lrange(name, 0, -1)


def sign_in_statements(call) -> list[str]:
    """The statements of an allowed decision that touch the sign-in log."""
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return [q["sql"] for q in queries.captured_queries if "transfer_transfersignin" in q["sql"]]


def test_a_decision_buffers_its_row_and_a_drain_writes_it_with_the_last_use(
    redis, server, bob, bob_password, transfer_on
):
    statements = sign_in_statements(
        lambda: server.authenticate("bob@acme.example", password=bob_password[1], protocol="ftps")
    )

    assert statements == []
    assert len(buffered()) == 1
    assert not TransferSignIn.objects.exists()
    assert AppPassword.objects.get(pk=bob_password[0].pk).last_used_at is None

    assert sign_in_log.drain() == 1

    row = TransferSignIn.objects.get()
    assert (row.login, row.protocol, row.ip, row.allowed, row.reason) == (
        "bob@acme.example",
        "ftps",
        "203.0.113.7",
        True,
        "",
    )
    assert (row.user_id, row.organization_id) == (bob.pk, bob.organization_id)
    assert (row.credential_kind, row.credential_id) == ("app_password", f"pw_{bob_password[0].pk}")
    assert AppPassword.objects.get(pk=bob_password[0].pk).last_used_at == row.at
    assert buffered() == []
    assert sign_in_log.drain() == 0


def test_a_refusal_is_buffered_and_audited_at_once(redis, server, bob, bob_password, transfer_on):
    response = server.authenticate("bob@acme.example", password=WRONG_PASSWORD)

    assert response.status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.TRANSFER_LOGIN_REFUSED).count() == 1
    assert len(buffered()) == 1
    sign_in_log.drain()
    assert TransferSignIn.objects.get().reason == "bad_credential"


def test_a_throttled_decision_leaves_no_row(
    redis, server, bob, bob_password, transfer_on, settings
):
    settings.TRANSFER_FAILURE_RATE = "2/5m"
    answers = [
        server.authenticate("bob@acme.example", password=WRONG_PASSWORD).status_code
        for _ in range(3)
    ]

    assert answers == [403, 403, 429]
    assert len(buffered()) == 2


def test_the_request_that_completes_a_batch_writes_it(
    redis, server, bob, bob_key, transfer_on, monkeypatch
):
    monkeypatch.setattr(sign_in_log, "BATCH", 3)
    for _ in range(2):
        server.authenticate("bob@acme.example", public_key=bob_key[1])
    assert not TransferSignIn.objects.exists()

    server.authenticate("bob@acme.example", public_key=bob_key[1])

    assert TransferSignIn.objects.count() == 3
    assert buffered() == []
    assert SshKey.objects.get(pk=bob_key[0].pk).last_used_at is not None


def test_past_the_buffer_limit_rows_are_written_at_once(
    redis, server, bob, bob_password, transfer_on, settings
):
    settings.TRANSFER_LOG_BUFFER = 1
    server.authenticate("bob@acme.example", password=bob_password[1])
    assert not TransferSignIn.objects.exists()

    server.authenticate("bob@acme.example", password=bob_password[1], protocol="webdav")

    assert list(TransferSignIn.objects.values_list("protocol", flat=True)) == ["webdav"]
    assert len(buffered()) == 1
    sign_in_log.drain()
    assert sorted(TransferSignIn.objects.values_list("protocol", flat=True)) == ["sftp", "webdav"]


def test_with_no_buffer_every_row_is_written_at_once(
    redis, server, bob, bob_password, transfer_on, settings
):
    settings.TRANSFER_LOG_BUFFER = 0

    statements = sign_in_statements(
        lambda: server.authenticate("bob@acme.example", password=bob_password[1])
    )

    assert len(statements) == 1
    assert 'INSERT INTO "transfer_transfersignin"' in statements[0]
    assert buffered() == []


def test_without_redis_every_row_is_written_at_once(server, bob, bob_password, transfer_on):
    server.authenticate("bob@acme.example", password=bob_password[1])

    assert TransferSignIn.objects.count() == 1
    assert sign_in_log.drain() == 0


def test_the_person_and_the_console_see_a_buffered_sign_in_at_once(
    redis, server, client, bob, bob_password, transfer_on, org_owner
):
    server.authenticate("bob@acme.example", password=bob_password[1], ip="198.51.100.7")
    assert len(buffered()) == 1

    client.force_login(bob)
    assert "198.51.100.7" in client.get("/transfer/").content.decode()
    assert buffered() == []

    server.authenticate("bob@acme.example", password=WRONG_PASSWORD, ip="198.51.100.9")
    client.force_login(org_owner)
    assert "198.51.100.9" in client.get("/console/transfer/sign-ins/").content.decode()
    assert TransferSignIn.objects.count() == 2


def test_rows_of_a_deleted_person_name_nobody_and_of_a_deleted_organization_go(
    redis, server, bob, bob_password, transfer_on, system_actor
):
    server.authenticate("bob@acme.example", password=bob_password[1])
    user_delete(user=bob, actor=system_actor)
    sign_in_log.drain()
    assert TransferSignIn.objects.get().user_id is None

    server.authenticate("nobody@acme.example", password=WRONG_PASSWORD)
    Organization.objects.filter(pk=bob.organization_id).delete()
    assert sign_in_log.drain() == 1
    assert TransferSignIn.objects.filter(login="nobody@acme.example").count() == 0


def test_a_later_recorded_last_use_is_kept(redis, server, bob, bob_password, transfer_on):
    later = timezone.now() + timedelta(hours=1)
    AppPassword.objects.filter(pk=bob_password[0].pk).update(last_used_at=later)
    server.authenticate("bob@acme.example", password=bob_password[1])

    sign_in_log.drain()

    assert AppPassword.objects.get(pk=bob_password[0].pk).last_used_at == later


def test_one_drain_at_a_time(redis, server, bob, bob_password, transfer_on):
    server.authenticate("bob@acme.example", password=bob_password[1])
    client, name = ratelimit.redis_list_client(sign_in_log.BUFFER)
    held = client.lock(f"{name}:drain", timeout=5)
    assert held.acquire(blocking=False)
    try:
        # A request that completed a batch leaves the rows to the running drain.
        assert sign_in_log.drain(wait=False) == 0
        assert len(buffered()) == 1
    finally:
        held.release()

    assert sign_in_log.drain(wait=False) == 1
    assert TransferSignIn.objects.count() == 1


def test_the_worker_drains_every_minute(redis, server, bob, bob_password, transfer_on, monkeypatch):
    from transfer import tasks

    # The worker's connection handling, not this test's transaction, is not the point.
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)
    server.authenticate("bob@acme.example", password=bob_password[1])

    assert drain_transfer_sign_ins(timestamp=0) == 1
    assert TransferSignIn.objects.count() == 1


def test_a_page_shows_the_database_when_redis_is_out_of_reach(
    redis, client, bob, bob_password, transfer_on, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    def unreachable(name):
        raise RedisConnectionError("down")

    monkeypatch.setattr(ratelimit, "redis_list_client", unreachable)
    client.force_login(bob)

    assert client.get("/transfer/").status_code == 200


def test_a_last_use_is_recorded_at_most_once_a_minute(
    redis, server, bob, bob_password, transfer_on
):
    recent = timezone.now() - timedelta(seconds=30)
    AppPassword.objects.filter(pk=bob_password[0].pk).update(last_used_at=recent)
    server.authenticate("bob@acme.example", password=bob_password[1])

    sign_in_log.drain()

    assert AppPassword.objects.get(pk=bob_password[0].pk).last_used_at == recent


def test_a_batch_of_rows_with_no_address_and_no_person(redis, platform_server, transfer_on):
    for _ in range(2):
        platform_server.authenticate("nobody@nowhere.example", password=WRONG_PASSWORD, ip=None)

    assert sign_in_log.drain() == 2
    assert (
        list(TransferSignIn.objects.values_list("ip", "user_id", "organization_id"))
        == [(None, None, None)] * 2
    )


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's batch statement")
def test_a_row_the_table_refuses_is_dropped_and_the_rest_written(
    redis, server, bob, bob_password, transfer_on, caplog
):
    import json

    server.authenticate("bob@acme.example", password=bob_password[1])
    client, name = ratelimit.redis_list_client(sign_in_log.BUFFER)
    (good,) = client.lrange(name, 0, -1)
    bad = json.loads(good)
    bad[sign_in_log.FIELDS.index("ip")] = "not an address"
    client.rpush(name, json.dumps(bad))

    assert sign_in_log.drain() == 2

    assert TransferSignIn.objects.count() == 1
    assert buffered() == []
    assert "transfer sign-in log row dropped: DataError" in caplog.text


def test_a_decision_is_answered_when_its_batch_cannot_be_written(
    redis, server, bob, bob_key, transfer_on, monkeypatch, caplog
):
    from django.db import OperationalError

    def unwritable(values):
        raise OperationalError("the database went away")

    monkeypatch.setattr(sign_in_log, "BATCH", 1)
    monkeypatch.setattr(sign_in_log, "_write_batch", unwritable)

    response = server.authenticate("bob@acme.example", public_key=bob_key[1])

    assert response.status_code == 200
    assert len(buffered()) == 1
    assert "transfer sign-in log not drained: OperationalError" in caplog.text


def test_metrics_report_the_rows_waiting(redis, server, bob, bob_password, transfer_on):
    def waiting():
        (family,) = sign_in_log.BufferCollector().collect()
        return family.samples[0].value

    assert waiting() == 0
    server.authenticate("bob@acme.example", password=bob_password[1])
    server.authenticate("bob@acme.example", password=WRONG_PASSWORD)
    assert waiting() == 2

    sign_in_log.drain()
    assert waiting() == 0


def test_metrics_report_no_buffer_without_redis(db):
    assert list(sign_in_log.BufferCollector().collect()) == []


def test_a_scrape_shows_the_rows_waiting(
    redis, server, client, bob, bob_password, transfer_on, settings
):
    settings.METRICS_TOKEN = "scrape-token-for-tests"
    server.authenticate("bob@acme.example", password=bob_password[1])

    body = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})

    assert body.status_code == 200
    assert "roster_transfer_sign_ins_buffered 1.0" in body.content.decode()
