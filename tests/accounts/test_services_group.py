"""Group services: renames, deletion and membership changes, each audited once."""

import pytest

from accounts.errors import CrossOrganizationMember, GroupNameTaken, InvalidValue
from accounts.models import AuditAction, AuditEvent, Group, Membership
from accounts.services import (
    group_apply,
    group_create,
    group_delete,
    group_members_add,
    group_members_clear,
    group_members_remove,
    group_members_replace,
    group_update,
)


def _member_ids(group):
    return set(Membership.objects.filter(group=group).values_list("user_id", flat=True))


@pytest.fixture
def people(organization, make_user):
    return [make_user(organization, f"person{i}@acme.example") for i in range(3)]


@pytest.fixture
def outsider(other_organization, make_user):
    return make_user(other_organization, "outsider@globex.example")


def test_group_create_stores_the_group_with_members_and_audits_both(
    organization, people, admin_actor, request_id, events_for
):
    group = group_create(
        organization=organization,
        display_name="  Engineering ",
        external_id="g-1",
        members=people[:2],
        actor=admin_actor,
    )
    group.refresh_from_db()
    assert (group.display_name, group.external_id, group.version) == ("Engineering", "g-1", 1)
    assert _member_ids(group) == {people[0].pk, people[1].pk}
    created, added = events_for(group)
    assert created.action == AuditAction.GROUP_CREATED
    assert created.changes == {"displayName": "Engineering", "externalId": "g-1"}
    assert (created.target_type, created.target_label) == ("group", "Engineering")
    assert added.action == AuditAction.GROUP_MEMBERS_ADDED
    assert added.changes["count"] == 2
    assert set(added.changes["users"]) == {str(people[0].pk), str(people[1].pk)}
    assert {created.request_id, added.request_id} == {request_id}
    assert {created.actor_id, added.actor_id} == {admin_actor.id}


@pytest.mark.parametrize("taken", ["Engineering", "engineering", "ENGINEERING "])
def test_group_create_refuses_a_taken_display_name_in_any_case(
    organization, make_group, system_actor, taken
):
    make_group(organization, "Engineering")
    events_before = AuditEvent.objects.count()
    with pytest.raises(GroupNameTaken):
        group_create(organization=organization, display_name=taken, actor=system_actor)
    assert Group.objects.filter(organization=organization).count() == 1
    assert AuditEvent.objects.count() == events_before


def test_group_create_allows_a_display_name_taken_in_another_organization(
    organization, other_organization, make_group, system_actor
):
    make_group(organization, "Engineering")
    group = group_create(
        organization=other_organization, display_name="Engineering", actor=system_actor
    )
    assert group.organization == other_organization


def test_group_create_refuses_an_empty_display_name(organization, system_actor):
    with pytest.raises(InvalidValue):
        group_create(organization=organization, display_name="  ", actor=system_actor)
    assert not Group.objects.exists()


def test_group_create_refuses_members_of_another_organization_and_writes_nothing(
    organization, people, outsider, system_actor
):
    events_before = AuditEvent.objects.count()
    with pytest.raises(CrossOrganizationMember):
        group_create(
            organization=organization,
            display_name="Mixed",
            members=[people[0], outsider],
            actor=system_actor,
        )
    assert not Group.objects.filter(display_name="Mixed").exists()
    assert not Membership.objects.exists()
    assert AuditEvent.objects.count() == events_before


def test_group_create_writes_nothing_when_the_audit_write_fails(
    organization, people, system_actor, fail_audit
):
    fail_audit()
    with pytest.raises(RuntimeError):
        group_create(
            organization=organization, display_name="Half", members=people, actor=system_actor
        )
    assert not Group.objects.filter(display_name="Half").exists()
    assert not Membership.objects.exists()


def test_group_update_renames_bumps_version_and_audits(
    organization, make_group, admin_actor, request_id, events_for
):
    group = make_group(organization, "Engineering")
    group_update(group=group, display_name="Platform", external_id="g-9", actor=admin_actor)
    group.refresh_from_db()
    assert (group.display_name, group.external_id, group.version) == ("Platform", "g-9", 2)
    [event] = events_for(group, AuditAction.GROUP_UPDATED)
    assert event.changes == {
        "displayName": {"from": "Engineering", "to": "Platform"},
        "externalId": {"from": "", "to": "g-9"},
    }
    assert (event.actor_id, event.request_id, event.target_label) == (
        admin_actor.id,
        request_id,
        "Platform",
    )


