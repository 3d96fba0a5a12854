from collections.abc import Iterable

from django.db import IntegrityError, connection
from django.utils import timezone

from accounts import raw_rows as rows
from accounts.actors import Actor
from accounts.errors import CrossOrganizationMember, GroupNameTaken, InvalidValue, UnknownMember
from accounts.events.models import EventType
from accounts.events.outbox import group_event, membership_events, record_change
from accounts.models import AuditAction, AuditEvent, Group, Membership, Organization, User
from accounts.selectors import parse_id
from accounts.services.audit import audit_entry
from accounts.services.role_mapping import roles_apply_mapping
from accounts.transactions import atomic, holds_lock

# Audit events list at most this many member ids; the count is always exact.
AUDIT_MEMBER_IDS_LIMIT = 100
# Audit change keys (SCIM names) as the directory events name the fields.
_GROUP_EVENT_FIELDS = {"displayName": "display_name", "externalId": "external_id"}


def _clean_display_name(display_name: str) -> str:
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidValue("displayName must not be empty.")
    if len(display_name) > Group._meta.get_field("display_name").max_length:
        raise InvalidValue("displayName is too long.")
    return display_name


def _clean_external_id(external_id: str) -> str:
    if len(external_id) > Group._meta.get_field("external_id").max_length:
        raise InvalidValue("externalId is too long.")
    return external_id


def _locked(group: Group) -> Group:
    if holds_lock(group):
        return group
    return Group.objects.select_for_update().get(pk=group.pk)


def _audit_group(
    group: Group, *, actor: Actor, action: str, changes: dict | None = None
) -> AuditEvent:
    return audit_entry(
        organization=group.organization,
        actor=actor,
        action=action,
        target_type="group",
        target_id=group.pk,
        target_label=group.display_name,
        changes=changes,
    )


def _member_changes(user_ids: list) -> dict:
    return {
        "count": len(user_ids),
        "users": [str(user_id) for user_id in user_ids[:AUDIT_MEMBER_IDS_LIMIT]],
    }


def _unique_users(group: Group, users: Iterable[User]) -> dict:
    by_id = {}
    for user in users:
        if user.organization_id != group.organization_id:
            raise CrossOrganizationMember()
        by_id[user.pk] = user
    return by_id


def _save_unique(group: Group, **save_kwargs) -> None:
    # The case-insensitive constraint is the final word on displayName, races included.
    try:
        with atomic():
            group.save(**save_kwargs)
    except IntegrityError:
        raise GroupNameTaken(group.display_name) from None


# Rows per INSERT: three parameters each, well inside SQLite's and PostgreSQL's limits.
_INSERT_BATCH = 1000


