"""JumpCloud's Custom SCIM integration, replayed against the real views.

Source: JumpCloud, "Identity Management using a Custom SCIM Integration"
(https://jumpcloud.com/support/provision-and-manage-users-and-groups-in-apps-using-custom-scim-identity-management-integration):
"Test Connection" creates a test user and a test group and deletes both; group renaming
is supported; a group unlinked from the app is left as it is. The PATCH shapes (rename
as a path-less `replace` with `{"displayName": ...}`, `add` of `members` with a value
list, `remove` of `members` with a value list and no filter) are the ones JumpCloud
sends as third-party guides describe them (https://app.uni-moni.com/en/kb/sso-setup-jumpcloud:
"value=[{value:uid}] without an RFC filter"); JumpCloud's own page shows no bodies.
"""

import pytest

from accounts.models import AuditAction, AuditEvent, Group, User
from tests.provisioning.dialects.conftest import member_ids
from tests.provisioning.idp_payloads import GROUP_SCHEMA, PATCH_OP, USER_SCHEMA

pytestmark = pytest.mark.django_db


def jumpcloud_user(user_name, given="Test", family="User"):
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }


def created(response):
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_jumpcloud_test_connection_creates_and_deletes_a_test_user_and_group(scim):
    user_id = created(scim.post("/Users", jumpcloud_user("jc.test@acme.example")))
    group_id = created(
        scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "JumpCloud Test Group"})
    )

    assert scim.delete(f"/Groups/{group_id}").status_code == 204
    assert scim.delete(f"/Users/{user_id}").status_code == 204

    assert scim.get(f"/Groups/{group_id}").status_code == 404
    assert scim.get(f"/Users/{user_id}").status_code == 404
    assert not User.objects.filter(username="jc.test@acme.example").exists()
    assert not Group.objects.filter(display_name="JumpCloud Test Group").exists()


@pytest.fixture
def people(scim):
    return [
        created(scim.post("/Users", jumpcloud_user(f"person{i}@acme.example"))) for i in range(3)
    ]


@pytest.fixture
def group_id(scim):
    return created(scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Engineering"}))


def patch(scim, group_id, *operations):
    response = scim.patch(
        f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": list(operations)}
    )
    assert response.status_code == 204, response.content
    return response


def test_jumpcloud_add_members_with_a_value_list(scim, read_back, people, group_id):
    patch(
        scim,
        group_id,
        {"op": "add", "path": "members", "value": [{"value": p} for p in people]},
    )

    assert member_ids(read_back(f"/Groups/{group_id}")) == set(people)
    for person in people:
        groups = read_back(f"/Users/{person}")["groups"]
        assert [g["value"] for g in groups] == [group_id]


def test_jumpcloud_remove_members_with_a_value_array_and_no_filter(
    scim, read_back, people, group_id
):
    patch(scim, group_id, {"op": "add", "path": "members", "value": [{"value": p} for p in people]})

    patch(scim, group_id, {"op": "remove", "path": "members", "value": [{"value": people[0]}]})

    assert member_ids(read_back(f"/Groups/{group_id}")) == set(people[1:])
    assert read_back(f"/Users/{people[0]}")["groups"] == []


def test_jumpcloud_rename_is_a_pathless_replace_with_display_name(scim, read_back, group_id):
    before = read_back(f"/Groups/{group_id}")["meta"]["version"]

    patch(scim, group_id, {"op": "replace", "value": {"displayName": "Platform Engineering"}})

    group = read_back(f"/Groups/{group_id}")
    assert group["displayName"] == "Platform Engineering"
    assert group["meta"]["version"] != before
    assert Group.objects.get(pk=group_id).display_name == "Platform Engineering"


def test_jumpcloud_rename_and_member_add_in_one_patch_is_one_change(
    scim, read_back, people, group_id
):
    version = Group.objects.get(pk=group_id).version
    events = AuditEvent.objects.filter(target_id=group_id).count()

    patch(
        scim,
        group_id,
        {"op": "replace", "value": {"displayName": "Eng"}},
        {"op": "add", "path": "members", "value": [{"value": people[0]}]},
    )

    assert Group.objects.get(pk=group_id).version == version + 1
    actions = sorted(
        AuditEvent.objects.filter(target_id=group_id)
        .order_by("id")
        .values_list("action", flat=True)[events:]
    )
    assert actions == sorted([AuditAction.GROUP_UPDATED, AuditAction.GROUP_MEMBERS_ADDED])
    group = read_back(f"/Groups/{group_id}")
    assert (group["displayName"], member_ids(group)) == ("Eng", {people[0]})


def test_jumpcloud_removing_someone_not_in_the_group_changes_nothing(
    scim, read_back, people, group_id
):
    version = read_back(f"/Groups/{group_id}")["meta"]["version"]

    patch(scim, group_id, {"op": "remove", "path": "members", "value": [{"value": people[2]}]})

    group = read_back(f"/Groups/{group_id}")
    assert (member_ids(group), group["meta"]["version"]) == (set(), version)
