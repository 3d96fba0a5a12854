"""User PATCH (RFC 7644 §3.5.2): paths, path-less values, vendor forms, atomicity."""

import pytest

from accounts.models import AuditEvent, User

pytestmark = pytest.mark.django_db

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def patch(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


@pytest.fixture
def user(organization, make_user):
    return make_user(
        organization,
        "jane@example.com",
        email="jane@example.com",
        given_name="Jane",
        family_name="Doe",
        title="Engineer",
        enterprise={"department": "R&D"},
    )


def apply(scim, user, *operations):
    response = scim.patch(f"/Users/{user.pk}", patch(*operations))
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    return response.json()


def refused(scim, user, scim_type, *operations):
    before = User.objects.filter(pk=user.pk).values().get()
    events = AuditEvent.objects.count()
    response = scim.patch(f"/Users/{user.pk}", patch(*operations))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["schemas"] == [ERROR] and body["scimType"] == scim_type
    assert User.objects.filter(pk=user.pk).values().get() == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("op", ["replace", "Replace", "REPLACE", "add", "Add"])
def test_ops_are_case_insensitive(scim, user, op):
    apply(scim, user, {"op": op, "path": "title", "value": "Lead"})
    assert user.title == "Lead"


def test_patch_returns_200_with_the_full_resource(scim, user):
    body = apply(scim, user, {"op": "replace", "path": "title", "value": "Lead"})
    assert body["id"] == str(user.pk)
    assert body["userName"] == "jane@example.com"
    assert body["title"] == "Lead"
    assert body["meta"]["version"] == f'W/"{user.version}"'


@pytest.mark.parametrize("active", [False, "False", "false", "FALSE"])
def test_active_as_boolean_or_string(scim, user, active):
    body = apply(scim, user, {"op": "replace", "path": "active", "value": active})
    assert body["active"] is False and user.is_active is False


@pytest.mark.parametrize("active", [True, "True", "true"])
def test_okta_reactivates_with_a_pathless_replace(scim, organization, make_user, active):
    inactive = make_user(organization, is_active=False)
    body = apply(scim, inactive, {"op": "replace", "value": {"active": active}})
    assert body["active"] is True


@pytest.mark.parametrize("active", ["yes", 1, None, "", [True]])
def test_other_active_values_are_400(scim, user, active):
    refused(scim, user, "invalidValue", {"op": "replace", "path": "active", "value": active})


def test_sub_attribute_path(scim, user):
    apply(scim, user, {"op": "replace", "path": "name.givenName", "value": "Janet"})
    assert (user.given_name, user.family_name) == ("Janet", "Doe")


def test_complex_replace_leaves_unnamed_sub_attributes(scim, user):
    apply(scim, user, {"op": "replace", "path": "name", "value": {"familyName": "Smith"}})
    assert (user.given_name, user.family_name) == ("Jane", "Smith")


def test_value_filter_path_on_emails(scim, user):
    body = apply(
        scim,
        user,
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "j@example.org"},
    )
    assert user.email == "j@example.org"
    assert body["emails"] == [{"value": "j@example.org", "type": "work", "primary": True}]


def test_urn_path_for_the_enterprise_extension(scim, user):
    body = apply(scim, user, {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"})
    assert user.enterprise == {"department": "Sales"}
    assert body[ENTERPRISE]["department"] == "Sales"


def test_entra_manager_as_a_bare_id(scim, user):
    apply(scim, user, {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "boss-1"})
    assert user.enterprise["manager"] == {"value": "boss-1"}


def test_pathless_value_with_dotted_and_urn_keys(scim, user):
    apply(
        scim,
        user,
        {
            "op": "Replace",
            "value": {
                "name.familyName": "Roe",
                'emails[type eq "work"].value': "jane.roe@example.com",
                f"{ENTERPRISE}:employeeNumber": "42",
                f"{CORE}:title": "Manager",
                "active": "False",
            },
        },
    )
    assert (user.family_name, user.email, user.title, user.is_active) == (
        "Roe",
        "jane.roe@example.com",
        "Manager",
        False,
    )
    assert user.enterprise == {"department": "R&D", "employeeNumber": "42"}


def test_pathless_value_with_an_extension_object(scim, user):
    apply(scim, user, {"op": "replace", "value": {ENTERPRISE: {"division": "West"}}})
    assert user.enterprise == {"division": "West"}


def test_remove_clears_an_attribute(scim, user):
    body = apply(scim, user, {"op": "remove", "path": "title"})
    assert user.title == "" and "title" not in body


def test_remove_an_enterprise_attribute(scim, user):
    apply(scim, user, {"op": "remove", "path": f"{ENTERPRISE}:department"})
    assert user.enterprise == {}


def test_password_patch_is_accepted_and_dropped(scim, user):
    before = user.password
    body = apply(scim, user, {"op": "replace", "path": "password", "value": "n3w-Passw0rd!"})
    assert "password" not in body
    assert user.password == before


def test_attributes_of_the_schema_that_are_not_kept_are_accepted(scim, user):
    apply(scim, user, {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Oslo"})
    apply(scim, user, {"op": "Add", "path": "preferredLanguage", "value": "nb"})


def test_a_noop_patch_writes_nothing(scim, user):
    version, events = user.version, AuditEvent.objects.count()
    apply(scim, user, {"op": "replace", "path": "title", "value": "Engineer"})
    assert user.version == version
    assert AuditEvent.objects.count() == events


def test_a_later_failing_operation_changes_nothing(scim, user):
    refused(
        scim,
        user,
        "invalidValue",
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "active", "value": "perhaps"},
    )


def test_a_uniqueness_failure_after_other_changes_changes_nothing(
    scim, organization, make_user, user
):
    make_user(organization, "taken@example.com")
    response = scim.patch(
        f"/Users/{user.pk}",
        patch(
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": "userName", "value": "TAKEN@example.com"},
        ),
    )
    assert response.status_code == 409
    user.refresh_from_db()
    assert user.is_active is True and user.username == "jane@example.com"


@pytest.mark.parametrize(
    "operation, scim_type",
    [
        ({"op": "remove"}, "noTarget"),
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "replace", "path": "shoeSize", "value": 44}, "invalidPath"),
        ({"op": "replace", "path": "name..givenName", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "userName", "value": ""}, "invalidValue"),
        ({"op": "replace", "value": "not an object"}, "invalidValue"),
        ({"op": "move", "path": "title", "value": "x"}, "invalidValue"),
        ({"path": "title", "value": "x"}, "invalidSyntax"),
        ("replace", "invalidSyntax"),
    ],
)
def test_bad_operations_are_400(scim, user, operation, scim_type):
    refused(scim, user, scim_type, operation)


@pytest.mark.parametrize(
    "body", [{"schemas": [PATCH_OP]}, {"Operations": []}, {"Operations": {"op": "add"}}]
)
def test_missing_operations_are_400(scim, user, body):
    response = scim.patch(f"/Users/{user.pk}", body)
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


def test_manager_object_is_kept_as_sent(scim, user):
    manager = {"value": "boss-1", "$ref": "https://idp.example/Users/boss-1", "displayName": "Boss"}
    body = apply(scim, user, {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": manager})
    assert body[ENTERPRISE]["manager"] == manager
    apply(scim, user, {"op": "replace", "path": f"{ENTERPRISE}:manager.value", "value": "boss-2"})
    assert user.enterprise["manager"] == {"value": "boss-2"}
    apply(scim, user, {"op": "remove", "path": f"{ENTERPRISE}:manager"})
    assert "manager" not in user.enterprise
