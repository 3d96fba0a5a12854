from django.db import transaction

from accounts.actors import Actor
from accounts.folding import casefold_key
from accounts.models import AuditAction, AuditEvent, Organization, User
from config.request_context import current_request_id

CONSOLE_SIGN_IN_ACTOR = Actor.system("console sign-in")


def audit_entry(
    *,
    organization: Organization,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    changes: dict | None = None,
) -> AuditEvent:
    """One audit event, not yet written: `audit_record` writes it, or the outbox with the
    directory events of the same change (accounts.events.outbox.record_change)."""
    return AuditEvent(
        organization=organization,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:255],
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_label=target_label[:255],
        changes=changes or {},
        request_id=current_request_id(),
    )


def audit_record(**fields) -> AuditEvent:
    """Append one audit event (`audit_entry`'s fields); call it inside the transaction of
    the change it records."""
    event = audit_entry(**fields)
    event.save(force_insert=True)
    return event


# One refused console sign-in writes at most this many events (one per organization
# that has an account with the email); CONSOLE_LOGIN_RATE bounds the attempts themselves.
MAX_FAILED_SIGN_IN_EVENTS = 10


@transaction.atomic
def console_sign_in_failed(
    *, email: str, client_address: str, reason: str = "wrong email or password"
) -> list[AuditEvent]:
    """Record a refused console sign-in in each organization with an account for `email`.

    An email no organization knows is only logged: there is no organization to tell,
    and nothing is written for it.
    """
    email = email.strip()
    if not email:
        return []
    users = (
        User.objects.filter(organization__isnull=False, email_key=casefold_key(email))
        .select_related("organization")
        .order_by("organization__slug")[:MAX_FAILED_SIGN_IN_EVENTS]
    )
    return [_sign_in_failed(user, client_address=client_address, reason=reason) for user in users]


@transaction.atomic
def console_sign_in_refused(*, user: User, client_address: str, reason: str) -> AuditEvent:
    """Record a console sign-in refused after the password matched (e.g. SSO required)."""
    return _sign_in_failed(user, client_address=client_address, reason=reason)


def _sign_in_failed(user: User, *, client_address: str, reason: str) -> AuditEvent:
    return audit_record(
        organization=user.organization,
        actor=CONSOLE_SIGN_IN_ACTOR,
        action=AuditAction.CONSOLE_LOGIN_FAILED,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes={"reason": reason, "client_address": client_address},
    )
