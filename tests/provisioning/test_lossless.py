"""Regression tests for data that was lost or changed, each with the request that showed it,
and for the meta and version rules (RFC 7643 §3.1)."""

import pytest

from accounts.models import AuditAction, AuditEvent, User
from tests.provisioning.idp_payloads import database_state, scim_error

pytestmark = pytest.mark.django_db

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WORK = {"value": "ann@example.com", "type": "work", "primary": True}


def patch(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def create(scim, **attributes):
    response = scim.post("/Users", {"schemas": [CORE], "userName": "ann", **attributes})
    assert response.status_code == 201, response.content
    return response.json()


def test_replace_of_a_home_email_on_a_user_with_only_a_work_email_is_no_target(scim):
    # RFC 7644 §3.5.2.3: this answered 200 and replaced the work address.
    user = create(scim, emails=[WORK])
    before = database_state()

    response = scim.patch(
        f"/Users/{user['id']}",
        patch({"op": "replace", "path": 'emails[type eq "home"].value', "value": "a@home.example"}),
    )

    scim_error(response, 400, "noTarget")
    assert database_state() == before
    assert scim.get(f"/Users/{user['id']}").json()["emails"] == [WORK]


def test_capitalised_sub_attribute_names_keep_the_email_and_its_primary_flag(scim):
    # RFC 7643 §2.1: this was stored as no email at all, with primary false.
    user = create(scim, emails=[{"Value": "ann@example.com", "Type": "work", "Primary": True}])

    assert user["emails"] == [WORK]
    assert User.objects.get(pk=user["id"]).email == "ann@example.com"


def test_every_email_phone_number_and_address_entra_sends_is_kept(scim):
    # Only one email was kept, and phoneNumbers/addresses were answered 200 and dropped.
    emails = [
        {"value": "ann@example.com", "type": "work", "primary": True},
        {"value": "ann@home.example", "type": "home", "display": "Home"},
    ]
    phones = [{"value": "+47 555 01 234", "type": "mobile"}, {"value": "555-0100", "type": "work"}]
    addresses = [
        {"type": "work", "streetAddress": "1 Main St", "locality": "Oslo", "country": "NO"}
    ]
    extra = {
        "nickName": "Annie",
        "userType": "Employee",
        "preferredLanguage": "nb-NO",
        "timezone": "Europe/Oslo",
        "profileUrl": "https://example.com/ann",
        "ims": [{"value": "ann@xmpp.example", "type": "xmpp"}],
        "photos": [{"value": "https://example.com/ann.png", "type": "photo"}],
        "roles": [{"value": "engineer", "primary": True}],
        "entitlements": [{"value": "vpn"}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
        "name": {"givenName": "Ann", "middleName": "B.", "honorificSuffix": "PhD"},
    }
    user = create(scim, emails=emails, phoneNumbers=phones, addresses=addresses, **extra)

    read = scim.get(f"/Users/{user['id']}").json()
    assert read["emails"] == emails
    assert read["phoneNumbers"] == phones
    assert read["addresses"] == addresses
    for name, value in extra.items():
        if name == "name":
            value = {**value, "formatted": "Ann"}
        assert read[name] == value, name


def test_last_modified_equals_created_on_a_new_user_and_group(scim):
    # RFC 7643 §3.1: they differed by microseconds.
    user = create(scim)
    group = scim.post("/Groups", {"displayName": "Team"}).json()

    assert user["meta"]["lastModified"] == user["meta"]["created"]
    assert group["meta"]["lastModified"] == group["meta"]["created"]
    stored = User.objects.get(pk=user["id"])
    assert stored.updated_at == stored.created_at


def test_a_value_that_is_not_an_address_is_kept_and_not_used_for_sign_in(scim):
    # RFC 7643 §4.1.2 says SHOULD: this was refused with 400 and blocked the whole push.
    emails = [{"value": "not an address", "type": "work", "primary": True}]
    user = create(scim, emails=emails)

    assert scim.get(f"/Users/{user['id']}").json()["emails"] == emails
    assert User.objects.get(pk=user["id"]).email == ""


def test_an_internationalized_address_is_accepted_and_used_for_sign_in(scim):
    # RFC 6531: a non-ASCII local part was refused with 400.
    emails = [{"value": "jörg@exämple.de", "type": "work", "primary": True}]
    user = create(scim, emails=emails)

    assert scim.get(f"/Users/{user['id']}").json()["emails"] == emails
    assert User.objects.get(pk=user["id"]).email == "jörg@exämple.de"


def test_sign_in_uses_the_primary_valid_address(scim):
    user = create(
        scim,
        emails=[
            {"value": "bad", "type": "work", "primary": True},
            {"value": "ann@home.example", "type": "home"},
            {"value": "ann@work.example", "type": "work"},
        ],
    )
    stored = User.objects.get(pk=user["id"])
    assert (stored.email, stored.email_type) == ("ann@work.example", "work")


def test_entra_replace_of_a_work_email_the_user_lacks_adds_it(scim):
    # Entra's default mapping sends replace emails[type eq "work"].value for a user who
    # has no work email and expects it added; RFC 7644 would answer noTarget.
    user = create(scim, emails=[{"value": "ann@home.example", "type": "home"}])

    response = scim.patch(
        f"/Users/{user['id']}",
        patch({"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ann@x.example"}),
    )

    assert response.status_code == 200, response.content
    assert response.json()["emails"] == [
        {"value": "ann@home.example", "type": "home"},
        {"value": "ann@x.example", "type": "work"},
    ]


def test_entra_replace_of_a_mobile_number_the_user_lacks_adds_it(scim):
    user = create(scim)

    response = scim.patch(
        f"/Users/{user['id']}",
        patch({"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "555"}),
    )

    assert response.status_code == 200, response.content
    assert response.json()["phoneNumbers"] == [{"type": "mobile", "value": "555"}]


@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes"])
def test_invalid_attribute_notation_is_invalid_value(scim, parameter):
    user = create(scim)
    for path in (f"/Users/{user['id']}", "/Users"):
        response = scim.get(path, **{parameter: 'emails[type eq "work"]'})
        scim_error(response, 400, "invalidValue")


def test_version_changes_exactly_when_the_user_changes(scim):
    user = create(scim, title="Engineer", emails=[WORK])
    path = f"/Users/{user['id']}"
    body = {"schemas": [CORE], "userName": "ann", "title": "Engineer", "emails": [WORK]}

    same = scim.put(path, body).json()
    changed = scim.put(path, {**body, "title": "Lead"}).json()

    assert same["meta"]["version"] == user["meta"]["version"] == 'W/"1"'
    assert same["meta"]["lastModified"] == user["meta"]["lastModified"]
    assert changed["meta"]["version"] == 'W/"2"'


def test_a_put_that_changes_the_profile_and_deactivates_is_one_version(scim):
    user = create(scim, title="Engineer")
    body = {"schemas": [CORE], "userName": "ann", "title": "Lead", "active": False}

    response = scim.put(f"/Users/{user['id']}", body)

    assert response.status_code == 200, response.content
    assert response.json()["meta"]["version"] == 'W/"2"'
    actions = list(
        AuditEvent.objects.filter(target_id=user["id"])
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        AuditAction.USER_CREATED,
        AuditAction.USER_UPDATED,
        AuditAction.USER_DEACTIVATED,
    ]
