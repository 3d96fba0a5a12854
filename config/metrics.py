"""Prometheus metrics: what operators watch, defined in one place.

Every gunicorn worker counts into its own files under PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode) and a scrape of any worker adds them all up;
without that variable (runserver, tests) the counters live in the process. Labels carry
only bounded, non-secret values: view names, SCIM resource names, methods, statuses,
refusal reasons and limit names; never a token, a user or an organization.

Collectors that read the database when scraped (the job queue's depth, say) register
with `register_scrape_collector`; they run in the worker that answers the scrape.
"""

import functools
import hmac
import os

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# Metrics defined here go to their own registry: the library's default one also holds
# per-process collectors that mean nothing summed over workers.
REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "roster_http_requests",
    "Requests answered, by Django view name, method and status.",
    ["view", "method", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_SECONDS = Histogram(
    "roster_http_request_duration_seconds",
    "Time from the request reaching the app to its response, by Django view name.",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
SCIM_REQUESTS = Counter(
    "roster_scim_requests",
    "SCIM requests answered, by resource, method and status.",
    ["resource", "method", "status"],
    registry=REGISTRY,
)
SAML_SIGN_INS = Counter(
    "roster_saml_sign_ins",
    "SAML sign-ins accepted at an ACS.",
    registry=REGISTRY,
)
SAML_REFUSALS = Counter(
    "roster_saml_refusals",
    "SAML sign-ins refused at an ACS, by reason (the code in the audit trail).",
    ["reason"],
    registry=REGISTRY,
)
OIDC_SIGN_INS = Counter(
    "roster_oidc_sign_ins",
    "OpenID Connect sign-ins accepted at a callback.",
    registry=REGISTRY,
)
OIDC_REFUSALS = Counter(
    "roster_oidc_refusals",
    "OpenID Connect sign-ins refused at a callback, by reason (the code in the audit trail).",
    ["reason"],
    registry=REGISTRY,
)
OIDC_PROVIDER_FAILURES = Counter(
    "roster_oidc_provider_failures",
    "Requests to OpenID Providers that got no usable answer (timeout, refused, 5xx).",
    ["reason"],
    registry=REGISTRY,
)
TRANSFER_DECISIONS = Counter(
    "roster_transfer_decisions",
    "File-server login decisions, by result, refusal reason and protocol.",
    ["result", "reason", "protocol"],
    registry=REGISTRY,
)
RATE_LIMIT_REFUSALS = Counter(
    "roster_rate_limit_refusals",
    "Requests refused because a rate limit or throttle was passed, by limit.",
    ["limit"],
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    "roster_store_unavailable_errors",
    "Requests that found the database or Redis out of reach (answered 503), by store.",
    ["store"],
    registry=REGISTRY,
)

# Methods are a label; anything outside this set is counted as OTHER so that a client
# cannot grow the label set.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED_VIEW = "unresolved"

# The SCIM resource of each provisioning URL name (provisioning/urls.py).
SCIM_RESOURCES = {
    "root": "/",
    "search": "/.search",
    "users": "Users",
    "users-search": "Users/.search",
    "groups": "Groups",
    "groups-search": "Groups/.search",
    "me": "Me",
    "service-provider-config": "ServiceProviderConfig",
    "resource-types": "ResourceTypes",
    "schemas": "Schemas",
    "bulk": "Bulk",
}
SCIM_UNKNOWN_RESOURCE = "unknown"

_scrape_collectors = CollectorRegistry(auto_describe=False)


def register_scrape_collector(collector) -> None:
    """Add a collector whose `collect()` reads current state (the database) per scrape."""
    _scrape_collectors.register(collector)


JOB_TABLE = "procrastinate_jobs"
# Per queue: jobs ready to run, and how long the longest-waiting one has waited, counted
# from when it last became ready (deferred, retried, or its scheduled time if later).
JOB_QUEUE_SQL = """
SELECT job.queue_name, count(*),
       coalesce(extract(epoch FROM now() - min(greatest(ready.at, job.scheduled_at))), 0)
FROM procrastinate_jobs job
LEFT JOIN LATERAL (
    SELECT max(event.at) AS at FROM procrastinate_events event
    WHERE event.job_id = job.id AND event.type IN ('deferred', 'deferred_for_retry', 'retried')
) ready ON true
WHERE job.status = 'todo' AND (job.scheduled_at IS NULL OR job.scheduled_at <= now())
GROUP BY job.queue_name
"""


class JobQueueCollector:
    """The job queue's depth and oldest waiting job, read from procrastinate's tables.

    Nothing is reported until those tables exist (procrastinate runs on PostgreSQL), nor
    while the database is out of reach: the rest of the scrape still answers then.
    """

    def collect(self):
        try:
            rows = self.rows()
        except DatabaseError:
            STORE_ERRORS.labels(store="database").inc()
            return
        if rows is None:
            return
        depth = GaugeMetricFamily(
            "roster_job_queue_depth",
            "Jobs ready to run and not yet started, by queue.",
            labels=["queue"],
        )
        oldest = GaugeMetricFamily(
            "roster_job_queue_oldest_age_seconds",
            "How long the longest-waiting ready job has waited, by queue.",
            labels=["queue"],
        )
        for queue, count, seconds in rows:
            depth.add_metric([queue], count)
            oldest.add_metric([queue], float(seconds))
        yield depth
        yield oldest

    def rows(self) -> list[tuple] | None:
        if connection.vendor != "postgresql":
            return None
        if JOB_TABLE not in connection.introspection.table_names():
            return None
        with connection.cursor() as cursor:
            cursor.execute(JOB_QUEUE_SQL)
            return cursor.fetchall()


register_scrape_collector(JobQueueCollector())


@functools.lru_cache(maxsize=4096)
def labelled(metric, *values: str):
    """`metric.labels(*values)`, kept: the library validates the names and takes a lock
    on every call, and the hot paths count into the same few children at every request.
    The labels are bounded (module docstring), and so is this."""
    return metric.labels(*values)


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "OTHER"


def record_request(request, response, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    view = match.view_name if match else UNRESOLVED_VIEW
    method = method_label(request.method)
    status = str(response.status_code)
    labelled(HTTP_REQUESTS, view, method, status).inc()
    labelled(HTTP_REQUEST_SECONDS, view).observe(seconds)
    if match and match.namespace == "scim":
        resource = SCIM_RESOURCES.get(match.url_name, SCIM_UNKNOWN_RESOURCE)
        SCIM_REQUESTS.labels(resource=resource, method=method, status=status).inc()
    elif not match and request.path.startswith("/scim/"):
        SCIM_REQUESTS.labels(resource=SCIM_UNKNOWN_RESOURCE, method=method, status=status).inc()


def exposition() -> bytes:
    """The text a scrape gets: every worker's counters, then the scrape-time collectors."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_scrape_collectors)


def bearer_matches(request, expected: str) -> bool:
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not supplied:
        return False
    return hmac.compare_digest(supplied.strip().encode(), expected.encode())


def metrics_response(request) -> HttpResponse:
    """GET /metrics: 404 unless METRICS_TOKEN is set, then only with it as bearer token."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponse("Not found.\n", status=404, content_type="text/plain")
    if not bearer_matches(request, token):
        response = HttpResponse("Unauthorized.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse("Method not allowed.\n", status=405, content_type="text/plain")
        response["Allow"] = "GET, HEAD"
        return response
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response
