"""Okta's documented provisioning traffic, replayed request by request.

Each test follows one sequence of Okta's "SCIM 2.0 Protocol Reference" with the
documented bodies and Okta's headers; ids are the ones this server issued.
"""

from importlib import import_module
from urllib.parse import quote

import pytest
from django.conf import settings

from accounts.models import ActorType, AuditAction, AuditEvent, Group, Role, User, UserSession
from tests.provisioning.idp_payloads import (
    GROUP_SCHEMA,
    OKTA_CONTENT_TYPE,
    OKTA_HEADERS,
    USER_SCHEMA,
    IdpClient,
    assert_list_response,
    assert_scim_content_type,
    assert_scim_error,
    group_after_patch,
    normalised,
    okta_add_members,
    okta_create_group,
    okta_create_user,
    okta_membership_update,
    okta_password_sync,
    okta_push_now,
    okta_rename_group,
    okta_set_active,
    user_after_patch,
)

pytestmark = pytest.mark.django_db

OKTA_USER = {
    "schemas": [USER_SCHEMA],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User", "formatted": "Test User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "active": True,
}


@pytest.fixture
def okta(scim):
    return IdpClient(scim, OKTA_HEADERS, OKTA_CONTENT_TYPE)


@pytest.fixture
def created(okta):
    response = okta.post("/Users", okta_create_user())
    assert response.status_code == 201, response.content
    return response.json()


def user_filter(user_name):
    """The existence check exactly as Okta encodes it."""
    expression = quote(f'userName eq "{user_name}"')
    return f"/Users?filter={expression}&startIndex=1&count=100"


def member_ids(group_id):
    return set(Group.objects.get(pk=group_id).members.values_list("id", flat=True))


# --- Users ----------------------------------------------------------------------------


def test_okta_test_api_credentials_lists_two_users(okta, organization, make_user):
    for _ in range(3):
        make_user(organization)

    response = okta.get("/Users?startIndex=1&count=2")

    assert response.status_code == 200
    assert_scim_content_type(response)
    assert_list_response(response.json(), total=3, start_index=1, items=2)


def test_okta_existence_check_of_an_unknown_user_is_an_empty_list(okta):
    response = okta.get(user_filter("test.user@okta.local"))

    assert response.status_code == 200
    assert_scim_content_type(response)
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_okta_existence_check_matches_user_name_case_insensitively(okta, organization, make_user):
    user = make_user(organization, "Test.User@okta.local")

    body = okta.get(user_filter("test.user@okta.local")).json()

    assert_list_response(body, total=1, start_index=1, items=1)
    assert body["Resources"][0]["id"] == str(user.id)
    assert body["Resources"][0]["userName"] == "Test.User@okta.local"


def test_okta_create_user_with_password_locale_external_id_and_groups(okta, organization):
    response = okta.post("/Users", okta_create_user())

    assert response.status_code == 201, response.content
    assert_scim_content_type(response)
    body = response.json()
    assert response["Location"] == body["meta"]["location"]
    assert "password" not in body
    assert normalised(body, "User") == {**OKTA_USER, "id": body["id"]}
    user = User.objects.get(pk=body["id"])
    assert user.organization == organization
    assert not user.has_usable_password()
    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED, target_id=str(user.id))
    assert event.actor_type == ActorType.TOKEN


def test_okta_get_user_returns_what_was_created(okta, created):
    response = okta.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    assert_scim_content_type(response)
    assert response["ETag"] == response.json()["meta"]["version"]
    assert normalised(response.json(), "User") == normalised(created, "User")


def test_okta_profile_update_is_get_then_put_echoing_server_fields(okta, created):
    path = f"/Users/{created['id']}"
    current = okta.get(path).json()
    # Okta edits the attributes that changed and sends everything else back,
    # including id, meta, groups, schemas and the password.
    echoed = {**current, "password": "1mz050nq"}
    echoed["name"] = {**current["name"], "givenName": "Another"}

    response = okta.put(path, echoed)

    assert response.status_code == 200, response.content
    assert_scim_content_type(response)
    body = response.json()
    assert "password" not in body
    expected_name = {"givenName": "Another", "familyName": "User", "formatted": "Another User"}
    assert normalised(body, "User") == {**OKTA_USER, "id": created["id"], "name": expected_name}
    user = User.objects.get(pk=created["id"])
    assert (user.given_name, user.username, user.is_active) == (
        "Another",
        "test.user@okta.local",
        True,
    )


