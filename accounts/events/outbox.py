"""The transactional outbox: directory events written inside the change's transaction.

Services call these next to their audit write, so a rolled-back change leaves no event
and a no-op (which returns before the audit write) leaves none either. Webhook
deliveries for the new events are queued in the same transaction (accounts.events.fanout).
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from accounts.actors import Actor
from accounts.events.fanout import queue_deliveries
from accounts.events.models import DirectoryEvent, EventType
from accounts.events.snapshots import group_snapshot, user_snapshot
from accounts.models import Group, Organization, User
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


def _write(events: list[DirectoryEvent], *, resource) -> list[DirectoryEvent]:
    if not events or not getattr(settings, "DIRECTORY_EVENTS_ENABLED", True):
        return []
    assert transaction.get_connection().in_atomic_block, "write events inside the change"
    DirectoryEvent.objects.bulk_create(events)
    queue_deliveries(events, organization=_organization_in_hand(resource))
    return events


def _record_resource_event(
    resource: User | Group, *, kind: str, type: str, actor: Actor, changes: Iterable[str]
) -> DirectoryEvent | None:
    """One event about `resource` (a user or a group) as it is after the change."""
    snapshot = user_snapshot if kind == "user" else group_snapshot
    data = {kind: snapshot(resource)}
    if type in (EventType.USER_UPDATED, EventType.GROUP_UPDATED):
        data["changes"] = sorted(changes)
    event = _event(
        organization_id=resource.organization_id,
        type=type,
        actor=actor,
        resource_id=resource.pk,
        resource_version=resource.version,
        data=data,
        **{f"{kind}_id": resource.pk},
    )
    written = _write([event], resource=resource)
    return written[0] if written else None


def record_user_event(
    *, user: User, type: str, actor: Actor, changes: Iterable[str] = ()
) -> DirectoryEvent | None:
    """One user.* event carrying the user as it is after the change."""
    return _record_resource_event(user, kind="user", type=type, actor=actor, changes=changes)


def record_group_event(
    *, group: Group, type: str, actor: Actor, changes: Iterable[str] = ()
) -> DirectoryEvent | None:
    """One group.created/updated/deleted event carrying the group after the change."""
    return _record_resource_event(group, kind="group", type=type, actor=actor, changes=changes)


def record_membership_events(
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
    return _write(events, resource=group)
