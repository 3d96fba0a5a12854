"""Group → role mapping: members of mapped groups are console admins, and only they."""

import threading

import pytest
from django.db import connection

from accounts.models import AuditAction, AuditEvent, Role
from accounts.services import (
    group_delete,
    group_members_add,
    group_members_remove,
    group_members_replace,
    group_set_grants_admin,
    user_set_role,
)
from tests.load.conftest import requires_postgresql

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins_group(organization, make_group, system_actor):
    group = make_group(organization, "Roster admins")
    return group_set_grants_admin(group=group, grants_admin=True, actor=system_actor)


def _role(user):
    user.refresh_from_db()
    return user.role, user.role_from_mapping


def test_joining_a_mapped_group_grants_admin_with_the_cause(
    organization, make_user, admins_group, system_actor
):
    kim = make_user(organization, "kim@acme.example")
    group_members_add(group=admins_group, users=[kim], actor=system_actor)

    assert _role(kim) == (Role.ADMIN, True)
    event = AuditEvent.objects.get(action=AuditAction.USER_ROLE_CHANGED, target_id=str(kim.pk))
    assert event.changes == {
        "role": {"from": "member", "to": "admin"},
        "cause": {
            "reason": "membership of Roster admins changed",
            "mapped_groups": ["Roster admins"],
        },
    }


def test_leaving_every_mapped_group_takes_the_mapped_role_back(
    organization, make_user, make_group, admins_group, system_actor
):
    other = group_set_grants_admin(
        group=make_group(organization, "IT"), grants_admin=True, actor=system_actor
    )
    kim = make_user(organization, "kim@acme.example")
    group_members_add(group=admins_group, users=[kim], actor=system_actor)
    group_members_add(group=other, users=[kim], actor=system_actor)

    group_members_remove(group=admins_group, users=[kim], actor=system_actor)
    assert _role(kim) == (Role.ADMIN, True), "still in IT"
    group_members_replace(group=other, users=[], actor=system_actor)
    assert _role(kim) == (Role.MEMBER, False)


def test_a_role_set_by_hand_stays_when_its_holder_leaves(
    organization, make_user, admins_group, system_actor
):
    ada = make_user(organization, "ada@acme.example")
    user_set_role(user=ada, role=Role.ADMIN, actor=system_actor)
    group_members_add(group=admins_group, users=[ada], actor=system_actor)
    group_members_remove(group=admins_group, users=[ada], actor=system_actor)
    assert _role(ada) == (Role.ADMIN, False)


def test_a_mapped_admin_made_admin_by_hand_keeps_it(
    organization, make_user, admins_group, system_actor
):
    kim = make_user(organization, "kim@acme.example")
    group_members_add(group=admins_group, users=[kim], actor=system_actor)
    user_set_role(user=kim, role=Role.MEMBER, actor=system_actor)
    user_set_role(user=kim, role=Role.ADMIN, actor=system_actor)
    group_members_remove(group=admins_group, users=[kim], actor=system_actor)
    assert _role(kim) == (Role.ADMIN, False)


def test_a_mapping_never_grants_or_removes_owner(
    organization, org_owner, admins_group, system_actor
):
    group_members_add(group=admins_group, users=[org_owner], actor=system_actor)
    assert _role(org_owner) == (Role.OWNER, False)
    group_delete(group=admins_group, actor=system_actor)
    assert _role(org_owner) == (Role.OWNER, False), "the last owner stays owner"


def test_mapping_a_group_grants_its_members_and_unmapping_takes_it_back(
    organization, make_user, make_group, system_actor
):
    kim, lee = (make_user(organization, f"{n}@acme.example") for n in ("kim", "lee"))
    group = make_group(organization, "Engineering", members=[kim, lee])
    group_set_grants_admin(group=group, grants_admin=True, actor=system_actor)
    assert [_role(kim), _role(lee)] == [(Role.ADMIN, True)] * 2

    group_set_grants_admin(group=group, grants_admin=False, actor=system_actor)
    assert [_role(kim), _role(lee)] == [(Role.MEMBER, False)] * 2
    causes = AuditEvent.objects.filter(
        action=AuditAction.USER_ROLE_CHANGED, target_id=str(kim.pk)
    ).values_list("changes__cause__reason", flat=True)
    assert sorted(causes) == [
        "Engineering mapped to the admin role",
        "Engineering no longer mapped to the admin role",
    ]


