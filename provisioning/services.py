"""State changes of provisioning tokens; each is one audited transaction."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import InvalidValue
from accounts.keyed_secrets import credential_mark_used
from accounts.models import AuditAction, Organization, User
from accounts.services import audit_record
from provisioning.models import ProvisioningToken, ScimRequest
from provisioning.tokens import PROVISIONING_TOKEN

LABEL_MAX_LENGTH = ProvisioningToken._meta.get_field("label").max_length


def _audit(token: ProvisioningToken, *, actor: Actor, action: str, changes: dict) -> None:
    audit_record(
        organization=token.organization,
        actor=actor,
        action=action,
        target_type="token",
        target_id=token.pk,
        target_label=str(token),
        changes=changes,
    )


@transaction.atomic
def token_create(
    *,
    organization: Organization,
    label: str,
    actor: Actor,
    created_by: User | None = None,
    expires_at: datetime | None = None,
) -> tuple[ProvisioningToken, str]:
    """Create a token; the returned secret is shown once and never stored."""
    label = (label or "").strip()
    if len(label) > LABEL_MAX_LENGTH:
        raise InvalidValue(f"The label is longer than {LABEL_MAX_LENGTH} characters.")
    if created_by is not None and created_by.organization_id != organization.pk:
        raise InvalidValue("A token is created by a user of its own organization.")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidValue("The expiry must be in the future.")
    token = ProvisioningToken(
        organization=organization, label=label, created_by=created_by, expires_at=expires_at
    )
    secret = token.set_secret(PROVISIONING_TOKEN)
    token.save(force_insert=True)
    _audit(
        token,
        actor=actor,
        action=AuditAction.TOKEN_CREATED,
        changes={
            "prefix": token.prefix,
            "label": label,
            "expiresAt": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, secret


@transaction.atomic
def token_revoke(*, token: ProvisioningToken, actor: Actor) -> ProvisioningToken:
    """Revoke a token; it stops working on the next request. Revoking twice is a no-op."""
    token = (
        ProvisioningToken.objects.select_for_update()
        .select_related("organization")
        .get(pk=token.pk)
    )
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    _audit(token, actor=actor, action=AuditAction.TOKEN_REVOKED, changes={"prefix": token.prefix})
    return token


def token_mark_used(*, token: ProvisioningToken, now: datetime | None = None) -> None:
    credential_mark_used(token, now=now)


# Rows deleted per statement, so a purge never holds a long lock on the log.
PURGE_BATCH = 5000


def scim_requests_purge(*, now: datetime | None = None, retention_days: int | None = None) -> int:
    """Delete SCIM request log rows older than the retention; returns how many.

    Log rows are not audited state: the audit events they link to outlive them.
    """
    now = now or timezone.now()
    days = retention_days if retention_days is not None else settings.SCIM_LOG_RETENTION_DAYS
    cutoff = now - timedelta(days=days)
    deleted = 0
    while True:
        batch = list(
            ScimRequest.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not batch:
            return deleted
        with transaction.atomic():
            deleted += ScimRequest.objects.filter(pk__in=batch).delete()[0]
