"""OneLogin's "SCIM Provisioner with SAML" connectors, replayed against the real views.

OneLogin sends whatever JSON template the admin writes, so the shapes vary. Sources:
- OneLogin, "SCIM custom connector" (https://onelogin.service-now.com/kb?id=kb_article_view&sysparm_article=KB0013904):
  v1.1/v2 and core/enterprise connectors, the admin's template, `{$parameters.scimusername}`.
- A published OneLogin template (https://doc.keepnetlabs.com/Next-Generation-Product/modules/company/company-settings/scim-settings/onelogin-scim-integration):
  `"active": "{$user.active}"` (a string boolean), `"id": null`, `"meta": {"resourceType": "User"}`.
- The SCIM 2.0 draft URNs (`urn:scim:schemas:core:2.0`, `urn:scim:schemas:extension:enterprise:2.0`)
  that OneLogin's older connectors and templates carry.
Lookups are `userName eq`, updates full PUTs, group membership PATCH.
"""

import pytest

from accounts.models import User
from tests.provisioning.dialects.conftest import member_ids
from tests.provisioning.idp_payloads import GROUP_SCHEMA, PATCH_OP, scim_error

pytestmark = pytest.mark.django_db

LEGACY_CORE = "urn:scim:schemas:core:2.0"
LEGACY_ENTERPRISE = "urn:scim:schemas:extension:enterprise:2.0"


def onelogin_user(*, active="true", department="Sales", title="Engineer"):
    """A template as OneLogin renders it: string boolean, null id, legacy URNs."""
    return {
        "schemas": [LEGACY_CORE, LEGACY_ENTERPRISE],
        "id": None,
        "meta": {"resourceType": "User"},
        "userName": "kim.lee@acme.example",
        "active": active,
        "name": {"givenName": "Kim", "familyName": "Lee", "formatted": "Kim Lee"},
        "title": title,
        "emails": [{"value": "kim.lee@acme.example", "type": "work", "primary": True}],
        LEGACY_ENTERPRISE: {"department": department},
    }


def test_onelogin_lookup_create_and_put_updates(scim, lookup, read_back):
    assert lookup("/Users", 'userName eq "kim.lee@acme.example"') == []

    response = scim.post("/Users", onelogin_user())
    assert response.status_code == 201, response.content
    user_id = response.json()["id"]
    assert lookup("/Users", 'userName eq "kim.lee@acme.example"') == [user_id]

    response = scim.put(f"/Users/{user_id}", onelogin_user(department="Support", title="Lead"))
    assert response.status_code == 200, response.content

    user = read_back(f"/Users/{user_id}")
    assert user["active"] is True
    assert user["title"] == "Lead"
    assert user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {
        "department": "Support"
    }
    assert user["name"]["givenName"] == "Kim"


@pytest.mark.parametrize("sent, active", [("false", False), ("False", False), ("TRUE", True)])
def test_onelogin_string_booleans_in_a_put(scim, read_back, sent, active):
    user_id = scim.post("/Users", onelogin_user()).json()["id"]

    response = scim.put(f"/Users/{user_id}", onelogin_user(active=sent))

    assert response.status_code == 200, response.content
    assert read_back(f"/Users/{user_id}")["active"] is active
    assert User.objects.get(pk=user_id).is_active is active


@pytest.mark.parametrize("sent", ["yes", "0", "", 1, ["true"]])
def test_onelogin_anything_else_for_a_boolean_is_invalid_value(scim, read_back, sent):
    user_id = scim.post("/Users", onelogin_user()).json()["id"]
    before = read_back(f"/Users/{user_id}")

    scim_error(scim.put(f"/Users/{user_id}", onelogin_user(active=sent)), 400, "invalidValue")

    assert read_back(f"/Users/{user_id}") == before


def test_onelogin_legacy_urn_prefixed_filter(scim, lookup):
    user_id = scim.post("/Users", onelogin_user()).json()["id"]

    assert lookup("/Users", f'{LEGACY_CORE}:userName eq "KIM.LEE@acme.example"') == [user_id]
    assert lookup("/Users", f'{LEGACY_ENTERPRISE}:User:department eq "sales"') == [user_id]


def test_onelogin_group_membership_by_patch(scim, read_back):
    user_id = scim.post("/Users", onelogin_user()).json()["id"]
    response = scim.post("/Groups", {"schemas": [f"{LEGACY_CORE}:Group"], "displayName": "Ops"})
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]

    response = scim.patch(
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
        },
    )
    assert response.status_code == 204, response.content
    assert member_ids(read_back(f"/Groups/{group_id}")) == {user_id}

    response = scim.patch(
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user_id}"]'}],
        },
    )
    assert response.status_code == 204, response.content
    assert member_ids(read_back(f"/Groups/{group_id}")) == set()


def test_onelogin_legacy_group_urn_prefixed_rename(scim, read_back):
    group_id = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Ops"}).json()["id"]

    response = scim.patch(
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "path": f"{LEGACY_CORE}:Group:displayName", "value": "Ops EU"}
            ],
        },
    )

    assert response.status_code == 204, response.content
    assert read_back(f"/Groups/{group_id}")["displayName"] == "Ops EU"
