"""Reads of API keys, events and webhooks."""

from django.db.models import QuerySet

from accounts.events.models import API_KEY, ApiKey, WebhookDelivery, WebhookEndpoint
from accounts.keyed_secrets import row_for_secret
from accounts.models import Organization


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The key whose secret this is, live or not, with its organization; None for
    anything else."""
    return row_for_secret(API_KEY, secret, by_prefix=_api_key_with_organization)


def _api_key_with_organization(prefix: str) -> ApiKey | None:
    return ApiKey.objects.select_related("organization").filter(prefix=prefix).first()


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
