"""/Groups: create, read, rename, membership changes, replace, delete."""

import pytest
from django.conf import settings

from accounts.models import AuditAction, AuditEvent, Group, Membership, User
from tests.provisioning.idp_payloads import scim_error

pytestmark = pytest.mark.django_db

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def patch(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def member_ids(group):
    return set(Membership.objects.filter(group=group).values_list("user_id", flat=True))


@pytest.fixture
def people(organization, make_user):
    return [make_user(organization, f"person{i}@example.com") for i in range(4)]


def test_create_with_members_returns_201(scim, organization, people):
    response = scim.post(
        "/Groups",
        {
            "schemas": [GROUP],
            "displayName": "Engineering",
            "externalId": "00g1",
            "members": [{"value": str(people[0].pk)}, {"value": str(people[1].pk), "display": "x"}],
        },
    )
    assert response.status_code == 201
    group = Group.objects.get(organization=organization)
    body = response.json()
    location = f"{settings.PUBLIC_BASE_URL}/scim/v2/Groups/{group.pk}"
    assert response["Location"] == location
    assert body == {
        "schemas": [GROUP],
        "id": str(group.pk),
        "externalId": "00g1",
        "displayName": "Engineering",
        "members": [
            {
                "value": str(user.pk),
                "$ref": f"{settings.PUBLIC_BASE_URL}/scim/v2/Users/{user.pk}",
                "type": "User",
            }
            for user in sorted(people[:2], key=lambda u: u.username)
        ],
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": location,
            "version": 'W/"1"',
        },
    }


def test_member_display_is_returned_when_requested(scim, organization, make_user, make_group):
    user = make_user(organization, "ann@example.com", display_name="Ann")
    group = make_group(organization, members=[user])
    body = scim.get(f"/Groups/{group.pk}", attributes="members.display,members.value").json()
    assert body["members"] == [{"value": str(user.pk), "display": "Ann"}]


def test_create_without_members_and_with_entra_schema(scim, organization):
    response = scim.post("/Groups", {"schemas": [GROUP, ENTRA_ADSCIM], "displayName": "Sales"})
    assert response.status_code == 201
    assert response.json()["members"] == []


def test_duplicate_display_name_in_any_case_is_409(scim, organization, make_group):
    make_group(organization, "Sales")
    scim_error(scim.post("/Groups", {"displayName": "SALES"}), 409, "uniqueness")


@pytest.mark.parametrize(
    "members",
    [
        [{"value": "00000000-0000-0000-0000-000000000000"}],
        [{"value": "not-a-uuid"}],
        [{"nope": "x"}],
        "everyone",
    ],
)
def test_create_with_unknown_or_malformed_members_is_400_and_changes_nothing(
    scim, organization, people, members
):
    body = (
        {"displayName": "Broken", "members": [{"value": str(people[0].pk)}, *members]}
        if isinstance(members, list)
        else {"displayName": "Broken", "members": members}
    )
    scim_error(scim.post("/Groups", body), 400, "invalidValue")
    assert not Group.objects.filter(organization=organization).exists()


def test_foreign_members_are_refused(scim, organization, other_organization, make_user):
    foreign = make_user(other_organization, "spy@globex.example")
    scim_error(
        scim.post("/Groups", {"displayName": "G", "members": [{"value": str(foreign.pk)}]}),
        400,
        "invalidValue",
    )
    assert not Group.objects.filter(organization=organization).exists()


def test_missing_display_name_is_400(scim):
    scim_error(scim.post("/Groups", {"schemas": [GROUP]}), 400, "invalidValue")


def test_add_members(scim, organization, make_group, people):
    group = make_group(organization, members=[people[0]])
    response = scim.patch(
        f"/Groups/{group.pk}",
        patch(
            {
                "op": "add",
                "path": "members",
                "value": [{"value": str(people[1].pk)}, {"value": str(people[0].pk)}],
            }
        ),
    )
    assert response.status_code == 204
    assert member_ids(group) == {people[0].pk, people[1].pk}


def test_okta_removes_one_member_per_filtered_path(scim, organization, make_group, people):
    group = make_group(organization, members=people)
    response = scim.patch(
        f"/Groups/{group.pk}",
        patch(
            {"op": "remove", "path": f'members[value eq "{people[0].pk}"]'},
            {"op": "remove", "path": f'members[value eq "{people[1].pk}"]'},
        ),
    )
    assert response.status_code == 204
    assert member_ids(group) == {people[2].pk, people[3].pk}


