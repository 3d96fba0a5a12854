import re
import uuid

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpResponse, JsonResponse

from config.request_context import actor_var, organization_var, request_id_var

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
            return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
        return JsonResponse({"status": "ok", "database": "up"})


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
