"""The SCIM request log: one row per request, secrets removed, never failing the request."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from provisioning.models import ScimRequest
from provisioning.request_log import REDACTED, redact
from provisioning.services import scim_requests_purge, token_revoke
from tests.conftest import ScimClient

pytestmark = pytest.mark.django_db
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def _user(username="hedy@acme.example", **fields):
    return {"schemas": [USER_SCHEMA], "userName": username, "active": True, **fields}


def test_a_request_is_logged_with_its_token_and_answer(scim, organization):
    response = scim.get("/Users", count=1)

    row = ScimRequest.objects.get()
    assert response.status_code == 200
    assert (row.organization, row.token.organization) == (organization, organization)
    assert (row.method, row.path, row.resource, row.status) == (
        "GET",
        "/scim/v2/Users",
        "Users",
        200,
    )
    assert row.duration_ms >= 0
    assert row.request_id == response["X-Request-ID"]
    assert (row.detail, row.scim_type, row.body) == ("", "", "")


def test_logging_costs_one_insert(scim):
    scim.get("/Users", count=1)  # the token's last-used write, out of the measurement
    with CaptureQueriesContext(connection) as queries:
        scim.get("/Users", count=1)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    # Besides the rate-limit counter's upsert (config.ratelimit), one row of the log.
    logged = [sql for sql in inserts if "accounts_ratelimitcounter" not in sql]
    assert len(logged) == 1
    assert "provisioning_scimrequest" in logged[0]


def test_a_refused_write_keeps_the_scim_error_and_the_body_without_secrets(scim):
    secret = "Abcdefghijklmnopqrstuvwxyz0123456789-_"
    response = scim.post(
        "/Users",
        {"schemas": [USER_SCHEMA], "password": "hunter2", "nickName": secret, "title": "Boss"},
    )

    row = ScimRequest.objects.get()
    assert response.status_code == 400
    assert (row.status, row.scim_type) == (400, response.json()["scimType"])
    assert row.detail == response.json()["detail"]
    assert '"title": "Boss"' in row.body
    assert "hunter2" not in row.body and secret not in row.body
    assert row.body.count(REDACTED) == 2


def test_a_successful_write_keeps_no_body(scim):
    scim.post("/Users", _user(password="hunter2"))
    assert ScimRequest.objects.get().body == ""


def test_redaction_reaches_into_patch_operations_and_nested_values():
    body = {
        "Operations": [
            {"op": "replace", "path": "password", "value": "hunter2"},
            {"op": "replace", "value": {"userPassword": "x", "displayName": "Kim"}},
        ],
        "emails": [{"value": "kim@acme.example"}],
        "x-api-key": "short",
    }
    assert redact(body) == {
        "Operations": [
            {"op": "replace", "path": "password", "value": REDACTED},
            {"op": "replace", "value": {"userPassword": REDACTED, "displayName": "Kim"}},
        ],
        "emails": [{"value": "kim@acme.example"}],
        "x-api-key": REDACTED,
    }


def test_a_failing_log_write_never_fails_the_request(scim, organization, monkeypatch, caplog):
    def broken(self, *args, **kwargs):
        raise DatabaseError("the log table is gone")

    monkeypatch.setattr(ScimRequest, "save", broken)
    response = scim.post("/Users", _user())

    assert response.status_code == 201
    assert organization.users.filter(username="hedy@acme.example").exists()
    assert "scim request log write failed" in caplog.text


def test_a_request_without_a_known_token_is_not_logged(client, organization):
    ScimClient(client, "nope.nope").get("/Users")
    client.get("/scim/v2/Users")
    assert not ScimRequest.objects.exists()


def test_a_revoked_tokens_requests_are_logged_for_its_organization(
    client, organization, make_scim_token, system_actor
):
    token, secret = make_scim_token(organization)
    token_revoke(token=token, actor=system_actor)
    ScimClient(client, secret).get("/Users")

    row = ScimRequest.objects.get()
    assert (row.token, row.status) == (token, 401)
    assert "revoked" in row.detail


def test_the_audit_events_of_a_request_share_its_request_id(scim):
    response = scim.post("/Users", _user())
    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED)
    assert event.request_id == ScimRequest.objects.get().request_id == response["X-Request-ID"]


def test_purge_keeps_the_retention_window(scim, settings):
    settings.SCIM_LOG_RETENTION_DAYS = 30
    scim.get("/Users")
    scim.get("/Groups")
    old, recent = ScimRequest.objects.order_by("id")
    ScimRequest.objects.filter(pk=old.pk).update(at=timezone.now() - dt.timedelta(days=31))

    assert scim_requests_purge() == 1
    assert list(ScimRequest.objects.all()) == [recent]


def test_purge_command_takes_the_days_to_keep(scim, capsys):
    scim.get("/Users")
    ScimRequest.objects.update(at=timezone.now() - dt.timedelta(days=3))
    call_command("purge_scim_requests", "--days", "5")
    assert ScimRequest.objects.count() == 1
    call_command("purge_scim_requests", "--days", "2")
    assert ScimRequest.objects.count() == 0
    assert "Purged 1 SCIM request log rows." in capsys.readouterr().out


# The task closes stale connections as a worker must; inside a test's transaction that
# would close the test's own connection, so this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_the_worker_purges_the_log_daily(scim, settings):
    from procrastinate.contrib.django import app

    from provisioning.tasks import purge_scim_requests

    settings.SCIM_LOG_RETENTION_DAYS = 30
    scim.get("/Users")
    scim.get("/Groups")
    old, recent = ScimRequest.objects.order_by("id")
    ScimRequest.objects.filter(pk=old.pk).update(at=timezone.now() - dt.timedelta(days=31))

    periodic = app.periodic_registry.periodic_tasks[("scim_requests.purge", "scim_requests.purge")]
    assert (periodic.task, periodic.cron, periodic.task.queue) == (
        purge_scim_requests,
        "47 3 * * *",
        "maintenance",
    )
    assert purge_scim_requests(timestamp=int(timezone.now().timestamp())) == 1
    assert list(ScimRequest.objects.all()) == [recent]
