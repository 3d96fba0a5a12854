"""Reads of API keys, events and webhooks."""

from django.db.models import QuerySet

from accounts.events import keys
from accounts.events.models import ApiKey, WebhookDelivery, WebhookEndpoint
from accounts.models import Organization


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The key whose secret this is, live or not; None for anything else.

    One indexed lookup by prefix, then a constant-time digest comparison.
    """
    prefix = keys.prefix_of(secret)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
    if key is None or not keys.matches(secret, key.digest, key_id=key.key_id):
        return None
    return key


def api_keys_of(organization: Organization) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(organization=organization)
        .select_related("created_by")
        .order_by("-created_at", "-id")
    )


def endpoints_of(organization: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization).order_by("created_at", "id")


def deliveries_of(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, with their events."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-id")
