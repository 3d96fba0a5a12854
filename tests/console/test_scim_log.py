"""The console's SCIM request log and provisioning health."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from provisioning.models import ScimRequest
from provisioning.selectors import provisioning_health
from provisioning.services import token_mark_used
from tests.conftest import ScimClient

pytestmark = pytest.mark.django_db
LOG = reverse("console:scim_requests")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def okta(client, organization, make_scim_token):
    token, secret = make_scim_token(organization, label="Okta")
    return token, ScimClient(client, secret)


def _log_rows(token, n, *, status=200, at=None, method="GET", resource="Users"):
    at = at or timezone.now()
    ScimRequest.objects.bulk_create(
        [
            ScimRequest(
                organization_id=token.organization_id,
                token=token,
                at=at - dt.timedelta(seconds=i),
                method=method,
                path=f"/scim/v2/{resource}",
                resource=resource,
                status=status,
                duration_ms=3.0,
            )
            for i in range(n)
        ]
    )


def _paths(owner_client, **params) -> list[str]:
    page = owner_client.get(LOG, params)
    assert page.status_code == 200
    return [f"{row.method} {row.status}" for row in page.context["page"].items]


def test_the_log_lists_requests_with_the_scim_error_of_refused_ones(owner_client, okta):
    token, scim = okta
    scim.get("/Users")
    refused = scim.post("/Users", {"schemas": [USER_SCHEMA], "password": "hunter2"})
    body = owner_client.get(LOG).content.decode()

    assert refused.status_code == 400
    assert refused.json()["detail"] in body
    assert f"<code>{refused.json()['scimType']}</code>" in body
    assert "Refused body" in body and "hunter2" not in body
    assert "GET /scim/v2/Users" in body and token.prefix in body


def test_the_log_filters_by_token_method_status_class_resource_and_time(
    owner_client, organization, okta, make_scim_token
):
    token, _ = okta
    other, _ = make_scim_token(organization, label="Entra")
    now = timezone.now()
    _log_rows(token, 1, status=200)
    _log_rows(token, 1, status=409, method="POST")
    _log_rows(token, 1, status=500, method="PATCH", resource="Groups")
    _log_rows(other, 1, status=201, method="POST", at=now - dt.timedelta(days=2))

    assert sorted(_paths(owner_client, token=token.pk)) == ["GET 200", "PATCH 500", "POST 409"]
    assert _paths(owner_client, method="POST", token=token.pk) == ["POST 409"]
    assert sorted(_paths(owner_client, status="failed")) == ["PATCH 500", "POST 409"]
    assert _paths(owner_client, status="4xx") == ["POST 409"]
    assert _paths(owner_client, status="2xx", token=token.pk) == ["GET 200"]
    assert _paths(owner_client, resource="Groups") == ["PATCH 500"]
    until = (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert _paths(owner_client, until=until) == ["POST 201"]


def test_a_bad_filter_is_shown_and_ignored(owner_client, okta):
    _log_rows(okta[0], 2)
    page = owner_client.get(LOG, {"since": "yesterday", "status": "7xx"})
    assert page.status_code == 200
    assert len(page.context["page"].items) == 2
    assert page.context["form"].errors.keys() == {"since", "status"}


def test_another_organizations_requests_are_not_shown(
    owner_client, other_organization, make_scim_token
):
    theirs, _ = make_scim_token(other_organization, label="Globex")
    _log_rows(theirs, 3)
    assert _paths(owner_client) == []
    assert _paths(owner_client, token=theirs.pk) == []


def test_a_request_links_to_its_changes_and_the_change_back_to_it(owner_client, okta):
    _, scim = okta
    created = scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "kim@acme.example"})
    request_id = created["X-Request-ID"]

    log = owner_client.get(LOG).content.decode()
    assert f'href="{reverse("console:activity")}?request={request_id}"' in log
    activity = owner_client.get(reverse("console:activity"), {"request": request_id})
    assert [e.action for e, _ in activity.context["rows"]] == ["user.created"]
    assert f'href="{LOG}?request={request_id}"' in activity.content.decode()
    assert _paths(owner_client, request=request_id) == ["POST 201"]


def test_the_log_page_costs_the_same_for_10_or_50_rows(owner_client, okta):
    def queries_for(n):
        ScimRequest.objects.all().delete()
        _log_rows(okta[0], n)
        with CaptureQueriesContext(connection) as context:
            owner_client.get(LOG)
        return len(context.captured_queries)

    assert queries_for(10) == queries_for(50)


def test_health_reports_last_success_failure_and_the_24_hour_error_rate(organization, okta):
    token, _ = okta
    now = timezone.now()
    _log_rows(token, 3, status=200, at=now - dt.timedelta(hours=1))
    _log_rows(token, 1, status=400, at=now - dt.timedelta(minutes=5))
    _log_rows(token, 5, status=500, at=now - dt.timedelta(hours=30))

    (entry,) = provisioning_health(organization, now=now)
    assert entry.last_success == now - dt.timedelta(hours=1)
    assert entry.last_failure == now - dt.timedelta(minutes=5)
    assert (entry.requests_24h, entry.failures_24h, entry.error_rate_24h) == (4, 1, 0.25)
    assert (entry.recent, entry.recent_failures, entry.failing) == (9, 6, True)


def test_more_than_a_fifth_of_the_last_100_failing_shows_a_banner(owner_client, okta):
    token, _ = okta
    now = timezone.now()
    _log_rows(token, 79, status=200, at=now)
    _log_rows(token, 21, status=409, at=now - dt.timedelta(minutes=1))
    _log_rows(token, 50, status=500, at=now - dt.timedelta(hours=2))  # older than the last 100

    for page in ("console:home", "console:provisioning"):
        body = owner_client.get(reverse(page)).content.decode()
        assert "21 of the last 100 requests with token <strong>Okta</strong> failed." in body
        assert f'href="{LOG}?token={token.pk}&amp;status=failed"' in body


def test_a_fifth_failing_is_no_banner(owner_client, okta):
    _log_rows(okta[0], 80, status=200)
    _log_rows(okta[0], 20, status=409, at=timezone.now() - dt.timedelta(minutes=1))
    assert b"failed." not in owner_client.get(reverse("console:home")).content


def test_a_token_that_went_silent_shows_a_banner(owner_client, okta, settings):
    settings.PROVISIONING_SILENT_HOURS = 24
    token, _ = okta
    token_mark_used(token=token, now=timezone.now() - dt.timedelta(hours=25))

    for page in ("console:home", "console:provisioning"):
        body = owner_client.get(reverse(page)).content.decode()
        assert "used to sync but has sent nothing since" in body
        assert f'href="{LOG}?token={token.pk}"' in body


def test_a_token_that_never_synced_or_synced_recently_is_not_silent(owner_client, okta, settings):
    settings.PROVISIONING_SILENT_HOURS = 24
    assert b"used to sync" not in owner_client.get(reverse("console:home")).content
    token_mark_used(token=okta[0], now=timezone.now() - dt.timedelta(hours=23))
    assert b"used to sync" not in owner_client.get(reverse("console:home")).content


def test_health_costs_two_queries_with_several_tokens(organization, make_scim_token):
    for label in ("Okta", "Entra", "Sandbox"):
        token, _ = make_scim_token(organization, label=label)
        _log_rows(token, 5)
    with CaptureQueriesContext(connection) as context:
        assert len(provisioning_health(organization)) == 3
    assert len(context.captured_queries) == 2
