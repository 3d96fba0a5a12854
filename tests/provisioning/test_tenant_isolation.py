"""One base URL serves every organization: the token decides which, and nothing else can.

Every endpoint and method is tried with another organization's ids, filters that would
widen a query past the tenant condition, and members from another organization; each
must answer as if the foreign data did not exist, and change nothing.
"""

from urllib.parse import quote

import pytest

from accounts.models import Membership
from tests.provisioning.idp_payloads import (
    GROUP_SCHEMA,
    PATCH_OP,
    SEARCH_REQUEST,
    USER_SCHEMA,
    assert_scim_error,
    database_state,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(organization, make_user, make_group):
    ann = make_user(organization, "ann@acme.example", given_name="Ann", external_id="ext-ann")
    bob = make_user(organization, "bob@acme.example", given_name="Bob", external_id="ext-bob")
    group = make_group(organization, "Acme Engineering", members=[ann])
    return {"ann": ann, "bob": bob, "group": group}


@pytest.fixture
def theirs(other_organization, make_user, make_group):
    eve = make_user(
        other_organization, "eve@globex.example", given_name="Eve", external_id="ext-eve"
    )
    # Same userName as one of ours: names are unique per organization only.
    twin = make_user(other_organization, "ann@acme.example", given_name="Ann")
    group = make_group(other_organization, "Globex Engineering", members=[eve])
    return {"eve": eve, "twin": twin, "group": group}


def foreign_path(theirs, resource):
    return (
        f"/{resource}/{theirs['eve'].id}"
        if resource == "Users"
        else f"/Groups/{theirs['group'].id}"
    )


def a_body_for(resource, method, theirs):
    if method == "PATCH":
        return {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "value": {"active": False}}]
            if resource == "Users"
            else [{"op": "replace", "path": "displayName", "value": "Taken over"}],
        }
    if resource == "Users":
        return {"schemas": [USER_SCHEMA], "userName": "eve@globex.example", "active": False}
    return {"schemas": [GROUP_SCHEMA], "displayName": "Taken over", "members": []}


@pytest.mark.parametrize("resource", ["Users", "Groups"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_another_organizations_id_is_404_and_changes_nothing(scim, mine, theirs, resource, method):
    path = foreign_path(theirs, resource)
    before = database_state()

    if method == "GET":
        response = scim.get(path)
    elif method == "DELETE":
        response = scim.delete(path)
    else:
        response = getattr(scim, method.lower())(path, a_body_for(resource, method, theirs))

    assert_scim_error(response, 404)
    assert database_state() == before


@pytest.mark.parametrize("resource", ["Users", "Groups"])
def test_another_organizations_id_with_attributes_is_still_404(scim, mine, theirs, resource):
    path = foreign_path(theirs, resource)

    assert_scim_error(scim.get(path, attributes="id"), 404)
    assert_scim_error(scim.get(path, excludedAttributes="members"), 404)


def test_user_list_shows_only_this_organization(scim, mine, theirs):
    body = scim.get("/Users", count="200").json()

    assert body["totalResults"] == 2
    assert {r["id"] for r in body["Resources"]} == {str(mine["ann"].id), str(mine["bob"].id)}


def test_group_list_shows_only_this_organization(scim, mine, theirs):
    body = scim.get("/Groups", count="200").json()

    assert body["totalResults"] == 1
    assert [r["id"] for r in body["Resources"]] == [str(mine["group"].id)]
    assert [m["value"] for m in body["Resources"][0]["members"]] == [str(mine["ann"].id)]


def test_the_other_organizations_token_cannot_see_ours(other_scim, mine, theirs):
    assert_scim_error(other_scim.get(f"/Users/{mine['ann'].id}"), 404)
    assert_scim_error(other_scim.get(f"/Groups/{mine['group'].id}"), 404)
    listed = other_scim.get("/Users", count="200").json()
    assert {r["id"] for r in listed["Resources"]} == {
        str(theirs["eve"].id),
        str(theirs["twin"].id),
    }


USER_FILTERS = [
    'userName eq "x" or userName pr',
    "userName pr",
    'not (userName eq "x")',
    '(userName eq "x") or (active eq true)',
    '((userName eq "x" or userName pr)) and active eq true',
    'userName eq "eve@globex.example"',
    'userName eq "ann@acme.example"',
    'externalId eq "ext-eve"',
    "externalId pr or not (externalId pr)",
    'emails co "@" or name.givenName eq "Eve"',
    'name.givenName eq "Eve" or name.givenName sw "A"',
    'meta.created gt "2000-01-01T00:00:00Z"',
    'userName ne "nobody"',
    "USERNAME PR OR ACTIVE EQ FALSE",
]


@pytest.mark.parametrize("expression", USER_FILTERS)
def test_user_filters_never_return_another_organizations_users(scim, mine, theirs, expression):
    response = scim.get(f"/Users?count=200&filter={quote(expression)}")

    assert response.status_code == 200, response.content
    body = response.json()
    returned = {r["id"] for r in body.get("Resources", [])}
    assert returned <= {str(mine["ann"].id), str(mine["bob"].id)}, expression
    assert body["totalResults"] == len(returned)


@pytest.mark.parametrize("expression", USER_FILTERS)
def test_user_search_never_returns_another_organizations_users(scim, mine, theirs, expression):
    response = scim.post(
        "/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": expression, "count": 200}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    returned = {r["id"] for r in body.get("Resources", [])}
    assert returned <= {str(mine["ann"].id), str(mine["bob"].id)}, expression
    assert body["totalResults"] == len(returned)


GROUP_FILTERS = [
    'displayName eq "x" or displayName pr',
    'not (displayName eq "x")',
    'displayName eq "Globex Engineering"',
    'displayName co "Engineering"',
    'members.value eq "{eve}"',
    'members.value eq "{eve}" or displayName pr',
]


@pytest.mark.parametrize("expression", GROUP_FILTERS)
def test_group_filters_never_return_another_organizations_groups(scim, mine, theirs, expression):
    expression = expression.format(eve=theirs["eve"].id)

    for response in (
        scim.get(f"/Groups?count=200&filter={quote(expression)}"),
        scim.post(
            "/Groups/.search", {"schemas": [SEARCH_REQUEST], "filter": expression, "count": 200}
        ),
    ):
        assert response.status_code == 200, response.content
        returned = {r["id"] for r in response.json().get("Resources", [])}
        assert returned <= {str(mine["group"].id)}, expression


def test_members_value_filter_finds_our_group_by_our_member(scim, mine, theirs):
    expression = f'members.value eq "{mine["ann"].id}"'

    body = scim.get(f"/Groups?filter={quote(expression)}").json()

    assert [r["id"] for r in body["Resources"]] == [str(mine["group"].id)]


def foreign_member_requests(mine, theirs):
    eve = {"value": str(theirs["eve"].id)}
    ours = f"/Groups/{mine['group'].id}"
    return [
        ("post", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "New", "members": [eve]}),
        (
            "patch",
            ours,
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "members", "value": [eve]}],
            },
        ),
        (
            "patch",
            ours,
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "members", "value": [eve]}],
            },
        ),
        (
            "patch",
            ours,
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": str(mine["bob"].id)}]},
                    {"op": "add", "path": "members", "value": [eve]},
                ],
            },
        ),
        (
            "put",
            ours,
            {"schemas": [GROUP_SCHEMA], "displayName": "Acme Engineering", "members": [eve]},
        ),
    ]


