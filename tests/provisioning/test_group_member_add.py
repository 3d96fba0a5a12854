"""PATCH add of members: the rows it writes, and the ids it refuses.

The users named are read in the statement that adds them (on PostgreSQL), so these
compare what is written, and what is refused, with what the service writes for users
looked up beforehand.
"""

import pytest

from accounts.actors import Actor
from accounts.events.models import DirectoryEvent, EventType
from accounts.events.snapshots import group_snapshot, user_snapshot
from accounts.models import AuditAction, AuditEvent, Group, Membership
from provisioning.models import ProvisioningToken
from tests.provisioning.idp_payloads import ERROR_SCHEMA, database_state

pytestmark = pytest.mark.django_db

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ACTOR_FIELDS = ("actor_type", "actor_id", "actor_label", "request_id")
AUDIT_FIELDS = (
    *("organization_id", "action", "target_type", "target_id", "target_label", "changes"),
    *ACTOR_FIELDS,
)
EVENT_FIELDS = (
    *("type", "resource_id", "resource_version", "user_id", "group_id", "data"),
    *ACTOR_FIELDS,
)


def add(*ids, operations=()):
    value = [{"value": str(user_id)} for user_id in ids]
    return {
        "schemas": [PATCH_OP],
        "Operations": [*operations, {"op": "add", "path": "members", "value": value}],
    }


@pytest.fixture
def people(organization, make_user):
    return [make_user(organization, f"member{i}@example.com", given_name=f"M{i}") for i in range(3)]


@pytest.fixture
def group(organization, make_group, people):
    return make_group(organization, "Engineering", members=[people[0]])


def rows_after(model, start: int, fields) -> list[dict]:
    return list(model.objects.filter(id__gt=start).order_by("id").values(*fields))


def last_ids() -> tuple[int, int]:
    audit = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    event = DirectoryEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return audit, event


def test_a_member_add_writes_one_audit_event_and_an_event_per_member_added(
    scim, organization, group, people
):
    audit_start, event_start = last_ids()
    ann, bob, cy = people
    response = scim.patch(
        f"/Groups/{group.pk}", add(bob.pk, ann.pk, cy.pk), headers={"X-Request-ID": "req-add-1"}
    )
    assert response.status_code == 204
    group.refresh_from_db()
    assert (group.version, response["ETag"]) == (2, 'W/"2"')
    token = ProvisioningToken.objects.get(organization=organization)
    actor = Actor.for_token(token_id=token.pk, prefix=token.prefix, label=token.label)
    acted = {
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "request_id": "req-add-1",
    }
    assert rows_after(AuditEvent, audit_start, AUDIT_FIELDS) == [
        {
            "organization_id": organization.pk,
            "action": AuditAction.GROUP_MEMBERS_ADDED,
            "target_type": "group",
            "target_id": str(group.pk),
            "target_label": "Engineering",
            # In the order named; ann was a member already.
            "changes": {"count": 2, "users": [str(bob.pk), str(cy.pk)]},
            **acted,
        }
    ]
    # The group as it is after the change (version, updated_at), each user as stored.
    assert rows_after(DirectoryEvent, event_start, EVENT_FIELDS) == [
        {
            "type": EventType.GROUP_MEMBER_ADDED,
            "resource_id": group.pk,
            "resource_version": 2,
            "user_id": user.pk,
            "group_id": group.pk,
            "data": {"group": group_snapshot(group), "user": user_snapshot(user)},
            **acted,
        }
        for user in (bob, cy)
    ]
    assert set(Membership.objects.filter(group=group).values_list("user_id", flat=True)) == {
        ann.pk,
        bob.pk,
        cy.pk,
    }


def test_a_rename_with_a_member_add_bumps_the_version_once(scim, group, people):
    audit_start, event_start = last_ids()
    rename = {"op": "replace", "path": "displayName", "value": "Platform"}
    response = scim.patch(f"/Groups/{group.pk}", add(people[1].pk, operations=[rename]))
    assert response.status_code == 204
    group.refresh_from_db()
    assert (group.display_name, group.version) == ("Platform", 2)
    assert [a["action"] for a in rows_after(AuditEvent, audit_start, ("action",))] == [
        AuditAction.GROUP_UPDATED,
        AuditAction.GROUP_MEMBERS_ADDED,
    ]
    assert rows_after(DirectoryEvent, event_start, ("type", "resource_version")) == [
        {"type": EventType.GROUP_UPDATED, "resource_version": 2},
        {"type": EventType.GROUP_MEMBER_ADDED, "resource_version": 2},
    ]


def test_adding_only_present_members_writes_nothing(scim, group, people):
    before = database_state()
    _audit_start, event_start = last_ids()
    response = scim.patch(f"/Groups/{group.pk}", add(people[0].pk))
    assert (response.status_code, response["ETag"]) == (204, 'W/"1"')
    assert database_state() == before
    assert not DirectoryEvent.objects.filter(id__gt=event_start).exists()


@pytest.mark.parametrize("named", ["unknown", "malformed", "another organization's", "in capitals"])
def test_an_id_that_names_no_user_here_refuses_the_add_and_changes_nothing(
    scim, organization, other_organization, make_user, group, people, named
):
    bad = {
        "unknown": "00000000-0000-0000-0000-000000000000",
        "malformed": "not-a-uuid",
        "another organization's": str(make_user(other_organization, "spy@globex.example").pk),
        # Ids are compared as the API writes them.
        "in capitals": str(people[2].pk).upper(),
    }[named]
    before = database_state()
    _audit_start, event_start = last_ids()
    response = scim.patch(f"/Groups/{group.pk}", add(people[1].pk, bad))
    assert response.status_code == 400
    assert response.json() == {
        "schemas": [ERROR_SCHEMA],
        "status": "400",
        "scimType": "invalidValue",
        "detail": f"No user with id {bad!r} in this organization.",
    }
    assert database_state() == before
    assert not DirectoryEvent.objects.filter(id__gt=event_start).exists()
    # The same refusal as where the users are looked up before the service runs.
    members = [{"value": str(people[1].pk)}, {"value": bad}]
    created = scim.post("/Groups", {"displayName": "Other", "members": members})
    assert created.json() == response.json()
    assert Group.objects.filter(organization=organization).count() == 1