def _insert_memberships(group: Group, user_ids: list) -> set:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING user_id`: the ids that were not members.

    One statement finds and adds the new members; bulk_create(ignore_conflicts=True)
    cannot say which rows it inserted, and each one added needs its event.
    """
    meta = Membership._meta
    group_field, user_field, created_field = (
        meta.get_field(name) for name in ("group", "user", "created_at")
    )
    group_column, user_column = rows.column(Membership, "group"), rows.column(Membership, "user")
    # Identifiers from the model, every value a parameter.
    insert = (
        f"INSERT INTO {rows.table(Membership)} "  # noqa: S608
        f"({group_column}, {user_column}, {rows.column(Membership, 'created_at')}) VALUES "
    )
    on_conflict = f" ON CONFLICT ({group_column}, {user_column}) DO NOTHING RETURNING {user_column}"
    group_value = group_field.get_db_prep_value(group.pk, connection)
    created_value = created_field.get_db_prep_value(timezone.now(), connection)
    inserted = set()
    for start in range(0, len(user_ids), _INSERT_BATCH):
        batch = user_ids[start : start + _INSERT_BATCH]
        values = ", ".join(["(%s, %s, %s)"] * len(batch))
        params = []
        for user_id in batch:
            params += [
                group_value,
                user_field.get_db_prep_value(user_id, connection),
                created_value,
            ]
        with connection.cursor() as cursor:
            cursor.execute(insert + values + on_conflict, params)
            inserted.update(user_field.target_field.to_python(row[0]) for row in cursor.fetchall())
    return inserted


def _add_named(group: Group, user_ids: list[str], *, bump: bool) -> tuple[list, dict, bool]:
    """Add the organization's users named by `user_ids` (ids as a client sent them).

    Returns the ids added (in the order named), the users by id, and whether the
    group's version was bumped here. Any id that names no user of the organization
    refuses the change (UnknownMember), the rows already written rolling back with it.
    """
    parsed = [user_id for user_id in map(parse_id, user_ids) if user_id is not None]
    if connection.vendor == "postgresql" and parsed:
        users, inserted, bumped = _insert_named_memberships(group, parsed, bump=bump)
    else:
        users = list(User.objects.filter(organization_id=group.organization_id, pk__in=parsed))
        inserted, bumped = _insert_memberships(group, [user.pk for user in users]), False
    found = {str(user.pk): user for user in users}
    missing = [user_id for user_id in user_ids if user_id not in found]
    if missing:
        raise UnknownMember(missing[0])
    named = {found[user_id].pk: found[user_id] for user_id in user_ids}
    return [user_id for user_id in named if user_id in inserted], named, bumped


def _insert_named_memberships(group: Group, user_ids: list, *, bump: bool):
    """One statement reads the users named, adds those not yet members and, with `bump`,
    sets the group's next version if any was added (data-modifying CTEs, PostgreSQL).

    The users come back as model instances (their snapshots go into the events), each
    saying whether it was added. Identifiers from the models, every value a parameter.
    """
    now = timezone.now()
    parts = [("named", *_named_users(group, user_ids)), ("added", *_added_memberships(group, now))]
    if bump:
        parts.append(("bumped", *_version_bump(group, now)))
    user_column, user_pk = rows.column(Membership, "user"), rows.column(User, "id")
    ctes = ", ".join(f"{name} AS ({sql})" for name, sql, _params in parts)
    sql = (
        f"WITH {ctes} SELECT named.*, added.{user_column} IS NOT NULL AS was_added "  # noqa: S608
        f"FROM named LEFT JOIN added ON added.{user_column} = named.{user_pk}"
    )
    params = [param for _name, _sql, part_params in parts for param in part_params]
    users = list(User.objects.raw(sql, params))
    inserted = {user.pk for user in users if user.was_added}
    bumped = bump and bool(inserted)
    if bumped:
        group.version, group.updated_at = group.version + 1, now
    return users, inserted, bumped


def _named_users(group: Group, user_ids: list) -> tuple[str, list]:
    sql = (
        f"SELECT {rows.columns(User, 'u')} FROM {rows.table(User)} u "  # noqa: S608
        f"WHERE {rows.column(User, 'organization', 'u')} = %s "
        f"AND {rows.column(User, 'id', 'u')} = ANY(%s)"
    )
    ids = [User._meta.pk.get_db_prep_value(user_id, connection) for user_id in user_ids]
    return sql, [group.organization_id, ids]


def _added_memberships(group: Group, now) -> tuple[str, list]:
    meta = Membership._meta
    group_field, created_field = meta.get_field("group"), meta.get_field("created_at")
    group_column, user_column = rows.column(Membership, "group"), rows.column(Membership, "user")
    sql = (
        f"INSERT INTO {rows.table(Membership)} "  # noqa: S608
        f"({group_column}, {user_column}, {rows.column(Membership, 'created_at')}) "
        f"SELECT %s, {rows.column(User, 'id')}, %s FROM named "
        f"ON CONFLICT ({group_column}, {user_column}) DO NOTHING RETURNING {user_column}"
    )
    return sql, [
        group_field.get_db_prep_value(group.pk, connection),
        created_field.get_db_prep_value(now, connection),
    ]


def _version_bump(group: Group, now) -> tuple[str, list]:
    """What group.save() changes when only the members did: the version, updated_at."""
    meta = Group._meta
    version, updated_at = (meta.get_field(name) for name in ("version", "updated_at"))
    sql = (
        f"UPDATE {rows.table(Group)} "  # noqa: S608
        f"SET {rows.column(Group, 'version')} = %s, {rows.column(Group, 'updated_at')} = %s "
        f"WHERE {rows.column(Group, 'id')} = %s AND EXISTS (SELECT 1 FROM added)"
    )
    return sql, [
        version.get_db_prep_value(group.version + 1, connection),
        updated_at.get_db_prep_value(now, connection),
        meta.pk.get_db_prep_value(group.pk, connection),
    ]


def _add(group: Group, user_ids: list) -> list:
    """Insert the memberships that do not exist yet; costs the change, not the group."""
    if not user_ids:
        return []
    inserted = _insert_memberships(group, user_ids)
    return [user_id for user_id in user_ids if user_id in inserted]


def _remove(group: Group, user_ids: list) -> list:
    if not user_ids:
        return []
    memberships = Membership.objects.filter(group=group, user_id__in=user_ids)
    removed = list(memberships.values_list("user_id", flat=True))
    if removed:
        Membership.objects.filter(group=group, user_id__in=removed).delete()
    return removed


@atomic()
def group_create(
    *,
    organization: Organization,
    display_name: str,
    actor: Actor,
    external_id: str = "",
    members: Iterable[User] = (),
) -> Group:
    display_name = _clean_display_name(display_name)
    external_id = _clean_external_id(external_id)
    group = Group(organization=organization, display_name=display_name, external_id=external_id)
    members_by_id = _unique_users(group, members)
    member_ids = list(members_by_id)
    _save_unique(group, force_insert=True)
    _add(group, member_ids)
    record_change(
        audit=_audit_group(
            group,
            actor=actor,
            action=AuditAction.GROUP_CREATED,
            changes={"displayName": display_name, "externalId": external_id},
        ),
        events=[group_event(group=group, type=EventType.GROUP_CREATED, actor=actor)],
    )
    _record_member_changes(group, actor, added=member_ids, users=members_by_id)
    return group


def _attribute_changes(group: Group, *, display_name: str | None, external_id: str | None) -> dict:
    """Set the new displayName/externalId on the locked group; returns what changed."""
    changes = {}
    if display_name is not None:
        display_name = _clean_display_name(display_name)
        if display_name != group.display_name:
            changes["displayName"] = {"from": group.display_name, "to": display_name}
            group.display_name = display_name
    if external_id is not None and _clean_external_id(external_id) != group.external_id:
        changes["externalId"] = {"from": group.external_id, "to": external_id}
        group.external_id = external_id
    return changes


@atomic()
def group_update(
    *, group: Group, actor: Actor, display_name: str | None = None, external_id: str | None = None
) -> Group:
    """Rename the group or change its externalId; a no-op when nothing changes."""
    return group_apply(group=group, actor=actor, display_name=display_name, external_id=external_id)


@atomic()
def group_delete(*, group: Group, actor: Actor) -> None:
    """Delete the group; its members stay."""
    group = _locked(group)
    members = list(Membership.objects.filter(group=group).values_list("user_id", flat=True))
    organization, mapped, name = group.organization, group.grants_admin, group.display_name
    # The deletion is the resource's last version, newer than any event before it.
    group.version += 1
    record_change(
        audit=_audit_group(
            group,
            actor=actor,
            action=AuditAction.GROUP_DELETED,
            changes={"displayName": group.display_name, "externalId": group.external_id},
        ),
        events=[group_event(group=group, type=EventType.GROUP_DELETED, actor=actor)],
    )
    group.delete()
    if mapped:
        roles_apply_mapping(
            organization=organization, user_ids=members, actor=actor, reason=f"{name} deleted"
        )


def _record_member_changes(
    group: Group,
    actor: Actor,
    *,
    added: list = (),
    removed: list = (),
    users: dict | None = None,
) -> None:
    """One audit event per direction for what really changed, with its member events."""
    for action, type, user_ids in (
        (AuditAction.GROUP_MEMBERS_ADDED, EventType.GROUP_MEMBER_ADDED, added),
        (AuditAction.GROUP_MEMBERS_REMOVED, EventType.GROUP_MEMBER_REMOVED, removed),
    ):
        if user_ids:
            record_change(
                audit=_audit_group(
                    group, actor=actor, action=action, changes=_member_changes(user_ids)
                ),
                events=membership_events(
                    group=group, type=type, user_ids=user_ids, actor=actor, users=users
                ),
            )
    if group.grants_admin and (added or removed):
        roles_apply_mapping(
            organization=group.organization,
            user_ids=[*added, *removed],
            actor=actor,
            reason=f"membership of {group.display_name} changed",
        )


def _apply(
    group: Group,
    actor: Actor,
    *,
    display_name: str | None = None,
    external_id: str | None = None,
    add: Iterable[User] = (),
    add_ids: Iterable[str] = (),
    remove: Iterable[User] = (),
    replace: Iterable[User] | None = None,
) -> tuple[Group, list, list]:
    group = _locked(group)
    # Ids are checked first, as if the caller had looked the users up itself. When they
    # are the whole change, the statement that adds them bumps the version as well.
    add_ids = list(add_ids)
    only_ids = (
        not (add or remove) and replace is None and display_name is None and external_id is None
    )
    added_by_id, named, bumped = (
        _add_named(group, add_ids, bump=only_ids) if add_ids else ([], {}, False)
    )
    changes = _attribute_changes(group, display_name=display_name, external_id=external_id)
    to_add = _unique_users(group, add)
    to_remove = _unique_users(group, remove)
    if replace is not None:
        wanted = _unique_users(group, replace)
        wanted.update(to_add)
        for user_id in to_remove:
            wanted.pop(user_id, None)
        current = set(Membership.objects.filter(group=group).values_list("user_id", flat=True))
        removed = _remove(group, [user_id for user_id in current if user_id not in wanted])
        added = _add(group, [user_id for user_id in wanted if user_id not in current])
    else:
        removed = _remove(
            group,
            [user_id for user_id in to_remove if user_id not in to_add and user_id not in named],
        )
        added = [
            *added_by_id,
            *_add(group, [user_id for user_id in to_add if user_id not in named]),
        ]
    if not changes and not added and not removed:
        return group, [], []
    if not bumped:
        group.version += 1
        _save_unique(group)
    if changes:
        record_change(
            audit=_audit_group(
                group, actor=actor, action=AuditAction.GROUP_UPDATED, changes=changes
            ),
            events=[
                group_event(
                    group=group,
                    type=EventType.GROUP_UPDATED,
                    actor=actor,
                    changes=[_GROUP_EVENT_FIELDS[name] for name in changes],
                )
            ],
        )
    users = {**named, **to_add, **to_remove, **(wanted if replace is not None else {})}
    _record_member_changes(group, actor, added=added, removed=removed, users=users)
    return group, added, removed


@atomic()
def group_apply(
    *,
    group: Group,
    actor: Actor,
    display_name: str | None = None,
    external_id: str | None = None,
    add: Iterable[User] = (),
    add_ids: Iterable[str] = (),
    remove: Iterable[User] = (),
    replace: Iterable[User] | None = None,
) -> Group:
    """Apply everything one request asks of a group at once.

    One lock, one version bump and one audit event per kind of change (updated,
    members added, members removed); nothing is written when nothing changes. The
    members become `replace` (or stay as they are when it is None), plus `add`, less
    `remove`; a user in both `add` and `remove` is removed.

    `add_ids` adds users by id as a client sent them, without `replace`: the users are
    read in the statement that adds them, and an id that names no user of the group's
    organization refuses the whole change (UnknownMember).
    """
    if add_ids and replace is not None:
        raise TypeError("add_ids adds to the current members; name them in replace instead.")
    group, _added, _removed = _apply(
        group,
        actor,
        display_name=display_name,
        external_id=external_id,
        add=add,
        add_ids=add_ids,
        remove=remove,
        replace=replace,
    )
    return group


@atomic()
def group_members_add(*, group: Group, users: Iterable[User], actor: Actor) -> list:
    """Add users (of the group's organization); returns the ids actually added."""
    return _apply(group, actor, add=users)[1]


@atomic()
def group_members_remove(*, group: Group, users: Iterable[User], actor: Actor) -> list:
    """Remove users from the group; returns the ids actually removed."""
    return _apply(group, actor, remove=users)[2]


@atomic()
def group_members_clear(*, group: Group, actor: Actor) -> list:
    """Remove every member (SCIM `remove` of path `members` with no value)."""
    return _apply(group, actor, replace=())[2]


@atomic()
def group_members_replace(*, group: Group, users: Iterable[User], actor: Actor) -> None:
    """Make the member list exactly `users` (what a SCIM PUT or replace asks for)."""
    _apply(group, actor, replace=users)