@pytest.mark.parametrize(
    "index", range(5), ids=["post", "patch-add", "patch-replace", "patch-atomic", "put"]
)
def test_foreign_members_are_refused_and_nothing_changes(scim, mine, theirs, index):
    method, path, body = foreign_member_requests(mine, theirs)[index]
    before = database_state()

    response = getattr(scim, method)(path, body)

    assert_scim_error(response, 400, "invalidValue")
    assert database_state() == before


def test_a_console_session_grants_nothing_under_scim(owner_client, mine):
    before = database_state()

    listed = owner_client.get("/scim/v2/Users")
    created = owner_client.post(
        "/scim/v2/Users",
        data={"schemas": [USER_SCHEMA], "userName": "sneaky@acme.example"},
        content_type="application/scim+json",
    )

    assert_scim_error(listed, 401)
    assert_scim_error(created, 401)
    assert database_state() == before


@pytest.mark.parametrize("path", ["/console/", "/admin/"])
def test_a_scim_token_grants_nothing_outside_scim(client, scim_secret, path):
    response = client.get(path, headers={"Authorization": f"Bearer {scim_secret}"})

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_manager_reference_to_another_organization_reveals_nothing(scim, mine, theirs):
    eve = theirs["eve"]
    body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": str(eve.id),
            }
        ],
    }

    response = scim.patch(f"/Users/{mine['ann'].id}", body)
    shown = scim.get(f"/Users/{mine['ann'].id}").content.decode()

    # The manager is stored as the reference the IdP sent; it names nobody here.
    assert response.status_code == 200, response.content
    for secret in (eve.username, eve.given_name, "Globex"):
        assert secret not in response.content.decode()
        assert secret not in shown
    assert_scim_error(scim.get(f"/Users/{eve.id}"), 404)


def test_read_only_groups_in_a_user_put_cannot_join_another_organizations_group(scim, mine, theirs):
    ann = mine["ann"]
    current = scim.get(f"/Users/{ann.id}").json()
    before = sorted(Membership.objects.values_list("group_id", "user_id"))

    response = scim.put(
        f"/Users/{ann.id}", {**current, "groups": [{"value": str(theirs["group"].id)}]}
    )

    # `groups` is read-only on a user (RFC 7643 §4.1.2): ignored, never applied.
    assert response.status_code == 200, response.content
    assert sorted(Membership.objects.values_list("group_id", "user_id")) == before


def test_membership_check_against_another_organizations_group_finds_nothing(scim, mine, theirs):
    expression = f'id eq "{theirs["group"].id}" and members.value eq "{theirs["eve"].id}"'

    body = scim.get(f"/Groups?filter={quote(expression)}").json()

    assert body["totalResults"] == 0
