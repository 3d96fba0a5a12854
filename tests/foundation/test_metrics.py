"""/metrics: who may scrape it, what it counts, and that labels never carry a secret."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connections
from prometheus_client.parser import text_string_to_metric_families

from config import metrics, ratelimit

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    return METRICS_TOKEN


def scrape(client, token=METRICS_TOKEN, **headers):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}", **headers})


def samples(text: str) -> dict:
    """{(sample name, frozenset of labels): value} of an exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(name: str, **labels) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_is_404_when_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert scrape(client, token="").status_code == 404


def test_metrics_refuses_a_scrape_without_the_token(client, metrics_token):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert METRICS_TOKEN not in response.content.decode()


def test_metrics_refuses_a_wrong_token(client, metrics_token):
    assert scrape(client, token=METRICS_TOKEN + "x").status_code == 401
    assert scrape(client, token=METRICS_TOKEN[:-1]).status_code == 401
    wrong_scheme = client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
    assert wrong_scheme.status_code == 401


def test_metrics_answers_the_token_in_the_prometheus_text_format(client, metrics_token, db):
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "roster_http_requests",
        "roster_http_request_duration_seconds",
        "roster_scim_requests",
        "roster_saml_sign_ins",
        "roster_saml_refusals",
        "roster_rate_limit_refusals",
        "roster_store_unavailable_errors",
    } <= names


