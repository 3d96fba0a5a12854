"""State changes of API keys, webhook endpoints and deliveries; each one audited."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import InvalidValue
from accounts.events.fanout import enqueue_delivery
from accounts.events.models import (
    API_KEY,
    ApiKey,
    DirectoryEvent,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)
from accounts.events.webhooks import signing
from accounts.events.webhooks.addresses import RefusedTarget, check_target
from accounts.keyed_secrets import credential_mark_used
from accounts.models import AuditAction, Organization, User
from accounts.services.audit import audit_record

LABEL_MAX_LENGTH = ApiKey._meta.get_field("label").max_length


def _audit_key(key: ApiKey, *, actor: Actor, action: str, changes: dict) -> None:
    audit_record(
        organization=key.organization,
        actor=actor,
        action=action,
        target_type="api_key",
        target_id=key.pk,
        target_label=str(key),
        changes=changes,
    )


@transaction.atomic
def api_key_create(
    *, organization: Organization, label: str, actor: Actor, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key; the returned secret is shown once and never stored."""
    label = (label or "").strip()
    if not label:
        raise InvalidValue("An API key needs a label naming the service that uses it.")
    if len(label) > LABEL_MAX_LENGTH:
        raise InvalidValue(f"The label is longer than {LABEL_MAX_LENGTH} characters.")
    if created_by is not None and created_by.organization_id != organization.pk:
        raise InvalidValue("An API key is created by a user of its own organization.")
    key = ApiKey(organization=organization, label=label, created_by=created_by)
    secret = key.set_secret(API_KEY)
    key.save(force_insert=True)
    _audit_key(
        key,
        actor=actor,
        action=AuditAction.API_KEY_CREATED,
        changes={"prefix": key.prefix, "label": label},
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke a key; it stops working on the next request. Revoking twice is a no-op."""
    key = ApiKey.objects.select_for_update().select_related("organization").get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    _audit_key(key, actor=actor, action=AuditAction.API_KEY_REVOKED, changes={"prefix": key.prefix})
    return key


def api_key_mark_used(*, key: ApiKey, now: datetime | None = None) -> None:
    credential_mark_used(key, now=now)


def _audit_endpoint(
    endpoint: WebhookEndpoint, *, actor: Actor, action: str, changes: dict | None = None
) -> None:
    audit_record(
        organization=endpoint.organization,
        actor=actor,
        action=action,
        target_type="webhook",
        target_id=endpoint.pk,
        target_label=endpoint.url,
        changes=changes,
    )


def _clean_event_types(event_types) -> list[str]:
    event_types = sorted({name.strip() for name in event_types or () if name.strip()})
    unknown = [name for name in event_types if name not in EventType.values]
    if unknown:
        raise InvalidValue(f"Unknown event types: {', '.join(unknown)}.")
    return event_types


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        raise InvalidValue("The URL is too long.")
    try:
        check_target(url)
    except RefusedTarget as refusal:
        raise InvalidValue(str(refusal)) from None
    return url


def _locked_endpoint(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return (
        WebhookEndpoint.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=endpoint.pk)
    )


def _add_secret(endpoint: WebhookEndpoint) -> str:
    secret = signing.new_secret()
    WebhookSecret.objects.create(endpoint=endpoint, encrypted=signing.encrypt_secret(secret))
    return secret


@transaction.atomic
def webhook_endpoint_create(
    *, organization: Organization, url: str, actor: Actor, event_types=()
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; the returned signing secret is shown once."""
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=_clean_url(url), event_types=_clean_event_types(event_types)
    )
    secret = _add_secret(endpoint)
    _audit_endpoint(
        endpoint,
        actor=actor,
        action=AuditAction.WEBHOOK_CREATED,
        changes={"url": endpoint.url, "eventTypes": endpoint.event_types},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, actor: Actor, event_types=None, enabled: bool | None = None
) -> WebhookEndpoint:
    """Change the event filter or switch the endpoint on or off; a no-op if nothing changes.

    Switching it back on clears the reason it was disabled and its run of failures.
    """
    endpoint = _locked_endpoint(endpoint)
    changes = {}
    if event_types is not None:
        event_types = _clean_event_types(event_types)
        if event_types != endpoint.event_types:
            changes["eventTypes"] = {"from": endpoint.event_types, "to": event_types}
            endpoint.event_types = event_types
    if enabled is not None and enabled != endpoint.enabled:
        changes["enabled"] = {"from": endpoint.enabled, "to": enabled}
        endpoint.enabled = enabled
        if enabled:
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
        else:
            endpoint.disabled_reason = "Disabled by an administrator."
    if not changes:
        return endpoint
    endpoint.save()
    _audit_endpoint(endpoint, actor=actor, action=AuditAction.WEBHOOK_UPDATED, changes=changes)
    return endpoint


@transaction.atomic
def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, actor: Actor) -> None:
    """Stop deliveries to the endpoint and record why (a 410, days of failures)."""
    endpoint = _locked_endpoint(endpoint)
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:255]
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    _audit_endpoint(
        endpoint, actor=actor, action=AuditAction.WEBHOOK_DISABLED, changes={"reason": reason}
    )


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, actor: Actor) -> str:
    """A new signing secret; the current ones keep signing for WEBHOOK_SECRET_OVERLAP_HOURS."""
    endpoint = _locked_endpoint(endpoint)
    now = timezone.now()
    overlap_ends = now + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    endpoint.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=overlap_ends)).update(
        expires_at=overlap_ends
    )
    secret = _add_secret(endpoint)
    _audit_endpoint(
        endpoint,
        actor=actor,
        action=AuditAction.WEBHOOK_SECRET_ROTATED,
        changes={"previousSecretsExpireAt": overlap_ends.isoformat()},
    )
    return secret


@transaction.atomic
def webhook_send_test(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """Queue a `webhook.test` message to the endpoint (sent only while it is enabled)."""
    endpoint = _locked_endpoint(endpoint)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint)
    enqueue_delivery(delivery)
    _audit_endpoint(endpoint, actor=actor, action=AuditAction.WEBHOOK_TEST_SENT)
    return delivery


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery with the same webhook-id."""
    endpoint = _locked_endpoint(delivery.endpoint)
    again = WebhookDelivery.objects.create(endpoint=endpoint, event_id=delivery.event_id)
    enqueue_delivery(again)
    _audit_endpoint(
        endpoint,
        actor=actor,
        action=AuditAction.WEBHOOK_RESENT,
        changes={"delivery": delivery.pk, "event": delivery.event_id},
    )
    return again


def events_purge(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete events (and their deliveries) older than EVENT_RETENTION_DAYS, in batches."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    purged = 0
    while True:
        with transaction.atomic():
            ids = list(
                DirectoryEvent.objects.filter(occurred_at__lt=cutoff)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                return purged
            WebhookDelivery.objects.filter(event_id__in=ids).delete()
            DirectoryEvent.objects.filter(id__in=ids).delete()
        purged += len(ids)