def test_group_update_without_a_change_writes_nothing(
    organization, make_group, system_actor, events_for
):
    group = make_group(organization, "Engineering", external_id="g-1")
    group_update(group=group, display_name="Engineering", external_id="g-1", actor=system_actor)
    group_update(group=group, actor=system_actor)
    group.refresh_from_db()
    assert group.version == 1
    assert events_for(group, AuditAction.GROUP_UPDATED) == []


def test_group_update_may_change_only_the_case_of_its_own_name(
    organization, make_group, system_actor
):
    group = make_group(organization, "engineering")
    group_update(group=group, display_name="Engineering", actor=system_actor)
    group.refresh_from_db()
    assert group.display_name == "Engineering"


@pytest.mark.parametrize("new_name", ["Research", "research"])
def test_group_update_refuses_a_rename_onto_another_groups_name(
    organization, make_group, system_actor, events_for, new_name
):
    make_group(organization, "Research")
    group = make_group(organization, "Engineering")
    with pytest.raises(GroupNameTaken):
        group_update(group=group, display_name=new_name, actor=system_actor)
    group.refresh_from_db()
    assert (group.display_name, group.version) == ("Engineering", 1)
    assert events_for(group, AuditAction.GROUP_UPDATED) == []


def test_group_update_leaves_the_name_when_the_audit_write_fails(
    organization, make_group, system_actor, fail_audit
):
    group = make_group(organization, "Engineering")
    fail_audit()
    with pytest.raises(RuntimeError):
        group_update(group=group, display_name="Platform", actor=system_actor)
    group.refresh_from_db()
    assert (group.display_name, group.version) == ("Engineering", 1)


def test_group_delete_removes_the_group_keeps_members_and_audits(
    organization, make_group, people, admin_actor, request_id
):
    group = make_group(organization, "Engineering", external_id="g-1", members=people)
    group_id = group.pk
    group_delete(group=group, actor=admin_actor)
    assert not Group.objects.filter(pk=group_id).exists()
    assert not Membership.objects.exists()
    for person in people:
        person.refresh_from_db()
    event = AuditEvent.objects.get(target_id=str(group_id), action=AuditAction.GROUP_DELETED)
    assert event.changes == {"displayName": "Engineering", "externalId": "g-1"}
    assert (event.actor_id, event.request_id) == (admin_actor.id, request_id)


def test_group_delete_keeps_the_group_when_the_audit_write_fails(
    organization, make_group, people, system_actor, fail_audit
):
    group = make_group(organization, members=people)
    fail_audit()
    with pytest.raises(RuntimeError):
        group_delete(group=group, actor=system_actor)
    assert Group.objects.filter(pk=group.pk).exists()
    assert len(_member_ids(group)) == 3


class TestMembersAdd:
    def test_adds_bumps_version_and_audits_the_added_ids(
        self, organization, make_group, people, admin_actor, request_id, events_for
    ):
        group = make_group(organization, members=people[:1])
        added = group_members_add(group=group, users=people, actor=admin_actor)
        assert set(added) == {people[1].pk, people[2].pk}
        assert _member_ids(group) == {p.pk for p in people}
        group.refresh_from_db()
        assert group.version == 2
        event = events_for(group, AuditAction.GROUP_MEMBERS_ADDED)[-1]
        assert event.changes == {
            "count": 2,
            "users": [str(people[1].pk), str(people[2].pk)],
        }
        assert (event.actor_id, event.request_id) == (admin_actor.id, request_id)

    def test_adding_existing_members_writes_nothing(
        self, organization, make_group, people, system_actor, events_for
    ):
        group = make_group(organization, members=people)
        assert group_members_add(group=group, users=people, actor=system_actor) == []
        group.refresh_from_db()
        assert group.version == 1
        assert len(events_for(group, AuditAction.GROUP_MEMBERS_ADDED)) == 1

    def test_the_same_user_twice_is_added_once(
        self, organization, make_group, people, system_actor
    ):
        group = make_group(organization)
        added = group_members_add(group=group, users=[people[0], people[0]], actor=system_actor)
        assert added == [people[0].pk]

    def test_refuses_a_user_of_another_organization_and_writes_nothing(
        self, organization, make_group, people, outsider, system_actor, events_for
    ):
        group = make_group(organization)
        with pytest.raises(CrossOrganizationMember):
            group_members_add(group=group, users=[people[0], outsider], actor=system_actor)
        assert _member_ids(group) == set()
        group.refresh_from_db()
        assert group.version == 1
        assert events_for(group, AuditAction.GROUP_MEMBERS_ADDED) == []

    def test_adds_nothing_when_the_audit_write_fails(
        self, organization, make_group, people, system_actor, fail_audit
    ):
        group = make_group(organization)
        fail_audit()
        with pytest.raises(RuntimeError):
            group_members_add(group=group, users=people, actor=system_actor)
        assert _member_ids(group) == set()
        group.refresh_from_db()
        assert group.version == 1


