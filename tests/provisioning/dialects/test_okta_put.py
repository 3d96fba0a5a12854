"""Okta group push in PUT mode, replayed against the real views.

Source: Okta, "SCIM 2.0 Protocol Reference"
(https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/), "Create
Groups" and "Update a specific Group membership": integrations built before Okta moved
group updates to PATCH, and custom apps set to push groups with PUT, send the group's
whole state: `members` inside `POST /Groups` and `PUT /Groups/<id>`, so members are added
and removed by difference, and `members: []` empties the group. Okta's user PUT echoes
the read-only `groups` it read; RFC 7643 §4.1.2 makes `groups` read-only, so it is
ignored, never an error.
"""

import pytest

from accounts.models import AuditAction, AuditEvent, Group
from tests.provisioning.dialects.conftest import member_ids
from tests.provisioning.idp_payloads import GROUP_SCHEMA, OKTA_CONTENT_TYPE, OKTA_HEADERS, IdpClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def okta(scim):
    return IdpClient(scim, OKTA_HEADERS, OKTA_CONTENT_TYPE)


@pytest.fixture
def people(organization, make_user):
    return [str(make_user(organization, f"p{i}@acme.example").pk) for i in range(4)]


def group_body(members, name="Okta PUT Group"):
    return {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": m, "display": f"{m}@display"} for m in members],
    }


def test_okta_put_mode_create_with_members(okta, read_back, people):
    response = okta.post("/Groups", group_body(people[:2]))

    assert response.status_code == 201, response.content
    group_id = response.json()["id"]
    assert member_ids(read_back(f"/Groups/{group_id}")) == set(people[:2])


def test_okta_put_mode_adds_and_removes_by_difference(okta, read_back, people):
    group_id = okta.post("/Groups", group_body(people[:3])).json()["id"]
    version = Group.objects.get(pk=group_id).version
    events = AuditEvent.objects.filter(target_id=group_id).count()

    response = okta.put(f"/Groups/{group_id}", group_body([people[1], people[2], people[3]]))

    assert response.status_code == 200, response.content
    group = read_back(f"/Groups/{group_id}")
    assert member_ids(group) == {people[1], people[2], people[3]}
    assert read_back(f"/Users/{people[0]}")["groups"] == []
    assert Group.objects.get(pk=group_id).version == version + 1
    actions = sorted(
        AuditEvent.objects.filter(target_id=group_id)
        .order_by("id")
        .values_list("action", flat=True)[events:]
    )
    assert actions == sorted([AuditAction.GROUP_MEMBERS_ADDED, AuditAction.GROUP_MEMBERS_REMOVED])


def test_okta_put_mode_empty_members_empties_the_group(okta, read_back, people):
    group_id = okta.post("/Groups", group_body(people)).json()["id"]

    response = okta.put(f"/Groups/{group_id}", group_body([]))

    assert response.status_code == 200, response.content
    assert member_ids(read_back(f"/Groups/{group_id}")) == set()


def test_okta_put_mode_same_state_changes_nothing(okta, read_back, people):
    group_id = okta.post("/Groups", group_body(people[:2])).json()["id"]
    before = read_back(f"/Groups/{group_id}")
    events = AuditEvent.objects.count()

    response = okta.put(f"/Groups/{group_id}", group_body(people[:2]))

    assert response.status_code == 200, response.content
    assert read_back(f"/Groups/{group_id}")["meta"]["version"] == before["meta"]["version"]
    assert AuditEvent.objects.count() == events


def test_okta_user_put_carrying_groups_is_ignored(okta, read_back, people):
    group_id = okta.post("/Groups", group_body(people[:1])).json()["id"]
    user = read_back(f"/Users/{people[0]}")
    user["groups"] = [{"value": "00g1emaKYZTWRYYRRTSK", "display": "Some Okta group"}]
    user["displayName"] = "Renamed"

    response = okta.put(f"/Users/{people[0]}", user)

    assert response.status_code == 200, response.content
    user = read_back(f"/Users/{people[0]}")
    assert user["displayName"] == "Renamed"
    assert [g["value"] for g in user["groups"]] == [group_id]
