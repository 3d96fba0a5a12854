"""Microsoft Entra ID's documented provisioning traffic, replayed request by request.

Bodies come from Entra's "Develop and plan provisioning for a SCIM endpoint" tutorial
and its "Known issues with SCIM 2.0 protocol compliance" page, which shows what the
provisioning service sends with and without the aadOptscim062020 compliance flag.
"""

from urllib.parse import quote

import pytest

from accounts.models import AuditAction, AuditEvent, Group, User
from tests.provisioning.idp_payloads import (
    ENTERPRISE_SCHEMA,
    ENTRA_CONTENT_TYPE,
    GROUP_SCHEMA,
    PATCH_OP,
    USER_SCHEMA,
    IdpClient,
    assert_list_response,
    assert_scim_content_type,
    assert_scim_error,
    entra_add_enterprise,
    entra_add_members,
    entra_create_group,
    entra_create_user,
    entra_create_user_default_mapping,
    entra_disable_user,
    entra_remove_members,
    entra_rename_group,
    entra_replace_multiple_compliant,
    entra_replace_multiple_legacy,
    entra_set_active_string,
    entra_update_default_mapping,
    entra_update_multi_valued,
    entra_update_user_name,
    normalised,
    user_after_patch,
)

pytestmark = pytest.mark.django_db

ENTRA_USER_NAME = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
ENTRA_EMAIL = "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
ENTRA_EXTERNAL_ID = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"


@pytest.fixture
def entra(scim):
    return IdpClient(scim, content_type=ENTRA_CONTENT_TYPE)


@pytest.fixture
def user(entra):
    response = entra.post("/Users", entra_create_user())
    assert response.status_code == 201, response.content
    return response.json()


def filtered(resource, expression, extra=""):
    return f"/{resource}?{extra}filter={quote(expression)}"


def member_ids(group_id):
    return set(Group.objects.get(pk=group_id).members.values_list("id", flat=True))


# --- Users ----------------------------------------------------------------------------


def test_entra_create_user_with_enterprise_schema_and_meta(entra, organization):
    response = entra.post("/Users", entra_create_user())

    assert response.status_code == 201, response.content
    assert_scim_content_type(response)
    body = response.json()
    assert normalised(body, "User") == {
        "schemas": [USER_SCHEMA],
        "id": body["id"],
        "externalId": ENTRA_EXTERNAL_ID,
        "userName": ENTRA_USER_NAME,
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "active": True,
        "emails": [{"value": ENTRA_EMAIL, "type": "work", "primary": True}],
    }
    assert User.objects.filter(pk=body["id"], organization=organization).exists()


def test_entra_default_attribute_mapping_is_accepted(entra):
    # Core attributes this service does not keep (addresses, phoneNumbers,
    # preferredLanguage) and admin-mapped custom extensions are ignored, not refused:
    # refusing them would fail every user Entra provisions with a phone number.
    created = entra.post("/Users", entra_create_user_default_mapping())

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["userName"], body["title"], body["displayName"]) == (
        "jyoung@contoso.example",
        "Engineer",
        "Joy Young",
    )
    assert body[ENTERPRISE_SCHEMA] == {"department": "Engineering", "employeeNumber": "1234"}
    path = f"/Users/{body['id']}"

    updated = user_after_patch(entra.patch(path, entra_update_default_mapping()))

    assert updated["title"] == "Principal Engineer"
    assert updated[ENTERPRISE_SCHEMA] == body[ENTERPRISE_SCHEMA]
    assert User.objects.get(pk=body["id"]).title == "Principal Engineer"


def test_entra_test_connection_queries_a_random_user_and_group(entra):
    users = entra.get(filtered("Users", 'userName eq "non-existent user"')).json()
    groups = entra.get(
        filtered("Groups", 'displayName eq "non-existent group"', "excludedAttributes=members&")
    ).json()

    assert_list_response(users, total=0, start_index=1, items=0)
    assert_list_response(groups, total=0, start_index=1, items=0)


def test_entra_get_user_by_user_name_query(entra, user):
    body = entra.get(filtered("Users", f'userName eq "{ENTRA_USER_NAME}"')).json()

    assert_list_response(body, total=1, start_index=1, items=1)
    assert normalised(body["Resources"][0], "User") == normalised(user, "User")


