"""SCIM error responses (RFC 7644 §3.12) and the translation of domain errors into them."""

import json

from django.http import HttpResponse
from django_scim import exceptions as stock
from django_scim.constants import SCIM_CONTENT_TYPE, SchemaURI

from accounts import errors as domain

# RFC 7644 §3.12 scimType values used here.
INVALID_FILTER = "invalidFilter"
INVALID_SYNTAX = "invalidSyntax"
INVALID_VALUE = "invalidValue"
INVALID_PATH = "invalidPath"
NO_TARGET = "noTarget"
MUTABILITY = "mutability"
UNIQUENESS = "uniqueness"
TOO_MANY = "tooMany"


class ScimError(stock.SCIMException):
    """A SCIM error; `status` goes out as a string, as RFC 7644 §3.12 shows it."""

    status = 400
    headers: dict = {}

    def __init__(self, detail="", *, status=None, scim_type=None, headers=None):
        super().__init__(detail, status=status, scim_type=scim_type)
        self.headers = headers or {}


class BadRequest(ScimError):
    status = 400


class Unauthorized(ScimError):
    status = 401


class NotFound(ScimError):
    status = 404


class Conflict(ScimError):
    status = 409


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict:
    body = {"schemas": [SchemaURI.ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


def error_response(
    status: int, detail: str, scim_type: str | None = None, headers: dict | None = None
) -> HttpResponse:
    response = HttpResponse(
        json.dumps(error_body(status, detail, scim_type)),
        status=status,
        content_type=SCIM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def response_for(error: Exception) -> HttpResponse | None:
    """The SCIM response for a known error, or None for an unexpected one."""
    if isinstance(error, ScimError):
        return error_response(error.status, error.detail, error.scim_type, error.headers)
    if isinstance(error, stock.NotFoundError):
        return error_response(404, "Resource not found.")
    if isinstance(error, stock.SCIMException):
        return error_response(int(error.status), error.detail, error.scim_type)
    if isinstance(error, domain.UsernameTaken | domain.GroupNameTaken):
        return error_response(409, str(error), UNIQUENESS)
    if isinstance(error, domain.CrossOrganizationMember | domain.UnknownMember):
        return error_response(400, str(error), INVALID_VALUE)
    if isinstance(error, domain.InvalidValue):
        return error_response(400, str(error), INVALID_VALUE)
    if isinstance(error, domain.PrivilegeRefused):
        # RFC 7644 §3.12: 403, the client is not authorized to perform the operation.
        return error_response(403, str(error))
    return None
