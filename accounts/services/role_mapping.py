"""Group → role mapping: members of chosen groups hold the console admin role.

The identity provider's groups decide who administers the console. A mapping grants
`admin` only (never `owner`, so it can never touch the last owner), and takes back only
what it granted: a role set by hand stays when its holder leaves the groups.

Every membership change of a mapped group (SCIM, console, operations admin) calls
`roles_apply_mapping` inside its own transaction, after locking the group. The users are
locked before their memberships are read, so two changes that race (a member added while
the mapping is removed, a member leaving one mapped group while another stops mapping)
run one after the other for each person, and the second sees what the first committed.
"""

from collections.abc import Iterable

from django.db import transaction

from accounts.actors import Actor
from accounts.models import AuditAction, Group, Membership, Organization, Role, User
from accounts.services.audit import audit_record
from accounts.services.privileges import check_may_map_roles

MAPPED_ROLE = Role.ADMIN


def _mapped_groups_by_user(user_ids: list) -> dict:
    memberships = (
        Membership.objects.filter(user_id__in=user_ids, group__grants_admin=True)
        .values_list("user_id", "group__display_name")
        .order_by("group__display_name")
    )
    groups: dict = {}
    for user_id, name in memberships:
        groups.setdefault(user_id, []).append(name)
    return groups


def _set_mapped_role(
    user: User, *, organization: Organization, role: str, actor: Actor, cause: dict
) -> None:
    old_role = user.role
    user.role = role
    user.role_from_mapping = role == MAPPED_ROLE
    user.version += 1
    user.save(update_fields=["role", "role_from_mapping", "version", "updated_at"])
    audit_record(
        organization=organization,
        actor=actor,
        action=AuditAction.USER_ROLE_CHANGED,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes={"role": {"from": old_role, "to": role}, "cause": cause},
    )


def roles_apply_mapping(
    *, organization: Organization, user_ids: Iterable, actor: Actor, reason: str
) -> None:
    """Grant or take back the mapped role of these users from their current groups.

    Call it inside the transaction of the membership or mapping change; `reason` says
    what changed ("added to Engineering"), for the audit event.
    """
    user_ids = sorted(set(user_ids), key=str)
    if not user_ids:
        return
    # Locked in one order (by id), before the memberships are read.
    users = list(
        User.objects.select_for_update()
        .filter(organization=organization, pk__in=user_ids)
        .order_by("pk")
    )
    mapped = _mapped_groups_by_user([user.pk for user in users])
    for user in users:
        groups = mapped.get(user.pk, [])
        if groups and user.role == Role.MEMBER:
            cause = {"reason": reason, "mapped_groups": groups}
            _set_mapped_role(
                user, organization=organization, role=MAPPED_ROLE, actor=actor, cause=cause
            )
        elif not groups and user.role_from_mapping:
            cause = {"reason": reason, "mapped_groups": []}
            _set_mapped_role(
                user, organization=organization, role=Role.MEMBER, actor=actor, cause=cause
            )


@transaction.atomic
def group_set_grants_admin(
    *, group: Group, grants_admin: bool, actor: Actor, acting_user: User | None = None
) -> Group:
    """Map the group to the console admin role, or stop; its members follow at once.

    Owners only (`acting_user`); commands, operators and the system pass none.
    """
    check_may_map_roles(acting_user, actor, group.organization)
    # Only the group row: locking its organization too would block every audit insert
    # of the organization (their deferred foreign-key check) until this commits.
    group = (
        Group.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=group.pk)
    )
    if group.grants_admin == grants_admin:
        return group
    group.grants_admin = grants_admin
    group.version += 1
    group.save(update_fields=["grants_admin", "version", "updated_at"])
    audit_record(
        organization=group.organization,
        actor=actor,
        action=AuditAction.GROUP_UPDATED,
        target_type="group",
        target_id=group.pk,
        target_label=group.display_name,
        changes={"grantsAdmin": {"from": not grants_admin, "to": grants_admin}},
    )
    members = Membership.objects.filter(group=group).values_list("user_id", flat=True)
    verb = "mapped to" if grants_admin else "no longer mapped to"
    roles_apply_mapping(
        organization=group.organization,
        user_ids=list(members),
        actor=actor,
        reason=f"{group.display_name} {verb} the admin role",
    )
    return group