def test_entra_remove_with_a_value_list_removes_only_those(scim, organization, make_group, people):
    group = make_group(organization, members=people)
    scim.patch(
        f"/Groups/{group.pk}",
        patch({"op": "Remove", "path": "members", "value": [{"value": str(people[3].pk)}]}),
    )
    assert member_ids(group) == {p.pk for p in people[:3]}


def test_remove_members_without_value_removes_all(scim, organization, make_group, people):
    group = make_group(organization, members=people)
    scim.patch(f"/Groups/{group.pk}", patch({"op": "remove", "path": "members"}))
    assert member_ids(group) == set()
    assert User.objects.filter(pk__in=[p.pk for p in people]).count() == 4


def test_removing_a_non_member_is_a_no_op(scim, organization, make_group, people):
    group = make_group(organization, members=people[:1])
    response = scim.patch(
        f"/Groups/{group.pk}",
        patch({"op": "remove", "path": f'members[value eq "{people[2].pk}"]'}),
    )
    assert response.status_code == 204
    assert member_ids(group) == {people[0].pk}


@pytest.mark.parametrize("wanted", [[], [1, 2]])
def test_replace_members_including_empty(scim, organization, make_group, people, wanted):
    group = make_group(organization, members=people[:2])
    scim.patch(
        f"/Groups/{group.pk}",
        patch(
            {
                "op": "replace",
                "path": "members",
                "value": [{"value": str(people[i].pk)} for i in wanted],
            }
        ),
    )
    assert member_ids(group) == {people[i].pk for i in wanted}


def test_rename_by_path(scim, organization, make_group):
    group = make_group(organization, "Old")
    response = scim.patch(
        f"/Groups/{group.pk}", patch({"op": "replace", "path": "displayName", "value": "New"})
    )
    assert response.status_code == 204
    group.refresh_from_db()
    assert group.display_name == "New"
    assert response["ETag"] == f'W/"{group.version}"'


def test_patch_answers_the_group_when_attributes_are_named(scim, organization, make_group, people):
    group = make_group(organization, "Old", members=people[:1])
    body = {"Operations": [{"op": "replace", "path": "displayName", "value": "New"}]}
    response = scim.patch(f"/Groups/{group.pk}?excludedAttributes=members", body)
    assert response.status_code == 200
    assert response.json()["displayName"] == "New"
    assert "members" not in response.json()
    full = scim.patch(f"/Groups/{group.pk}?attributes=displayName,members", body)
    assert full.status_code == 200
    assert full.json()["members"] == [
        {
            "value": str(people[0].pk),
            "$ref": f"{settings.PUBLIC_BASE_URL}/scim/v2/Users/{people[0].pk}",
            "type": "User",
        }
    ]


def test_okta_rename_sends_the_id_along(scim, organization, make_group):
    group = make_group(organization, "Old")
    response = scim.patch(
        f"/Groups/{group.pk}",
        patch({"op": "replace", "value": {"id": str(group.pk), "displayName": "Renamed"}}),
    )
    assert response.status_code == 204
    group.refresh_from_db()
    assert group.display_name == "Renamed"


def test_rename_to_a_taken_name_is_409_and_nothing_changes(scim, organization, make_group, people):
    make_group(organization, "Taken")
    group = make_group(organization, "Mine")
    response = scim.patch(
        f"/Groups/{group.pk}",
        patch(
            {"op": "add", "path": "members", "value": [{"value": str(people[0].pk)}]},
            {"op": "replace", "path": "displayName", "value": "taken"},
        ),
    )
    scim_error(response, 409, "uniqueness")
    group.refresh_from_db()
    assert group.display_name == "Mine"
    assert member_ids(group) == set()


def test_several_operations_apply_in_order_atomically(scim, organization, make_group, people):
    group = make_group(organization, "Team", members=[people[0]])
    response = scim.patch(
        f"/Groups/{group.pk}",
        patch(
            {"op": "add", "path": "members", "value": [{"value": str(people[1].pk)}]},
            {"op": "remove", "path": f'members[value eq "{people[0].pk}"]'},
            {"op": "replace", "path": "externalId", "value": "ext-9"},
        ),
    )
    assert response.status_code == 204
    assert member_ids(group) == {people[1].pk}
    group.refresh_from_db()
    assert group.external_id == "ext-9"