class TestMembersRemove:
    def test_removes_bumps_version_and_audits_the_removed_ids(
        self, organization, make_group, people, admin_actor, request_id, events_for
    ):
        group = make_group(organization, members=people)
        removed = group_members_remove(group=group, users=[people[0]], actor=admin_actor)
        assert removed == [people[0].pk]
        assert _member_ids(group) == {people[1].pk, people[2].pk}
        group.refresh_from_db()
        assert group.version == 2
        [event] = events_for(group, AuditAction.GROUP_MEMBERS_REMOVED)
        assert event.changes == {"count": 1, "users": [str(people[0].pk)]}
        assert (event.actor_id, event.request_id) == (admin_actor.id, request_id)

    def test_removing_a_non_member_writes_nothing(
        self, organization, make_group, people, system_actor, events_for
    ):
        group = make_group(organization, members=people[:1])
        assert group_members_remove(group=group, users=[people[1]], actor=system_actor) == []
        group.refresh_from_db()
        assert group.version == 1
        assert events_for(group, AuditAction.GROUP_MEMBERS_REMOVED) == []

    def test_refuses_a_user_of_another_organization(
        self, organization, make_group, people, outsider, system_actor
    ):
        group = make_group(organization, members=people)
        with pytest.raises(CrossOrganizationMember):
            group_members_remove(group=group, users=[people[0], outsider], actor=system_actor)
        assert len(_member_ids(group)) == 3

    def test_removes_nothing_when_the_audit_write_fails(
        self, organization, make_group, people, system_actor, fail_audit
    ):
        group = make_group(organization, members=people)
        fail_audit()
        with pytest.raises(RuntimeError):
            group_members_remove(group=group, users=people, actor=system_actor)
        assert len(_member_ids(group)) == 3


class TestMembersClear:
    def test_removes_every_member_and_audits(
        self, organization, make_group, people, system_actor, events_for
    ):
        group = make_group(organization, members=people)
        removed = group_members_clear(group=group, actor=system_actor)
        assert set(removed) == {p.pk for p in people}
        assert _member_ids(group) == set()
        [event] = events_for(group, AuditAction.GROUP_MEMBERS_REMOVED)
        assert event.changes["count"] == 3

    def test_clearing_an_empty_group_writes_nothing(
        self, organization, make_group, system_actor, events_for
    ):
        group = make_group(organization)
        assert group_members_clear(group=group, actor=system_actor) == []
        group.refresh_from_db()
        assert group.version == 1
        assert events_for(group, AuditAction.GROUP_MEMBERS_REMOVED) == []


