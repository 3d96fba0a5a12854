"""State changes of API keys, webhook endpoints and deliveries; each one audited."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import InvalidValue
from accounts.events import keys
from accounts.models import ApiKey, AuditAction, Organization, User
from accounts.services.audit import audit_record

LABEL_MAX_LENGTH = ApiKey._meta.get_field("label").max_length
# last_used_at is written at most once per this interval per key, not per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    prefix, secret = keys.new_secret()
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix, secret = keys.new_secret()
    key = ApiKey.objects.create(
        organization=organization,
        label=label,
        prefix=prefix,
        digest=keys.digest_of(secret),
        created_by=created_by,
    )
    _audit_key(
        key,
        actor=actor,
        action=AuditAction.API_KEY_CREATED,
        changes={"prefix": prefix, "label": label},
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
    """Record use, at most once a minute: a conditional UPDATE, no lock, no audit event."""
    now = now or timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale_before = now - LAST_USED_RESOLUTION
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before), pk=key.pk
    ).update(last_used_at=now)
    key.last_used_at = now