def test_metrics_is_scraped_by_address_outside_allowed_hosts(client, settings, metrics_token, db):
    settings.ALLOWED_HOSTS = ["roster.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert scrape(client, host="10.0.3.17:8000").status_code == 200


def test_metrics_takes_only_get(client, metrics_token):
    response = client.post("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_requests_are_counted_by_view_method_and_status(client, db):
    before = value("roster_http_requests_total", view="console:login", method="GET", status="200")
    client.get("/console/login/")
    after = value("roster_http_requests_total", view="console:login", method="GET", status="200")
    assert after - before == 1
    assert value("roster_http_request_duration_seconds_count", view="console:login") >= 1


def test_an_unknown_method_is_counted_as_other(client, db):
    labels = {"view": "console:login", "method": "OTHER", "status": "200"}
    before = value("roster_http_requests_total", **labels)
    assert client.generic("BREW", "/console/login/").status_code == 200
    assert value("roster_http_requests_total", **labels) - before == 1
    assert (
        value("roster_http_requests_total", view="console:login", method="BREW", status="200") == 0
    )


def test_a_path_that_matches_no_view_is_counted_as_unresolved(client, db):
    labels = {"view": "unresolved", "method": "GET", "status": "404"}
    before = value("roster_http_requests_total", **labels)
    client.get("/no-such-page-4711/")
    assert value("roster_http_requests_total", **labels) - before == 1


def test_probes_are_not_counted(client, db):
    labels = {"view": "unresolved", "method": "GET", "status": "200"}
    before = value("roster_http_requests_total", **labels)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert value("roster_http_requests_total", **labels) == before


def test_scim_requests_are_counted_by_resource_method_and_status(scim, client, metrics_token):
    users = {"resource": "Users", "method": "GET", "status": "200"}
    search = {"resource": "Users/.search", "method": "POST", "status": "200"}
    refused = {"resource": "Users", "method": "GET", "status": "401"}
    counts = [value("roster_scim_requests_total", **labels) for labels in (users, search, refused)]

    assert scim.get("/Users").status_code == 200
    assert scim.get("/Users/5b2b8c94-0000-4000-8000-000000000000").status_code == 404
    search_body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    assert scim.post("/Users/.search", search_body).status_code == 200
    assert client.get("/scim/v2/Users").status_code == 401

    assert value("roster_scim_requests_total", **users) - counts[0] == 1
    assert value("roster_scim_requests_total", **search) - counts[1] == 1
    assert value("roster_scim_requests_total", **refused) - counts[2] == 1
    not_found = value("roster_scim_requests_total", resource="Users", method="GET", status="404")
    assert not_found >= 1


def test_no_token_user_or_organization_appears_in_a_scrape(
    scim, scim_secret, client, metrics_token, organization
):
    created = scim.post(
        "/Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "metrics.person@acme.example",
            "externalId": "ext-metrics-4711",
        },
    )
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert scim.get(f"/Users/{user_id}").status_code == 200
    text = scrape(client).content.decode()
    for secret_or_value in (
        scim_secret,
        scim_secret[:12],
        METRICS_TOKEN,
        user_id,
        "metrics.person",
        "ext-metrics-4711",
        organization.slug,
    ):
        assert secret_or_value not in text


def test_rate_limit_refusals_are_counted_by_limit(db):
    rate = ratelimit.Rate(limit=1, window=60)
    before = value("roster_rate_limit_refusals_total", limit="test-limit")
    assert ratelimit.hit("test-limit", "203.0.113.9", rate).allowed
    assert not ratelimit.hit("test-limit", "203.0.113.9", rate).allowed
    assert value("roster_rate_limit_refusals_total", limit="test-limit") - before == 1


def test_a_scim_throttle_refusal_is_counted(client, settings, db):
    settings.SCIM_AUTH_FAILURE_RATE = "1/5m"
    before = value("roster_rate_limit_refusals_total", limit="scim-auth-failure")
    assert client.get("/scim/v2/Users").status_code == 401
    assert client.get("/scim/v2/Users").status_code == 429
    assert value("roster_rate_limit_refusals_total", limit="scim-auth-failure") - before == 1


@pytest.mark.django_db
def test_an_unreachable_database_is_counted_at_readyz(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    before = value("roster_store_unavailable_errors_total", store="database")
    monkeypatch.setattr(type(connections["default"]), "cursor", unreachable)
    assert client.get("/readyz").status_code == 503
    assert value("roster_store_unavailable_errors_total", store="database") - before == 1


def test_an_unreachable_redis_is_counted_as_redis(client, settings, db):
    # Port 1 on the loopback: nothing listens there, the connection is refused at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    before = value("roster_store_unavailable_errors_total", store="redis")
    assert client.get("/scim/v2/Users").status_code == 503
    assert value("roster_store_unavailable_errors_total", store="redis") - before == 1


class _QueueCollector:
    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily("roster_test_scrape_time", "Read at scrape time.", value=7)


def test_scrape_collectors_are_read_at_each_scrape(client, metrics_token, db):
    collector = _QueueCollector()
    metrics.register_scrape_collector(collector)
    try:
        parsed = samples(scrape(client).content.decode())
    finally:
        metrics._scrape_collectors.unregister(collector)
    assert parsed[("roster_test_scrape_time", frozenset())] == 7


def test_every_worker_process_counts_in_multiprocess_mode(tmp_path):
    """Two processes count, a third renders the sum: what gunicorn workers do."""
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    count = "from config import metrics; metrics.SAML_SIGN_INS.inc()"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=ROOT, env=env, check=True)
    render = "import sys; from config import metrics; sys.stdout.buffer.write(metrics.exposition())"
    text = subprocess.run(
        [sys.executable, "-c", render], cwd=ROOT, env=env, check=True, capture_output=True
    ).stdout.decode()
    assert samples(text)[("roster_saml_sign_ins_total", frozenset())] == 2


def test_a_labelled_child_is_made_once_and_counts_into_the_registry():
    labels = {"result": "refused", "reason": "labelled-test", "protocol": "sftp"}
    name = "roster_transfer_decisions_total"
    before = metrics.REGISTRY.get_sample_value(name, labels) or 0

    first = metrics.labelled(metrics.TRANSFER_DECISIONS, *labels.values())
    first.inc()
    kept = metrics.labelled.cache_info().hits
    metrics.labelled(metrics.TRANSFER_DECISIONS, *labels.values()).inc()

    # The second ask is answered from the kept children, without the library's lookup.
    assert metrics.labelled.cache_info().hits == kept + 1
    assert metrics.labelled(metrics.TRANSFER_DECISIONS, *labels.values()) is first
    assert first is metrics.TRANSFER_DECISIONS.labels(**labels)
    assert metrics.REGISTRY.get_sample_value(name, labels) == before + 2
