"""Bounded work per SCIM request: one PATCH or Group body never runs unbounded."""

from django.conf import settings

from provisioning.errors import TOO_MANY, BadRequest


def check_not_too_many(what: str, count: int) -> None:
    """RFC 7644 §3.12 tooMany: more than SCIM_MAX_OPERATIONS items in one request."""
    limit = settings.SCIM_MAX_OPERATIONS
    if count > limit:
        raise BadRequest(
            f"At most {limit} {what}; this request has {count}. Split it into smaller requests.",
            scim_type=TOO_MANY,
        )
