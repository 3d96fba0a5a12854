"""CyberArk Identity's SCIM provisioning to a custom app, replayed against the real views.

Source: CyberArk, "SCIM API Requirements"
(https://identity-developer.cyberark.com/docs/for-more-information-about-scim-provisioning-redirected):
for SCIM 2.0 it calls `GET /Users?count=1`, `GET /Users?filter=userName eq`,
`GET /Users/<id>`, `POST /Users`, `PUT /Users/<id>` (users are updated by PUT only),
`GET /Groups`, `GET /Groups/<id>`, `POST /Groups`, `PATCH /Groups/<id>`,
`GET /ServiceProviderConfig`, `GET /ResourceTypes/User`, `GET /ResourceTypes/Group` and
`GET /Schemas/<schema_id>`. CyberArk's own SCIM server names its custom attributes
`urn:scim:schemas:extension:custom:2.0`
(https://docs.cyberark.com/Idaptive/Latest/en/Content/Developer/scim-management/scim-endpoints-manage-users.htm);
attributes of a schema Roster does not have are ignored (RFC 7644 §3.3).
"""

import pytest

from tests.provisioning.dialects.conftest import member_ids
from tests.provisioning.idp_payloads import (
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    LIST_RESPONSE,
    PATCH_OP,
    USER_SCHEMA,
    assert_list_response,
)

pytestmark = pytest.mark.django_db

CYBERARK_CUSTOM = "urn:scim:schemas:extension:custom:2.0"


def test_cyberark_probe_is_a_one_user_page(scim, make_user, organization):
    make_user(organization, "a@acme.example")
    make_user(organization, "b@acme.example")

    response = scim.get("/Users", count="1")

    assert response.status_code == 200, response.content
    assert_list_response(response.json(), total=2, start_index=1, items=1)


def test_cyberark_discovery_single_resources(read_back):
    assert read_back("/ServiceProviderConfig")["patch"] == {"supported": True}
    user_type = read_back("/ResourceTypes/User")
    assert (user_type["id"], user_type["endpoint"], user_type["schema"]) == (
        "User",
        "/Users",
        USER_SCHEMA,
    )
    group_type = read_back("/ResourceTypes/Group")
    assert (group_type["id"], group_type["endpoint"], group_type["schema"]) == (
        "Group",
        "/Groups",
        GROUP_SCHEMA,
    )
    for urn in (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA):
        schema = read_back(f"/Schemas/{urn}")
        assert schema["id"] == urn
        assert "schemas" in schema and "attributes" in schema
    assert read_back("/Schemas")["schemas"] == [LIST_RESPONSE]


def cyberark_user(*, active=True, display="Ana Diaz"):
    return {
        "schemas": [USER_SCHEMA, CYBERARK_CUSTOM],
        "userName": "ana.diaz@acme.example",
        "displayName": display,
        "name": {"givenName": "Ana", "familyName": "Diaz"},
        "emails": [{"value": "ana.diaz@acme.example", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "active": active,
        CYBERARK_CUSTOM: {"badge": "42"},
    }


def test_cyberark_user_lifecycle_by_put_only(scim, lookup, read_back):
    assert lookup("/Users", 'userName eq "ana.diaz@acme.example"') == []
    response = scim.post("/Users", cyberark_user())
    assert response.status_code == 201, response.content
    user_id = response.json()["id"]
    assert lookup("/Users", 'userName eq "ana.diaz@acme.example"') == [user_id]

    response = scim.put(f"/Users/{user_id}", cyberark_user(display="Ana M. Diaz"))
    assert response.status_code == 200, response.content
    response = scim.put(f"/Users/{user_id}", cyberark_user(active=False, display="Ana M. Diaz"))
    assert response.status_code == 200, response.content

    user = read_back(f"/Users/{user_id}")
    assert (user["displayName"], user["active"]) == ("Ana M. Diaz", False)
    assert user["phoneNumbers"] == [{"value": "+1 555 0100", "type": "work"}]
    assert CYBERARK_CUSTOM not in user


def test_cyberark_groups_created_then_patched(scim, read_back, make_user, organization):
    member = str(make_user(organization, "m@acme.example").pk)
    response = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Vault Admins"})
    assert response.status_code == 201, response.content
    group_id = response.json()["id"]

    response = scim.patch(
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}],
        },
    )

    assert response.status_code == 204, response.content
    assert member_ids(read_back(f"/Groups/{group_id}")) == {member}
    listed = scim.get("/Groups").json()
    assert [g["id"] for g in listed["Resources"]] == [group_id]