def test_okta_put_clears_omitted_attributes_but_not_read_only_groups(okta, created, make_group):
    user = User.objects.get(pk=created["id"])
    group = make_group(user.organization, "Engineering", members=[user])
    path = f"/Users/{created['id']}"
    current = okta.get(path).json()
    assert [g["value"] for g in current["groups"]] == [str(group.id)]
    replacement = {key: value for key, value in current.items() if key != "locale"}
    replacement["groups"] = []

    body = okta.put(path, replacement).json()

    assert "locale" not in normalised(body, "User")
    assert User.objects.get(pk=created["id"]).locale == ""
    # groups is read-only on a User (RFC 7643 §4.1.2): membership changes go through /Groups.
    assert member_ids(group.id) == {user.id}
    assert [g["value"] for g in body["groups"]] == [str(group.id)]


def test_okta_deactivate_pathless_replace(okta, created):
    path = f"/Users/{created['id']}"

    body = user_after_patch(okta.patch(path, okta_set_active(False)))

    assert body["active"] is False
    assert User.objects.get(pk=created["id"]).is_active is False
    retrieved = okta.get(path)
    assert retrieved.status_code == 200
    assert normalised(retrieved.json(), "User") == {
        **OKTA_USER,
        "id": created["id"],
        "active": False,
    }
    # Import and the existence check still see the deactivated user, as inactive.
    listed = okta.get(user_filter("test.user@okta.local")).json()
    assert [(r["id"], r["active"]) for r in listed["Resources"]] == [(created["id"], False)]


def test_okta_deactivation_ends_the_users_signed_in_sessions(
    okta, organization, make_user, client, django_capture_on_commit_callbacks
):
    user = make_user(organization, "signed.in@okta.local", role=Role.ADMIN)
    client.force_login(user, backend="accounts.backends.ConsoleEmailBackend")
    session_key = client.session.session_key
    assert UserSession.objects.filter(user=user).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = okta.patch(f"/Users/{user.id}", okta_set_active(False))

    assert response.status_code == 200
    assert not UserSession.objects.filter(user=user).exists()
    assert not import_module(settings.SESSION_ENGINE).SessionStore().exists(session_key)