def test_entra_matches_on_external_id(entra, user, organization, make_user):
    make_user(organization, external_id="someone-else")

    body = entra.get(filtered("Users", f'externalId eq "{ENTRA_EXTERNAL_ID}"')).json()

    assert_list_response(body, total=1, start_index=1, items=1)
    assert body["Resources"][0]["id"] == user["id"]


def test_entra_queries_users_by_work_email(entra, user):
    body = entra.get(filtered("Users", f'emails[type eq "work"].value eq "{ENTRA_EMAIL}"')).json()

    assert_list_response(body, total=1, start_index=1, items=1)
    assert body["Resources"][0]["id"] == user["id"]


def test_entra_capitalised_replace_with_value_filter_path(entra, user):
    path = f"/Users/{user['id']}"

    body = user_after_patch(entra.patch(path, entra_update_multi_valued()))

    assert body["emails"] == [
        {"value": "updatedEmail@microsoft.com", "type": "work", "primary": True}
    ]
    assert body["name"] == {
        "formatted": "givenName updatedFamilyName",
        "familyName": "updatedFamilyName",
        "givenName": "givenName",
    }
    stored = User.objects.get(pk=user["id"])
    assert (stored.email, stored.family_name) == ("updatedEmail@microsoft.com", "updatedFamilyName")


def test_entra_replaces_user_name(entra, user):
    path = f"/Users/{user['id']}"
    new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"

    body = user_after_patch(entra.patch(path, entra_update_user_name(new_name)))

    assert body["userName"] == new_name
    assert User.objects.get(pk=user["id"]).username == new_name


def test_entra_renaming_to_a_taken_user_name_is_409(entra, user, organization, make_user):
    make_user(organization, "someone@testuser.com")
    path = f"/Users/{user['id']}"

    response = entra.patch(path, entra_update_user_name("SOMEONE@testuser.com"))

    assert_scim_error(response, 409, "uniqueness")
    assert User.objects.get(pk=user["id"]).username == ENTRA_USER_NAME


def test_entra_disable_user_with_capitalised_replace(entra, user):
    path = f"/Users/{user['id']}"

    body = user_after_patch(entra.patch(path, entra_disable_user()))

    assert body["active"] is False
    assert User.objects.get(pk=user["id"]).is_active is False


@pytest.mark.parametrize("value", ["False", "false", "FALSE"])
def test_entra_string_false(entra, user, value):
    path = f"/Users/{user['id']}"

    body = user_after_patch(entra.patch(path, entra_set_active_string(value)))

    assert body["active"] is False
    assert User.objects.get(pk=user["id"]).is_active is False


@pytest.mark.parametrize("value", ["True", "true", "TRUE"])
def test_entra_string_true(entra, user, value):
    path = f"/Users/{user['id']}"
    entra.patch(path, entra_set_active_string("False"))

    body = user_after_patch(entra.patch(path, entra_set_active_string(value)))

    assert body["active"] is True
    assert User.objects.get(pk=user["id"]).is_active is True


def test_entra_string_boolean_that_is_not_a_boolean_is_refused(entra, user):
    path = f"/Users/{user['id']}"

    assert_scim_error(entra.patch(path, entra_set_active_string("Maybe")), 400, "invalidValue")
    assert User.objects.get(pk=user["id"]).is_active is True


def test_entra_pathless_value_with_string_boolean_and_dotted_keys(entra, user):
    path = f"/Users/{user['id']}"
    body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "Replace",
                "value": {"active": "False", "displayName": "Ada King", "name.givenName": "Ada"},
            }
        ],
    }

    resource = user_after_patch(entra.patch(path, body))

    assert (resource["active"], resource["displayName"], resource["name"]["givenName"]) == (
        False,
        "Ada King",
        "Ada",
    )


def test_entra_replace_multiple_attributes_one_op_each(entra, user):
    path = f"/Users/{user['id']}"

    body = user_after_patch(entra.patch(path, entra_replace_multiple_legacy()))

    assert body["displayName"] == "Pvlo"
    assert body["emails"][0]["value"] == "TestBcwqnm@test.microsoft.com"
    assert body["name"]["givenName"] == "Gtfd"
    assert body["name"]["familyName"] == "Pkqf"
    assert body["externalId"] == "Eqpj"
    assert body[ENTERPRISE_SCHEMA]["employeeNumber"] == "Eqpj"
    assert ENTERPRISE_SCHEMA in body["schemas"]


