"""Every user, group and membership service writes exactly its directory events."""

import pytest
from django.db import transaction

from accounts.events.models import DirectoryEvent, EventType
from accounts.services import (
    group_delete,
    group_members_add,
    group_members_clear,
    group_members_remove,
    group_members_replace,
    group_update,
    user_deactivate,
    user_delete,
    user_reactivate,
    user_set_password,
    user_set_role,
    user_update,
)

pytestmark = pytest.mark.django_db


def events_after(start_id=0):
    return list(DirectoryEvent.objects.filter(id__gt=start_id).order_by("id"))


def last_id():
    return DirectoryEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def summary(events):
    return [
        (event.type, event.resource_id, event.resource_version, event.data.get("changes"))
        for event in events
    ]


def test_user_create_writes_user_created_with_snapshot(organization, make_user):
    user = make_user(organization, "ann@acme.example", external_id="okta-1")
    [event] = events_after()
    assert summary([event]) == [(EventType.USER_CREATED, user.pk, 1, None)]
    assert event.organization_id == organization.pk
    assert event.user_id == user.pk and event.group_id is None
    assert event.actor_type == "system" and event.actor_label == "tests"
    assert event.data["user"]["username"] == "ann@acme.example"
    assert event.data["user"]["external_id"] == "okta-1"
    assert event.data["user"]["active"] is True
    assert event.data["user"]["id"] == str(user.pk)


def test_user_update_writes_changed_fields(organization, make_user, system_actor):
    user = make_user(organization)
    start = last_id()
    user_update(user=user, actor=system_actor, given_name="Ann", title="CFO")
    assert summary(events_after(start)) == [
        (EventType.USER_UPDATED, user.pk, 2, ["given_name", "title"])
    ]


def test_user_update_without_change_writes_nothing(organization, make_user, system_actor):
    user = make_user(organization, given_name="Ann")
    start = last_id()
    user_update(user=user, actor=system_actor, given_name="Ann")
    assert events_after(start) == []


def test_deactivate_and_reactivate_write_one_event_each(organization, make_user, system_actor):
    user = make_user(organization)
    start = last_id()
    user_deactivate(user=user, actor=system_actor)
    user_deactivate(user=user, actor=system_actor)
    user_reactivate(user=user, actor=system_actor)
    user_reactivate(user=user, actor=system_actor)
    events = events_after(start)
    assert summary(events) == [
        (EventType.USER_DEACTIVATED, user.pk, 2, None),
        (EventType.USER_REACTIVATED, user.pk, 3, None),
    ]
    assert [event.data["user"]["active"] for event in events] == [False, True]


def test_role_change_is_a_user_update(organization, make_user, system_actor):
    user = make_user(organization)
    start = last_id()
    user_set_role(user=user, role="admin", actor=system_actor)
    assert summary(events_after(start)) == [(EventType.USER_UPDATED, user.pk, 2, ["role"])]


def test_password_change_is_not_a_directory_event(organization, make_user, system_actor):
    user = make_user(organization)
    start = last_id()
    user_set_password(user=user, password="another-long-password-1", actor=system_actor)
    assert events_after(start) == []


def test_user_delete_writes_user_deleted_with_a_newer_version(
    organization, make_user, system_actor
):
    user = make_user(organization, "bob@acme.example")
    user_id = user.pk
    start = last_id()
    user_delete(user=user, actor=system_actor)
    [event] = events_after(start)
    assert summary([event]) == [(EventType.USER_DELETED, user_id, 2, None)]
    assert event.data["user"]["username"] == "bob@acme.example"


def test_group_create_with_members_writes_one_event_per_member(organization, make_user, make_group):
    ann, bob = make_user(organization), make_user(organization)
    start = last_id()
    group = make_group(organization, "Finance", members=[ann, bob])
    events = events_after(start)
    assert summary(events) == [
        (EventType.GROUP_CREATED, group.pk, 1, None),
        (EventType.GROUP_MEMBER_ADDED, group.pk, 1, None),
        (EventType.GROUP_MEMBER_ADDED, group.pk, 1, None),
    ]
    assert {event.user_id for event in events[1:]} == {ann.pk, bob.pk}
    assert all(event.group_id == group.pk for event in events)
    assert events[1].data["group"]["display_name"] == "Finance"
    assert events[1].data["user"]["id"] == str(events[1].user_id)


def test_group_update_writes_changed_fields(organization, make_group, system_actor):
    group = make_group(organization, "Finance")
    start = last_id()
    group_update(group=group, display_name="Finance", actor=system_actor)
    group_update(group=group, display_name="Money", external_id="x-1", actor=system_actor)
    assert summary(events_after(start)) == [
        (EventType.GROUP_UPDATED, group.pk, 2, ["display_name", "external_id"])
    ]


def test_group_delete_writes_group_deleted(organization, make_group, system_actor):
    group = make_group(organization, "Finance")
    group_id = group.pk
    start = last_id()
    group_delete(group=group, actor=system_actor)
    assert summary(events_after(start)) == [(EventType.GROUP_DELETED, group_id, 2, None)]


def test_member_add_and_remove_write_one_event_per_real_change(
    organization, make_user, make_group, system_actor
):
    ann, bob = make_user(organization), make_user(organization)
    group = make_group(organization, members=[ann])
    start = last_id()
    group_members_add(group=group, users=[ann, bob], actor=system_actor)
    group_members_remove(group=group, users=[ann], actor=system_actor)
    group_members_remove(group=group, users=[ann], actor=system_actor)
    events = events_after(start)
    assert [(event.type, event.user_id, event.resource_version) for event in events] == [
        (EventType.GROUP_MEMBER_ADDED, bob.pk, 2),
        (EventType.GROUP_MEMBER_REMOVED, ann.pk, 3),
    ]


def test_member_replace_writes_removals_and_additions(
    organization, make_user, make_group, system_actor
):
    ann, bob, cy = (make_user(organization) for _ in range(3))
    group = make_group(organization, members=[ann, bob])
    start = last_id()
    group_members_replace(group=group, users=[bob, cy], actor=system_actor)
    group_members_replace(group=group, users=[bob, cy], actor=system_actor)
    events = events_after(start)
    assert sorted((event.type, event.user_id) for event in events) == sorted(
        [(EventType.GROUP_MEMBER_REMOVED, ann.pk), (EventType.GROUP_MEMBER_ADDED, cy.pk)]
    )
    assert {event.resource_version for event in events} == {2}


def test_member_clear_writes_one_removal_per_member(
    organization, make_user, make_group, system_actor
):
    ann, bob = make_user(organization), make_user(organization)
    group = make_group(organization, members=[ann, bob])
    start = last_id()
    group_members_clear(group=group, actor=system_actor)
    group_members_clear(group=group, actor=system_actor)
    assert sorted(event.user_id for event in events_after(start)) == sorted([ann.pk, bob.pk])


def test_rolled_back_change_leaves_no_event(organization, make_user, system_actor):
    user = make_user(organization)
    start = last_id()
    with pytest.raises(RuntimeError), transaction.atomic():
        user_update(user=user, actor=system_actor, given_name="Changed")
        raise RuntimeError("the request failed after the service ran")
    assert events_after(start) == []


def test_events_carry_the_request_id(organization, make_user):
    from config.request_context import request_id_var

    token = request_id_var.set("req-123")
    try:
        make_user(organization)
    finally:
        request_id_var.reset(token)
    assert events_after()[-1].request_id == "req-123"


def test_switching_events_off_writes_none(organization, make_user, settings):
    settings.DIRECTORY_EVENTS_ENABLED = False
    make_user(organization)
    assert events_after() == []
