"""Resources as the API and the events show them: one shape for both.

A consumer rebuilds its state from the read API and then follows the event stream, so a
user in `/api/v1/users` and a user in an event's `data.user` must be the same object.
"""

from accounts.events.models import DirectoryEvent
from accounts.models import Group, User


def _timestamp(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user_snapshot(user: User) -> dict:
    return {
        "id": str(user.pk),
        "username": user.username,
        "email": user.email,
        "active": user.is_active,
        "external_id": user.external_id,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "display_name": user.display_name,
        "title": user.title,
        "role": user.role,
        # The organization's declared custom attributes, by their declared names; a
        # deleted declaration's values are purged, so this holds declared ones only.
        "custom_attributes": dict(user.custom_attributes or {}),
        "version": user.version,
        "created_at": _timestamp(user.created_at),
        "updated_at": _timestamp(user.updated_at),
    }


def group_snapshot(group: Group) -> dict:
    return {
        "id": str(group.pk),
        "display_name": group.display_name,
        "external_id": group.external_id,
        "version": group.version,
        "created_at": _timestamp(group.created_at),
        "updated_at": _timestamp(group.updated_at),
    }


def event_body(event: DirectoryEvent) -> dict:
    """An event as the Events API lists it and as a webhook delivers it."""
    return {
        "id": str(event.pk),
        "type": event.type,
        "occurred_at": _timestamp(event.occurred_at),
        "data": event.data,
    }
