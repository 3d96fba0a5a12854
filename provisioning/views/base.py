"""The base of every SCIM view: the request gate, SCIM error bodies, JSON in and out."""

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from django_scim import views as stock
from django_scim.constants import SCIM_CONTENT_TYPE
from django_scim.settings import scim_settings

from provisioning import schemas
from provisioning.errors import (
    INVALID_SYNTAX,
    BadRequest,
    ScimError,
    error_response,
    response_for,
)
from provisioning.json_body import parse_json_body

logger = logging.getLogger(__name__)

SCIM_500 = "The request could not be completed."


def scim_response(document: dict, *, status: int = 200, headers: dict | None = None):
    response = HttpResponse(json.dumps(document), status=status, content_type=SCIM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def list_response(resources: list, *, total: int, start_index: int) -> HttpResponse:
    return scim_response(
        {
            "schemas": [schemas.LIST_RESPONSE],
            "totalResults": total,
            "itemsPerPage": len(resources),
            "startIndex": start_index,
            "Resources": resources,
        }
    )


def etag_in(header: str | None, etag: str) -> bool:
    """Whether an If-Match/If-None-Match header names this ETag (weakly compared) or *."""
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag.removeprefix("W/") in candidates


def check_if_match(request, etag: str) -> None:
    """RFC 7644 §3.14 / RFC 7232 §3.1: a stale If-Match refuses the change with 412."""
    header = request.headers.get("If-Match")
    if header and not etag_in(header, etag):
        raise ScimError("The resource has changed since the given ETag.", status=412)


class ScimView(stock.SCIMView):
    """Base of every SCIM view: the request gate, then SCIM error bodies for every failure."""

    @method_decorator(csrf_exempt)
    # provisioning.gate.ScimRequestGate, configured in SCIM_SERVICE_PROVIDER.
    @method_decorator(scim_settings.AUTH_CHECK_MIDDLEWARE)
    def dispatch(self, request, *args, **kwargs):
        try:
            return View.dispatch(self, request, *args, **kwargs)
        except (OperationalError, InterfaceError):
            # A lost database connection is an outage, not a bug: the middleware
            # answers 503 with Retry-After, and the gate's transaction rolls back.
            raise
        except Exception as error:
            response = response_for(error)
            if response is None:
                logger.exception("SCIM request failed")
                response = error_response(500, SCIM_500)
            return response

    def http_method_not_allowed(self, request, *args, **kwargs):
        allowed = ", ".join(m.upper() for m in self._allowed_methods())
        return error_response(
            405, f"{request.method} is not supported here.", headers={"Allow": allowed}
        )

    def load_body(self, body=None) -> dict:
        try:
            raw = self.request.body if body is None else body
        except RequestDataTooBig:
            raise ScimError("The request body is too large.", status=413) from None
        document = parse_json_body(raw)
        if not isinstance(document, dict):
            raise BadRequest("The body must be a JSON object.", scim_type=INVALID_SYNTAX)
        return document