def test_deleting_a_mapped_group_takes_the_role_back(
    organization, make_user, admins_group, system_actor
):
    kim = make_user(organization, "kim@acme.example")
    group_members_add(group=admins_group, users=[kim], actor=system_actor)
    group_delete(group=admins_group, actor=system_actor)
    assert _role(kim) == (Role.MEMBER, False)


def test_an_unmapped_group_changes_no_role(organization, make_user, make_group, system_actor):
    kim = make_user(organization, "kim@acme.example")
    group_members_add(group=make_group(organization), users=[kim], actor=system_actor)
    assert _role(kim) == (Role.MEMBER, False)
    assert not AuditEvent.objects.filter(action=AuditAction.USER_ROLE_CHANGED).exists()


def test_mapping_twice_is_a_no_op(admins_group, system_actor):
    before = AuditEvent.objects.count()
    group_set_grants_admin(group=admins_group, grants_admin=True, actor=system_actor)
    assert AuditEvent.objects.count() == before


def test_scim_push_of_a_mapped_group_member_grants_admin(
    scim, organization, make_user, admins_group
):
    kim = make_user(organization, "kim@acme.example")
    response = scim.patch(
        f"/Groups/{admins_group.pk}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": str(kim.pk)}]}],
        },
    )
    assert response.status_code == 204
    assert _role(kim) == (Role.ADMIN, True)
    event = AuditEvent.objects.get(action=AuditAction.USER_ROLE_CHANGED, target_id=str(kim.pk))
    assert event.actor_type == "token"


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(10))
def test_member_added_while_the_mapping_is_removed_ends_consistent(
    organization, make_user, make_group, system_actor, attempt
):
    """Whichever commits first, the person is admin exactly if the group still maps."""
    kim = make_user(organization, "kim@acme.example")
    group = group_set_grants_admin(
        group=make_group(organization, "Roster admins"), grants_admin=True, actor=system_actor
    )
    start = threading.Barrier(2)
    errors = []

    def run(change):
        try:
            start.wait()
            change()
        except Exception as error:  # reported below, with the attempt
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run,
            args=(lambda: group_members_add(group=group, users=[kim], actor=system_actor),),
        ),
        threading.Thread(
            target=run,
            args=(
                lambda: group_set_grants_admin(group=group, grants_admin=False, actor=system_actor),
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    group.refresh_from_db()
    assert not group.grants_admin
    assert _role(kim) == (Role.MEMBER, False)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(10))
def test_leaving_one_mapped_group_while_the_other_stops_mapping_takes_the_role_back(
    organization, make_user, make_group, system_actor, attempt
):
    kim = make_user(organization, "kim@acme.example")
    first, second = (
        group_set_grants_admin(
            group=make_group(organization, name, members=[kim]),
            grants_admin=True,
            actor=system_actor,
        )
        for name in ("Roster admins", "IT")
    )
    assert _role(kim) == (Role.ADMIN, True)
    start = threading.Barrier(2)
    errors = []

    def run(change):
        try:
            start.wait()
            change()
        except Exception as error:  # reported below, with the attempt
            errors.append(error)
        finally:
            connection.close()

    changes = [
        lambda: group_members_remove(group=first, users=[kim], actor=system_actor),
        lambda: group_set_grants_admin(group=second, grants_admin=False, actor=system_actor),
    ]
    threads = [threading.Thread(target=run, args=(change,)) for change in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert _role(kim) == (Role.MEMBER, False)
