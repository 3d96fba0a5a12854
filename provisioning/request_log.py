"""The SCIM request log: one row per request, written by the gate, never failing it.

What an admin needs to answer "why did Okta's push fail": the status, the SCIM error's
`detail` and `scimType` (RFC 7644 §3.12), and for a failed write the body that was
refused, with every secret removed first. A write that succeeded but ignored attributes
nobody declared (RFC 7644 §3.3) names them in `detail`, so an admin sees why a value
did not arrive.
"""

import json
import logging
import re

from django.utils import timezone

from provisioning.errors import BadRequest
from provisioning.json_body import parse_json_body
from provisioning.models import ScimRequest

logger = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH"}
MAX_BODY_CHARS = 8000
REDACTED = "[redacted]"
# Attribute names whose values are secrets, in any letter case or position ("password",
# Entra's "userPassword", a vendor's "apiToken" or "clientSecret").
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|credential|api.?key|authorization", re.I)
# A long unbroken run of URL-safe or base64 characters: what tokens and keys look like.
_TOKEN_LIKE = re.compile(r"^(Bearer\s+)?[A-Za-z0-9_\-.~+/=]{32,}$")


def redact(value, *, name: str = ""):
    """A copy of a parsed JSON body with secret-named values and token-like strings removed."""
    if name and _SECRET_NAME.search(name):
        return REDACTED
    if isinstance(value, dict):
        # PATCH operations name the attribute in "path", the value sits beside it.
        hint = value.get("path") if isinstance(value.get("path"), str) else ""
        return {
            key: redact(item, name=hint if key == "value" and hint else key)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, name=name) for item in value]
    if isinstance(value, str) and _TOKEN_LIKE.match(value):
        return REDACTED
    return value


def _kept_body(request, status: int) -> str:
    """The refused body of a failed write, redacted and capped; "" for anything else."""
    if request.method not in WRITE_METHODS or status < 400 or status == 413:
        return ""
    try:
        # The same bounded reader as the views: deep nesting, non-finite numbers and
        # lone surrogates (which no database column can hold) are "not JSON" here too.
        parsed = parse_json_body(request.body or b"")
    except BadRequest:
        return "(not JSON)"
    except Exception:  # the body was never read (RawPostDataException) or is too large
        return ""
    text = json.dumps(redact(parsed), ensure_ascii=False, sort_keys=True, indent=1)
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "…"


def _scim_error(response) -> tuple[str, str]:
    """(scimType, detail) of a SCIM error response."""
    if response.status_code < 400:
        return "", ""
    try:
        document = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, AttributeError):
        return "", ""
    if not isinstance(document, dict):
        return "", ""
    scim_type = str(document.get("scimType") or "")[:32]
    return scim_type, str(document.get("detail") or "")[:MAX_DETAIL_CHARS]


IGNORED_DETAIL = "Ignored, not declared: "
MAX_DETAIL_CHARS = 500


def _ignored_detail(request, response) -> str:
    """The attributes a successful write ignored (provisioning.user_attributes)."""
    ignored = getattr(request, "scim_ignored_attributes", None)
    if not ignored or response.status_code >= 400:
        return ""
    text = IGNORED_DETAIL + ", ".join(ignored)
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def resource_of(path: str) -> str:
    """ "/scim/v2/Users/7f…" -> "Users"; the first segment after the SCIM base."""
    tail = path.split("/scim/v2/", 1)[-1]
    return tail.split("/", 1)[0][:32]


def _row(*, request, token, response, duration_ms: float, request_id: str) -> ScimRequest:
    scim_type, detail = _scim_error(response)
    return ScimRequest(
        organization_id=token.organization_id,
        token=token,
        at=timezone.now(),
        method=request.method[:8],
        path=request.path[:255],
        resource=resource_of(request.path),
        status=response.status_code,
        duration_ms=duration_ms,
        request_id=request_id[:64],
        scim_type=scim_type,
        detail=detail or _ignored_detail(request, response),
        body=_kept_body(request, response.status_code),
    )


def scim_request_record(*, request, token, response, duration_ms: float, request_id: str) -> None:
    """Append the request to its organization's log: one INSERT, and never an exception.

    Requests without a known token have no organization to show them to; they are in
    the server log only. The gate calls this after the request's own transaction has
    ended (ATOMIC_REQUESTS is off), so a failed INSERT stands alone: it is logged and
    the identity provider still gets its answer.
    """
    if token is None:
        return
    try:
        row = _row(
            request=request,
            token=token,
            response=response,
            duration_ms=duration_ms,
            request_id=request_id,
        )
        row.save(force_insert=True)
    except Exception:  # whatever went wrong, the identity provider still gets its answer
        logger.warning(
            "scim request log write failed",
            exc_info=True,
            extra={"event": "scim.request_log_failed", "token_prefix": token.prefix},
        )
