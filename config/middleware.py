import logging
import re
import time
import uuid

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.db import connection
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.http.request import split_domain_port
from django.utils.functional import SimpleLazyObject, empty
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config import metrics
from config.request_context import actor_var, organization_var, request_id_var

logger = logging.getLogger(__name__)

# A request id supplied by the load balancer is kept only if it looks like one.
_INCOMING_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class HealthCheckMiddleware:
    """Answers the probes before ALLOWED_HOSTS is checked: load balancers probe by IP.

    /healthz is liveness and touches nothing; /readyz checks the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return HttpResponse("ok\n", content_type="text/plain")
        if request.path == "/readyz":
            return self.readiness()
        return self.get_response(request)

    def readiness(self):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            metrics.STORE_ERRORS.labels(store="database").inc()
            return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
        return JsonResponse({"status": "ok", "database": "up"})


class MetricsMiddleware:
    """Serves /metrics and counts every other request (config.metrics).

    It runs before ALLOWED_HOSTS is checked, as the probes do: Prometheus scrapes each
    instance by its address. The probes answered above it are not counted.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/metrics":
            return metrics.metrics_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.record_request(request, response, time.perf_counter() - started)
        return response


class AdminHostsMiddleware:
    """With ADMIN_HOSTS set, /admin/ answers 404 on every other host.

    The operators' admin then lives on an internal name (behind a VPN or an IP
    allow-list at the balancer) and is not even visible on the public origin.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        admin_hosts = settings.ADMIN_HOSTS
        if admin_hosts and request.path.startswith("/admin/"):
            host, _port = split_domain_port(request.get_host())
            if host not in admin_hosts:
                raise Http404("No such page.")
        return self.get_response(request)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        tokens = (
            request_id_var.set(request_id),
            organization_var.set(""),
            actor_var.set(""),
        )
        try:
            response = self.get_response(request)
        finally:
            for var, token in zip(
                (request_id_var, organization_var, actor_var), tokens, strict=True
            ):
                var.reset(token)
        response["X-Request-ID"] = request_id
        return response


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


# A shared store the request needs is out of reach: the database, or the Redis cache
# that holds the rate-limit counters. A retry later succeeds; nothing was written.
REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, *REDIS_ERRORS)
# Seconds a client should wait before retrying while the database is unreachable:
# long enough for a restart or failover, short enough for an IdP's retry loop.
DATABASE_UNAVAILABLE_RETRY_AFTER = 5
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_CONTENT_TYPE = "application/scim+json"


def database_unavailable_response(request) -> HttpResponse:
    """503 with Retry-After (RFC 9110 §15.6.4), in the caller's protocol."""
    detail = "The service is temporarily unavailable; retry later."
    if request.path.startswith("/scim/"):
        # RFC 7644 §3.12: errors are SCIM Error resources; status is a string.
        body = {"schemas": [SCIM_ERROR_SCHEMA], "status": "503", "detail": detail}
        response = JsonResponse(body, status=503, content_type=SCIM_CONTENT_TYPE)
    elif "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"status": 503, "detail": detail}, status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Service unavailable</title><p>{detail}</p>\n",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(DATABASE_UNAVAILABLE_RETRY_AFTER)
    return response


class DatabaseUnavailableMiddleware:
    """Turns a lost database (or Redis) connection into 503 + Retry-After instead of a 500.

    Only connection-level errors qualify (OperationalError, InterfaceError, Redis
    connection and timeout errors): a constraint violation or a bad query is a bug or
    a client error, not an outage.
    Nothing is half-written: the request's transaction was rolled back with the
    connection, and Django opens a fresh connection for the next request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, UNAVAILABLE_ERRORS):
            store = "redis" if isinstance(exception, REDIS_ERRORS) else "database"
            metrics.STORE_ERRORS.labels(store=store).inc()
            logger.warning("shared store unavailable: %s", type(exception).__name__)
            return database_unavailable_response(request)
        return None


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, with the request's message storage made on first use.

    Most requests (SCIM, the APIs, file-server decisions) never add or read a message,
    and the storage, a cookie and a session storage behind a fallback, costs more to
    make than some of those requests cost to answer. A storage never made has nothing to
    store: Django's process_response would write nothing for it either.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