class TestMembersReplace:
    def test_makes_the_members_exactly_the_given_users_and_audits_both_sides(
        self, organization, make_group, people, admin_actor, request_id, events_for
    ):
        group = make_group(organization, members=people[:2])
        group_members_replace(group=group, users=people[1:], actor=admin_actor)
        assert _member_ids(group) == {people[1].pk, people[2].pk}
        group.refresh_from_db()
        assert group.version == 2
        added = events_for(group, AuditAction.GROUP_MEMBERS_ADDED)[-1]
        [removed] = events_for(group, AuditAction.GROUP_MEMBERS_REMOVED)
        assert added.changes == {"count": 1, "users": [str(people[2].pk)]}
        assert removed.changes == {"count": 1, "users": [str(people[0].pk)]}
        assert {added.request_id, removed.request_id} == {request_id}

    def test_replacing_with_the_same_members_writes_nothing(
        self, organization, make_group, people, system_actor
    ):
        group = make_group(organization, members=people)
        events_before = AuditEvent.objects.count()
        group_members_replace(group=group, users=list(reversed(people)), actor=system_actor)
        group.refresh_from_db()
        assert group.version == 1
        assert AuditEvent.objects.count() == events_before

    def test_replacing_with_nobody_clears_the_group(
        self, organization, make_group, people, system_actor
    ):
        group = make_group(organization, members=people)
        group_members_replace(group=group, users=[], actor=system_actor)
        assert _member_ids(group) == set()

    def test_refuses_a_user_of_another_organization_and_writes_nothing(
        self, organization, make_group, people, outsider, system_actor
    ):
        group = make_group(organization, members=people[:1])
        events_before = AuditEvent.objects.count()
        with pytest.raises(CrossOrganizationMember):
            group_members_replace(group=group, users=[people[1], outsider], actor=system_actor)
        assert _member_ids(group) == {people[0].pk}
        assert AuditEvent.objects.count() == events_before

    def test_changes_nothing_when_the_audit_write_fails(
        self, organization, make_group, people, system_actor, fail_audit
    ):
        group = make_group(organization, members=people[:1])
        fail_audit()
        with pytest.raises(RuntimeError):
            group_members_replace(group=group, users=people[1:], actor=system_actor)
        assert _member_ids(group) == {people[0].pk}
        group.refresh_from_db()
        assert group.version == 1


def test_group_services_refuse_an_over_long_external_id(organization, make_group, system_actor):
    with pytest.raises(InvalidValue, match="externalId"):
        group_create(
            organization=organization, display_name="G", external_id="x" * 256, actor=system_actor
        )
    group = make_group(organization, "Engineering")
    with pytest.raises(InvalidValue, match="externalId"):
        group_update(group=group, external_id="x" * 256, actor=system_actor)
    group.refresh_from_db()
    assert group.external_id == ""


def test_group_create_refuses_an_over_long_display_name(organization, system_actor):
    with pytest.raises(InvalidValue):
        group_create(organization=organization, display_name="x" * 256, actor=system_actor)
    assert not Group.objects.exists()


# -- group_apply: everything one request asks, in one change ------------------------


def test_group_apply_makes_one_version_bump_and_one_event_per_kind_of_change(
    organization, make_group, people, admin_actor, events_for
):
    group = make_group(organization, "Old", members=people[:2])
    before = len(events_for(group))

    group = group_apply(
        group=group,
        actor=admin_actor,
        display_name="New",
        external_id="ext-9",
        add=[people[2]],
        remove=[people[0]],
    )

    group.refresh_from_db()
    assert (group.display_name, group.external_id, group.version) == ("New", "ext-9", 2)
    assert _member_ids(group) == {people[1].pk, people[2].pk}
    events = events_for(group)[before:]
    assert [e.action for e in events] == [
        AuditAction.GROUP_UPDATED,
        AuditAction.GROUP_MEMBERS_ADDED,
        AuditAction.GROUP_MEMBERS_REMOVED,
    ]
    assert events[1].changes == {"count": 1, "users": [str(people[2].pk)]}
    assert events[2].changes == {"count": 1, "users": [str(people[0].pk)]}


def test_group_apply_with_nothing_to_change_writes_nothing(
    organization, make_group, people, admin_actor, events_for, django_assert_num_queries
):
    group = make_group(organization, "Same", members=people[:1])
    before = len(events_for(group))

    # The savepoint and its release, the lock, and the read of the present members
    # among those to add: no write.
    with django_assert_num_queries(4):
        group_apply(group=group, actor=admin_actor, display_name="Same", add=people[:1])

    group.refresh_from_db()
    assert group.version == 1
    assert len(events_for(group)) == before


def test_group_apply_replace_then_add_and_remove(
    organization, make_group, people, admin_actor, events_for
):
    group = make_group(organization, "Team", members=people[:1])

    group_apply(
        group=group, actor=admin_actor, replace=[people[1]], add=[people[2]], remove=[people[1]]
    )

    group.refresh_from_db()
    assert _member_ids(group) == {people[2].pk}
    assert group.version == 2


def test_group_apply_refuses_a_member_of_another_organization(
    organization, make_group, outsider, admin_actor
):
    group = make_group(organization, "Team")
    with pytest.raises(CrossOrganizationMember):
        group_apply(group=group, actor=admin_actor, add=[outsider])
    assert _member_ids(group) == set()