def test_failed_member_add_rolls_back_earlier_operations(scim, organization, make_group, people):
    group = make_group(organization, "Team")
    response = scim.patch(
        f"/Groups/{group.pk}",
        patch(
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {
                "op": "add",
                "path": "members",
                "value": [{"value": "00000000-0000-0000-0000-000000000001"}],
            },
        ),
    )
    scim_error(response, 400, "invalidValue")
    group.refresh_from_db()
    assert group.display_name == "Team"
    assert not AuditEvent.objects.filter(
        action=AuditAction.GROUP_UPDATED, target_id=str(group.pk)
    ).exists()


def test_filtered_member_path_is_only_for_remove(scim, organization, make_group, people):
    group = make_group(organization)
    scim_error(
        scim.patch(
            f"/Groups/{group.pk}",
            patch({"op": "add", "path": f'members[value eq "{people[0].pk}"]'}),
        ),
        400,
        "invalidPath",
    )


def test_put_replaces_name_and_members(scim, organization, make_group, people):
    group = make_group(organization, "Before", members=people[:2], external_id="e1")
    body = scim.put(
        f"/Groups/{group.pk}",
        {"schemas": [GROUP], "displayName": "After", "members": [{"value": str(people[3].pk)}]},
    ).json()
    assert body["displayName"] == "After"
    assert "externalId" not in body
    assert member_ids(group) == {people[3].pk}


def test_delete_keeps_the_users(scim, organization, make_group, people):
    group = make_group(organization, members=people)
    # Okta sends a Content-Type on DELETE without a body.
    response = scim.delete(f"/Groups/{group.pk}", content_type="application/json; charset=utf-8")
    assert response.status_code == 204
    scim_error(scim.get(f"/Groups/{group.pk}"), 404)
    assert User.objects.filter(pk__in=[p.pk for p in people]).count() == 4
    assert AuditEvent.objects.filter(action=AuditAction.GROUP_DELETED).exists()


def test_entra_reads_groups_without_members(scim, organization, make_group, people):
    group = make_group(organization, "Big", members=people)
    single = scim.get(f"/Groups/{group.pk}", excludedAttributes="members").json()
    assert "members" not in single and single["displayName"] == "Big"
    listed = scim.get("/Groups", excludedAttributes="members").json()["Resources"]
    assert "members" not in listed[0]


def test_list_groups_with_paging(scim, organization, make_group):
    for i in range(5):
        make_group(organization, f"G{i}")
    body = scim.get("/Groups", startIndex=2, count=2).json()
    assert (body["totalResults"], body["itemsPerPage"], body["startIndex"]) == (5, 2, 2)
    assert [g["displayName"] for g in body["Resources"]] == ["G1", "G2"]


def test_group_search(scim, organization, make_group):
    make_group(organization, "Alpha")
    make_group(organization, "Beta")
    body = scim.post(
        "/Groups/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'displayName eq "beta"',
            "excludedAttributes": ["members"],
        },
    ).json()
    assert [g["displayName"] for g in body["Resources"]] == ["Beta"]


def test_other_organizations_group_is_404_for_every_method(scim, other_organization, make_group):
    foreign = make_group(other_organization, "Theirs")
    path = f"/Groups/{foreign.pk}"
    scim_error(scim.get(path), 404)
    scim_error(scim.put(path, {"displayName": "Mine"}), 404)
    scim_error(
        scim.patch(path, patch({"op": "replace", "path": "displayName", "value": "Mine"})), 404
    )
    scim_error(scim.delete(path), 404)
    foreign.refresh_from_db()
    assert foreign.display_name == "Theirs"


def test_a_group_patch_of_several_operations_is_one_change(scim, organization, make_user):
    ann, bob, cy = (make_user(organization) for _ in range(3))
    group = scim.post(
        "/Groups", {"displayName": "Team", "members": [{"value": str(ann.pk)}]}
    ).json()
    events = AuditEvent.objects.count()

    response = scim.patch(
        f"/Groups/{group['id']}",
        patch(
            {"op": "replace", "path": "displayName", "value": "Team 2"},
            {"op": "add", "path": "members", "value": [{"value": str(bob.pk)}]},
            {"op": "add", "path": "members", "value": [{"value": str(cy.pk)}]},
            {"op": "remove", "path": f'members[value eq "{ann.pk}"]'},
        ),
    )

    assert response.status_code == 204, response.content
    assert response["ETag"] == 'W/"2"'
    assert Group.objects.get(pk=group["id"]).version == 2
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True)[events:])
    assert actions == [
        AuditAction.GROUP_UPDATED,
        AuditAction.GROUP_MEMBERS_ADDED,
        AuditAction.GROUP_MEMBERS_REMOVED,
    ]