def test_entra_pathless_replace_with_dotted_and_urn_keys(entra, user):
    path = f"/Users/{user['id']}"

    body = user_after_patch(entra.patch(path, entra_replace_multiple_compliant()))

    assert body["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert body["displayName"] == "Bjfe"
    assert (body["name"]["givenName"], body["name"]["familyName"]) == ("Kkom", "Unua")
    assert body[ENTERPRISE_SCHEMA]["employeeNumber"] == "Aklq"
    stored = User.objects.get(pk=user["id"])
    assert (stored.given_name, stored.family_name, stored.display_name) == ("Kkom", "Unua", "Bjfe")


def test_entra_sets_department_by_urn_path(entra, user):
    path = f"/Users/{user['id']}"

    body = user_after_patch(entra.patch(path, entra_add_enterprise("department", "Sales")))

    assert body[ENTERPRISE_SCHEMA]["department"] == "Sales"
    assert entra.get(path).json()[ENTERPRISE_SCHEMA]["department"] == "Sales"


def test_entra_sets_manager_by_urn_path_with_a_bare_id(entra, user, organization, make_user):
    boss = make_user(organization, "boss@testuser.com")
    path = f"/Users/{user['id']}"

    body = user_after_patch(entra.patch(path, entra_add_enterprise("manager", str(boss.id))))

    assert body[ENTERPRISE_SCHEMA]["manager"]["value"] == str(boss.id)


def test_entra_delete_user_then_the_user_name_can_be_provisioned_again(
    entra, user, organization, make_group
):
    stored = User.objects.get(pk=user["id"])
    group = make_group(organization, "Sales", members=[stored])

    response = entra.delete(f"/Users/{user['id']}")

    assert response.status_code == 204, response.content
    assert response.content == b""
    assert_scim_error(entra.get(f"/Users/{user['id']}"), 404)
    assert member_ids(group.id) == set()
    assert AuditEvent.objects.filter(action=AuditAction.USER_DELETED, target_id=user["id"]).exists()
    listed = entra.get(filtered("Users", f'userName eq "{ENTRA_USER_NAME}"')).json()
    assert_list_response(listed, total=0, start_index=1, items=0)

    again = entra.post("/Users", entra_create_user())

    assert again.status_code == 201, again.content
    assert again.json()["id"] != user["id"]


def test_entra_delete_of_an_already_deleted_user_is_404(entra, user):
    entra.delete(f"/Users/{user['id']}")

    assert_scim_error(entra.delete(f"/Users/{user['id']}"), 404)


# --- Groups ---------------------------------------------------------------------------


def test_entra_create_group_with_the_adscim_schema_urn(entra, organization):
    response = entra.post("/Groups", entra_create_group())

    assert response.status_code == 201, response.content
    body = response.json()
    assert normalised(body, "Group") == {
        "schemas": [GROUP_SCHEMA],
        "id": body["id"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
    }
    assert Group.objects.get(pk=body["id"]).organization == organization


def test_entra_get_group_excluding_members(entra, organization, make_user, make_group):
    group = make_group(organization, "displayName", members=[make_user(organization)])

    response = entra.get(f"/Groups/{group.id}?excludedAttributes=members")

    assert response.status_code == 200
    body = response.json()
    assert "members" not in body
    assert (body["id"], body["displayName"]) == (str(group.id), "displayName")


def test_entra_get_group_by_display_name_excluding_members(
    entra, organization, make_user, make_group
):
    group = make_group(organization, "displayName", members=[make_user(organization)])

    body = entra.get(
        filtered("Groups", 'displayName eq "displayName"', "excludedAttributes=members&")
    ).json()

    assert_list_response(body, total=1, start_index=1, items=1)
    assert body["Resources"][0]["id"] == str(group.id)
    assert "members" not in body["Resources"][0]


def test_entra_rename_group_with_capitalised_replace(entra, organization, make_group):
    group = make_group(organization, "displayName")
    path = f"/Groups/{group.id}"
    new_name = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"

    response = entra.patch(path, entra_rename_group(new_name))

    assert response.status_code == 204, response.content
    assert Group.objects.get(pk=group.id).display_name == new_name


def test_entra_add_members_with_null_ref(entra, organization, make_user, make_group):
    group = make_group(organization, "displayName")
    ann, bob = make_user(organization), make_user(organization)

    response = entra.patch(f"/Groups/{group.id}", entra_add_members([ann.id, bob.id]))

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == {ann.id, bob.id}


def test_entra_remove_with_value_list_removes_only_those_listed(
    entra, organization, make_user, make_group
):
    ann, bob, cy = (make_user(organization) for _ in range(3))
    group = make_group(organization, "displayName", members=[ann, bob, cy])

    response = entra.patch(f"/Groups/{group.id}", entra_remove_members([ann.id, cy.id]))

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == {bob.id}


def test_entra_remove_members_without_value_removes_all(entra, organization, make_user, make_group):
    group = make_group(
        organization, "displayName", members=[make_user(organization), make_user(organization)]
    )
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members"}]}

    response = entra.patch(f"/Groups/{group.id}", body)

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == set()
    assert User.objects.filter(organization=organization).count() == 2


def test_entra_delete_group(entra, organization, make_user, make_group):
    member = make_user(organization)
    group = make_group(organization, "displayName", members=[member])

    response = entra.delete(f"/Groups/{group.id}")

    assert response.status_code == 204, response.content
    assert_scim_error(entra.get(f"/Groups/{group.id}"), 404)
    assert User.objects.filter(pk=member.id).exists()


def test_entra_checks_membership_by_group_id_and_member(entra, organization, make_user, make_group):
    # "Requests to determine whether a reference attribute has a certain value are
    # requests about the members attribute" (Entra's group provisioning sequence).
    member, outsider = make_user(organization), make_user(organization)
    group = make_group(organization, "displayName", members=[member])

    def check(user):
        expression = f'id eq "{group.id}" and members.value eq "{user.id}"'
        return entra.get(filtered("Groups", expression, "excludedAttributes=members&")).json()

    found = check(member)
    assert_list_response(found, total=1, start_index=1, items=1)
    assert found["Resources"][0]["id"] == str(group.id)
    assert "members" not in found["Resources"][0]
    assert_list_response(check(outsider), total=0, start_index=1, items=0)


def test_entra_matches_with_eq_and_and(entra, user):
    expression = f'userName eq "{ENTRA_USER_NAME}" and externalId eq "{ENTRA_EXTERNAL_ID}"'

    body = entra.get(filtered("Users", expression)).json()

    assert_list_response(body, total=1, start_index=1, items=1)
    assert body["Resources"][0]["id"] == user["id"]


def test_entra_adds_work_email_by_value_filter_path(entra, organization, make_user):
    # Entra sends "Add" rather than "Replace" for an email it has not sent before.
    bare = make_user(organization, "no-email-user", email="")
    path = f"/Users/{bare.id}"
    body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "joe@contoso.example"}
        ],
    }

    resource = user_after_patch(entra.patch(path, body))

    assert resource["emails"][0]["value"] == "joe@contoso.example"
    assert resource["emails"][0]["type"] == "work"
    assert User.objects.get(pk=bare.id).email == "joe@contoso.example"


def test_entra_removes_manager_by_urn_path(entra, user, organization, make_user):
    boss = make_user(organization, "boss@testuser.com")
    path = f"/Users/{user['id']}"
    entra.patch(path, entra_add_enterprise("manager", str(boss.id)))
    body = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Remove", "path": f"{ENTERPRISE_SCHEMA}:manager"}],
    }

    resource = user_after_patch(entra.patch(path, body))

    assert "manager" not in resource.get(ENTERPRISE_SCHEMA, {})


def test_entra_adding_an_existing_member_again_is_idempotent(
    entra, organization, make_user, make_group
):
    member = make_user(organization)
    group = make_group(organization, "displayName", members=[member])
    events = AuditEvent.objects.count()

    response = entra.patch(f"/Groups/{group.id}", entra_add_members([member.id]))

    assert response.status_code == 204, response.content
    assert member_ids(group.id) == {member.id}
    assert AuditEvent.objects.count() == events
