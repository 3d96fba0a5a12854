"""The transactional outbox: directory events written inside the change's transaction.

Services build a change's events here and write them with its audit event
(`record_change`), so a rolled-back change leaves no event and a no-op (which returns
before the audit write) leaves none either. Webhook deliveries for the new events are
queued in the same transaction (accounts.events.fanout).
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from accounts import raw_rows as rows
from accounts.actors import Actor
from accounts.events.fanout import queue_deliveries
from accounts.events.models import DirectoryEvent, EventType
from accounts.events.snapshots import group_snapshot, user_snapshot
from accounts.models import AuditEvent, Group, Organization, User
from config.request_context import current_request_id


def _event(*, organization_id, type: str, actor: Actor, **fields) -> DirectoryEvent:
    return DirectoryEvent(
        organization_id=organization_id,
        type=type,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:255],
        request_id=current_request_id(),
        **fields,
    )


def _organization_in_hand(resource) -> Organization | None:
    """The resource's organization if it is already loaded, else None (no query for it)."""
    field = type(resource)._meta.get_field("organization")
    return resource.organization if field.is_cached(resource) else None


def record_change(*, audit: AuditEvent, events: list[DirectoryEvent]) -> list[DirectoryEvent]:
    """Write a change's audit event and its directory events; returns the events written.

    On PostgreSQL one statement writes both; the events keep the outbox's rules:
    written only inside the change's transaction, not at all when
    DIRECTORY_EVENTS_ENABLED is off, their webhook deliveries queued with them.
    """
    if not getattr(settings, "DIRECTORY_EVENTS_ENABLED", True):
        events = []
    if not events:
        audit.save(force_insert=True)
        return []
    assert transaction.get_connection().in_atomic_block, "write events inside the change"
    if connection.vendor == "postgresql":
        _insert_with_audit(audit, events)
    else:
        audit.save(force_insert=True)
        DirectoryEvent.objects.bulk_create(events)
    queue_deliveries(events, organization=_organization_in_hand(audit))
    return events


def _insert_with_audit(audit: AuditEvent, events: list[DirectoryEvent]) -> None:
    """`WITH audit AS (INSERT ...) INSERT INTO <events> ... RETURNING`: one round trip.

    The rows are what save() and bulk_create() would write, and the objects come back
    as those leave them: primary keys and the events' transaction id set, saved.
    """
    audit_sql, audit_params = rows.insert_values([audit])
    events_sql, events_params = rows.insert_values(events)
    quote = connection.ops.quote_name
    audit_id = quote(AuditEvent._meta.pk.column)
    returned = ", ".join(
        quote(DirectoryEvent._meta.get_field(name).column) for name in ("id", "transaction_id")
    )
    # Identifiers from the models, every value a parameter (accounts.raw_rows).
    sql = (
        f"WITH audit AS ({audit_sql} RETURNING {audit_id}) {events_sql} "  # noqa: S608
        f"RETURNING {returned}, (SELECT {audit_id} FROM audit)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, audit_params + events_params)
        returned_rows = cursor.fetchall()
    # PostgreSQL returns a multi-row VALUES' rows in order; bulk_create relies on it too.
    for event, row in zip(events, returned_rows, strict=True):
        event.pk, event.transaction_id, audit.pk = row
        rows.mark_saved(event)
    rows.mark_saved(audit)


def _resource_event(
    resource: User | Group, *, kind: str, type: str, actor: Actor, changes: Iterable[str]
) -> DirectoryEvent:
    """One event about `resource` (a user or a group) as it is after the change."""
    snapshot = user_snapshot if kind == "user" else group_snapshot
    data = {kind: snapshot(resource)}
    if type in (EventType.USER_UPDATED, EventType.GROUP_UPDATED):
        data["changes"] = sorted(changes)
    return _event(
        organization_id=resource.organization_id,
        type=type,
        actor=actor,
        resource_id=resource.pk,
        resource_version=resource.version,
        data=data,
        **{f"{kind}_id": resource.pk},
    )


def user_event(
    *, user: User, type: str, actor: Actor, changes: Iterable[str] = ()
) -> DirectoryEvent:
    """One user.* event carrying the user as it is after the change."""
    return _resource_event(user, kind="user", type=type, actor=actor, changes=changes)


def group_event(
    *, group: Group, type: str, actor: Actor, changes: Iterable[str] = ()
) -> DirectoryEvent:
    """One group.created/updated/deleted event carrying the group after the change."""
    return _resource_event(group, kind="group", type=type, actor=actor, changes=changes)


def credential_event(*, user: User, type: str, actor: Actor, credential: dict) -> DirectoryEvent:
    """One credential.* event: the person and their file-transfer credential (never its
    secret), ordered with the person's other events."""
    return _event(
        organization_id=user.organization_id,
        type=type,
        actor=actor,
        resource_id=user.pk,
        resource_version=user.version,
        user_id=user.pk,
        data={"user": user_snapshot(user), "credential": credential},
    )


def resource_event(
    *, organization_id, type: str, actor: Actor, resource_id, resource_version: int, data: dict
) -> DirectoryEvent:
    """One event about a resource of another app (the file-transfer setting), whose `data`
    that app builds; ordered by `resource_id` and `resource_version` like any other."""
    return _event(
        organization_id=organization_id,
        type=type,
        actor=actor,
        resource_id=resource_id,
        resource_version=resource_version,
        data=data,
    )


def group_resource_event(*, group: Group, type: str, actor: Actor, data: dict) -> DirectoryEvent:
    """One event about something of a group's (its folder grants): the group's snapshot
    and `data`, ordered with the group's other events."""
    return _event(
        organization_id=group.organization_id,
        type=type,
        actor=actor,
        resource_id=group.pk,
        resource_version=group.version,
        group_id=group.pk,
        data={"group": group_snapshot(group), **data},
    )


def membership_events(
    *, group: Group, type: str, user_ids: Iterable, actor: Actor, users: dict | None = None
) -> list[DirectoryEvent]:
    """One group.member_added/removed event per member; the group's version orders them.

    `users` maps ids to the User objects the caller already holds; the others are loaded.
    """
    user_ids = list(user_ids)
    if not user_ids:
        return []
    group_data = group_snapshot(group)
    users = dict(users or {})
    missing = [user_id for user_id in user_ids if user_id not in users]
    if missing:
        users.update(User.objects.in_bulk(missing))
    events = []
    for user_id in user_ids:
        user = users.get(user_id)
        user_data = user_snapshot(user) if user is not None else {"id": str(user_id)}
        events.append(
            _event(
                organization_id=group.organization_id,
                type=type,
                actor=actor,
                resource_id=group.pk,
                resource_version=group.version,
                user_id=user_id,
                group_id=group.pk,
                data={"group": group_data, "user": user_data},
            )
        )
    return events