def test_okta_reactivate_pathless_replace(okta, created):
    path = f"/Users/{created['id']}"
    okta.patch(path, okta_set_active(False))

    body = user_after_patch(okta.patch(path, okta_set_active(True)))

    assert body["active"] is True
    assert User.objects.get(pk=created["id"]).is_active is True
    actions = list(
        AuditEvent.objects.filter(target_id=created["id"])
        .order_by("occurred_at", "id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == [AuditAction.USER_DEACTIVATED, AuditAction.USER_REACTIVATED]


def test_okta_deactivating_twice_is_idempotent(okta, created):
    path = f"/Users/{created['id']}"
    okta.patch(path, okta_set_active(False))
    events = AuditEvent.objects.count()

    response = okta.patch(path, okta_set_active(False))

    assert response.status_code == 200
    assert AuditEvent.objects.count() == events


def test_okta_password_sync_patch(okta, created):
    path = f"/Users/{created['id']}"

    body = user_after_patch(okta.patch(path, okta_password_sync("n3w-Passw0rd!x")))

    assert "password" not in body
    user = User.objects.get(pk=created["id"])
    assert not user.has_usable_password()
    assert user.is_active is True


def test_okta_put_renaming_to_a_taken_user_name_is_409(okta, created, organization, make_user):
    make_user(organization, "Taken.User@okta.local")
    path = f"/Users/{created['id']}"
    current = okta.get(path).json()

    response = okta.put(path, {**current, "userName": "taken.user@OKTA.local"})

    assert_scim_error(response, 409, "uniqueness")
    assert User.objects.get(pk=created["id"]).username == "test.user@okta.local"


def test_okta_http_header_auth_sends_the_bare_token(client, scim_secret):
    # Okta's "HTTP Header" authentication sends whatever the admin pasted, often
    # the token alone without the Bearer scheme.
    response = client.get(
        "/scim/v2/Users?startIndex=1&count=2",
        headers={**OKTA_HEADERS, "Authorization": scim_secret},
    )

    assert response.status_code == 200, response.content


# --- Groups ---------------------------------------------------------------------------


def test_okta_group_lookup_by_display_name(okta, organization, make_group):
    group = make_group(organization, "Test SCIMv2")
    make_group(organization, "Test SCIMv2 Admins")

    def lookup(name):
        expression = quote(f'displayName eq "{name}"')
        return okta.get(f"/Groups?filter={expression}&startIndex=1&count=100").json()

    found = lookup("Test SCIMv2")
    assert_list_response(found, total=1, start_index=1, items=1)
    assert found["Resources"][0]["id"] == str(group.id)
    assert lookup("test scimv2")["Resources"][0]["id"] == str(group.id)
    assert_list_response(lookup("Nope"), total=0, start_index=1, items=0)


def test_okta_push_group_without_members(okta, organization):
    response = okta.post("/Groups", okta_create_group())

    assert response.status_code == 201, response.content
    assert_scim_content_type(response)
    body = response.json()
    assert response["Location"] == body["meta"]["location"]
    assert normalised(body, "Group") == {
        "schemas": [GROUP_SCHEMA],
        "id": body["id"],
        "displayName": "Test SCIMv2",
    }
    assert Group.objects.get(pk=body["id"]).organization == organization


def test_okta_push_group_with_members(okta, organization, make_user):
    ann, bob = make_user(organization), make_user(organization)
    members = [{"value": str(u.id), "display": u.username} for u in (ann, bob)]

    response = okta.post("/Groups", okta_create_group(members))

    assert response.status_code == 201, response.content
    body = response.json()
    assert {m["value"] for m in body["members"]} == {str(ann.id), str(bob.id)}
    for member in body["members"]:
        assert member.get("type", "User") == "User"
        assert member["$ref"].endswith(f"/scim/v2/Users/{member['value']}")
    assert member_ids(body["id"]) == {ann.id, bob.id}


def test_okta_group_member_add(okta, organization, make_user, make_group):
    ann, bob = make_user(organization), make_user(organization)
    group = make_group(organization, "Test SCIMv2", members=[ann])
    path = f"/Groups/{group.id}"

    response = okta.patch(path, okta_add_members([{"value": str(bob.id), "display": bob.username}]))

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == {ann.id, bob.id}


def test_okta_group_member_remove_by_filtered_path_then_add(
    okta, organization, make_user, make_group
):
    stays, leaves, joins = (make_user(organization) for _ in range(3))
    group = make_group(organization, "Test SCIMv2", members=[stays, leaves])
    path = f"/Groups/{group.id}"
    body = okta_membership_update(remove_id=leaves.id, add_id=joins.id, add_display=joins.username)

    response = okta.patch(path, body)

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == {stays.id, joins.id}
    assert User.objects.filter(pk=leaves.id).exists()


def test_okta_group_rename_pathless_value_with_id(okta, organization, make_user, make_group):
    member = make_user(organization)
    group = make_group(organization, "Test SCIMv2", members=[member])
    path = f"/Groups/{group.id}"

    response = okta.patch(path, okta_rename_group(group.id, "Test SCIMv20"))

    body = group_after_patch(response, okta, path)
    assert body["id"] == str(group.id)
    assert body["displayName"] == "Test SCIMv20"
    assert Group.objects.get(pk=group.id).display_name == "Test SCIMv20"
    assert member_ids(group.id) == {member.id}


def test_okta_group_rename_to_a_taken_name_is_409(okta, organization, make_group):
    make_group(organization, "Sales")
    group = make_group(organization, "Test SCIMv2")

    response = okta.patch(f"/Groups/{group.id}", okta_rename_group(group.id, "SALES"))

    assert_scim_error(response, 409, "uniqueness")
    assert Group.objects.get(pk=group.id).display_name == "Test SCIMv2"


def test_okta_push_now_replaces_the_membership(okta, organization, make_user, make_group):
    kept, dropped, added = (make_user(organization) for _ in range(3))
    group = make_group(organization, "Test SCIMv2", members=[kept, dropped])
    members = [{"value": str(u.id), "display": u.username} for u in (kept, added)]

    response = okta.patch(f"/Groups/{group.id}", okta_push_now(members))

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == {kept.id, added.id}


def test_okta_push_now_with_empty_list_removes_every_member(
    okta, organization, make_user, make_group
):
    group = make_group(organization, "Test SCIMv2", members=[make_user(organization)])

    response = okta.patch(f"/Groups/{group.id}", okta_push_now([]))

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == set()
    assert User.objects.filter(organization=organization).count() == 1


def test_okta_group_delete_sends_content_type_without_body(
    okta, organization, make_user, make_group
):
    member = make_user(organization)
    group = make_group(organization, "Test SCIMv2", members=[member])

    response = okta.delete(f"/Groups/{group.id}")

    assert response.status_code == 204, response.content
    assert response.content == b""
    assert not Group.objects.filter(pk=group.id).exists()
    assert User.objects.filter(pk=member.id, is_active=True).exists()
    assert_scim_error(okta.get(f"/Groups/{group.id}"), 404)


# --- Import ---------------------------------------------------------------------------


def test_okta_import_pages_users_100_at_a_time(okta, organization, other_organization, make_user):
    ids = {str(make_user(organization).id) for _ in range(250)}
    make_user(other_organization)
    seen = []
    start = 1
    pages = []

    while True:
        body = okta.get(f"/Users?startIndex={start}&count=100").json()
        pages.append(body["itemsPerPage"])
        assert_list_response(body, total=250, start_index=start, items=body["itemsPerPage"])
        seen.extend(resource["id"] for resource in body["Resources"])
        start += 100
        if start > body["totalResults"]:
            break

    assert pages == [100, 100, 50]
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == ids


def test_okta_import_pages_groups_100_at_a_time(okta, organization, make_group):
    ids = {str(make_group(organization).id) for _ in range(130)}
    seen = []

    for start in (1, 101):
        body = okta.get(f"/Groups?startIndex={start}&count=100").json()
        assert_list_response(body, total=130, start_index=start, items=100 if start == 1 else 30)
        seen.extend(resource["id"] for resource in body["Resources"])

    assert len(seen) == len(set(seen)) == 130
    assert set(seen) == ids


# --- Custom (App Integration Wizard) apps: every update is a PUT ------------------------


def test_okta_aiw_app_deactivates_by_put(okta, created):
    # Okta: "For any custom app integrations created using the AIW, this request is
    # sent through a PUT method request."
    path = f"/Users/{created['id']}"
    current = okta.get(path).json()

    response = okta.put(path, {**current, "active": False})

    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    assert User.objects.get(pk=created["id"]).is_active is False


def test_okta_aiw_app_updates_group_name_and_members_by_put(
    okta, organization, make_user, make_group
):
    stays, leaves, joins = (make_user(organization) for _ in range(3))
    group = make_group(organization, "Test SCIMv2", members=[stays, leaves])
    path = f"/Groups/{group.id}"
    current = okta.get(path).json()
    members = [{"value": str(u.id), "display": u.username} for u in (stays, joins)]

    response = okta.put(path, {**current, "displayName": "Test SCIMv20", "members": members})

    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Test SCIMv20"
    assert {m["value"] for m in response.json()["members"]} == {str(stays.id), str(joins.id)}
    assert member_ids(group.id) == {stays.id, joins.id}


def test_okta_retried_member_removal_is_a_no_op(okta, organization, make_user, make_group):
    member, gone = make_user(organization), make_user(organization)
    group = make_group(organization, "Test SCIMv2", members=[member])
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": f'members[value eq "{gone.id}"]'}],
    }
    events = AuditEvent.objects.count()

    response = okta.patch(f"/Groups/{group.id}", body)

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == {member.id}
    assert AuditEvent.objects.count() == events
