"""Everything every SCIM request passes through before and after its view.

Token authentication (the token decides the organization), failure and per-token
throttling, the body size limit and content type, one transaction per write, one
log line per request naming the token by its prefix only, and one row in the
organization's SCIM request log (provisioning.request_log).
"""

import logging
import time

from django.conf import settings
from django.db import transaction

from accounts.keyed_secrets import SecretStatus
from accounts.transactions import request_transaction
from config import ratelimit
from config.request_context import bind, current_request_id
from provisioning import selectors, tokens
from provisioning.errors import error_response
from provisioning.request_log import scim_request_record
from provisioning.services import token_mark_used

logger = logging.getLogger("provisioning.requests")

WWW_AUTHENTICATE = 'Bearer realm="scim"'
SCIM_401_MISSING_TOKEN = "Authentication required: send the provisioning token as a Bearer token."
SCIM_401_BAD_TOKEN = "The provisioning token is not valid."
SCIM_401_REVOKED_TOKEN = "The provisioning token has been revoked."
SCIM_401_EXPIRED_TOKEN = "The provisioning token has expired."
SCIM_429_FAILURES = "Too many failed authentication attempts; retry later."
SCIM_429_TOKEN_RATE = "Too many requests for this provisioning token; retry later."
SCIM_413_TOO_LARGE = "The request body is larger than {limit} bytes."
SCIM_415_CONTENT_TYPE = "Send request bodies as application/scim+json or application/json."
SCIM_500_ROLLED_BACK = "The request could not be completed; nothing was changed."
SCIM_401_BY_STATUS = {
    SecretStatus.REVOKED: SCIM_401_REVOKED_TOKEN,
    SecretStatus.EXPIRED: SCIM_401_EXPIRED_TOKEN,
}

ACCEPTED_CONTENT_TYPES = {"application/scim+json", "application/json"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
WRITE_METHODS = BODY_METHODS | {"DELETE"}


def failure_rate() -> ratelimit.Rate:
    return ratelimit.Rate.parse(settings.SCIM_AUTH_FAILURE_RATE)


def token_rate() -> ratelimit.Rate:
    return ratelimit.Rate.parse(settings.SCIM_TOKEN_RATE)


def max_body_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _too_many(detail: str, retry_after: int):
    return error_response(429, detail, headers={"Retry-After": str(max(retry_after, 1))})


def _refuse(request, detail: str):
    """401, or 429 once this client address has failed too often."""
    verdict = ratelimit.hit("scim-auth-failure", ratelimit.client_address(request), failure_rate())
    if not verdict.allowed:
        return _too_many(SCIM_429_FAILURES, verdict.retry_after)
    return error_response(401, detail, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def _authenticate(request):
    """(token, None) for a live token, else (token or None, refusal response)."""
    secret = tokens.secret_from_header(request.headers.get("Authorization", ""))
    if secret is None:
        return None, _refuse(request, SCIM_401_MISSING_TOKEN)
    token = selectors.token_for_secret(secret)
    if token is None:
        return None, _refuse(request, SCIM_401_BAD_TOKEN)
    refused = SCIM_401_BY_STATUS.get(token.status)
    if refused is not None:
        return token, _refuse(request, refused)
    verdict = ratelimit.hit("scim-token", str(token.pk), token_rate())
    if not verdict.allowed:
        return token, _too_many(SCIM_429_TOKEN_RATE, verdict.retry_after)
    return token, None


def _body_refusal(request):
    if request.method not in BODY_METHODS:
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = max_body_bytes()
    if limit is not None and length > limit:
        return error_response(413, SCIM_413_TOO_LARGE.format(limit=limit))
    media_type = request.content_type.lower() if request.content_type else ""
    if length and media_type not in ACCEPTED_CONTENT_TYPES:
        return error_response(415, SCIM_415_CONTENT_TYPE)
    return None


class ScimRequestGate:
    """Wraps a SCIM view's dispatch (django-scim2's AUTH_CHECK_MIDDLEWARE hook)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request, *args, **kwargs):
        started = time.monotonic()
        token, response = _authenticate(request)
        if response is None:
            response = self._serve(request, token, *args, **kwargs)
        self._record(request, token, response, started)
        return response

    def _serve(self, request, token, *args, **kwargs):
        token_mark_used(token=token)
        request.scim_token = token
        request.scim_organization = token.organization
        bind(organization=token.organization.slug, actor=f"token {token.prefix}")
        refusal = _body_refusal(request)
        if refusal is not None:
            return refusal
        if request.method not in WRITE_METHODS:
            # A read is its own statements: under READ COMMITTED a transaction would
            # not make them one snapshot, only add BEGIN and COMMIT.
            return self.get_response(request, *args, **kwargs)
        # One transaction per write; a refused or failed request changes nothing, even
        # when part of it (an earlier PATCH operation) already ran. The services join
        # it without savepoints of their own (accounts.transactions).
        with request_transaction():
            response = self.get_response(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
            elif transaction.get_rollback():
                # A failure was caught and answered as a success: say so, never
                # acknowledge a change that is being rolled back.
                logger.error("scim write marked for rollback answered %s", response.status_code)
                response = error_response(500, SCIM_500_ROLLED_BACK)
        return response

    @staticmethod
    def _record(request, token, response, started):
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        prefix = token.prefix if token else "-"
        logger.info(
            "scim %s %s %s token=%s duration_ms=%s",
            request.method,
            request.path,
            response.status_code,
            prefix,
            duration_ms,
            extra={
                "token_prefix": prefix,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        scim_request_record(
            request=request,
            token=token,
            response=response,
            duration_ms=duration_ms,
            request_id=current_request_id(),
        )
