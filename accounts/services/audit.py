from accounts.actors import Actor
from accounts.models import AuditEvent, Organization
from config.request_context import current_request_id


def audit_record(
    *,
    organization: Organization,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: str = "",
    target_label: str = "",
    changes: dict | None = None,
) -> AuditEvent:
    """Append one audit event; call it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
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
