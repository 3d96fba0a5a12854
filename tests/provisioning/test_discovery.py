"""Discovery endpoints (RFC 7644 §4, RFC 7643 §5-§7)."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ROSTER = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"


def base(path):
    return f"{settings.PUBLIC_BASE_URL}/scim/v2/{path}"


def test_service_provider_config(scim, settings):
    settings.SCIM_MAX_PAGE_SIZE = 150
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["patch"] == {"supported": True}
    assert body["bulk"]["supported"] is False
    assert body["filter"] == {"supported": True, "maxResults": 150}
    assert body["sort"] == {"supported": True}
    assert body["etag"] == {"supported": True}
    assert body["changePassword"] == {"supported": False}
    assert [s["type"] for s in body["authenticationSchemes"]] == ["oauthbearertoken"]
    assert body["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": base("ServiceProviderConfig"),
    }


def test_max_page_size_is_at_least_100():
    assert settings.SCIM_MAX_PAGE_SIZE >= 100


def test_resource_types_list(scim):
    body = scim.get("/ResourceTypes").json()
    assert body["schemas"] == [LIST]
    assert (body["totalResults"], body["itemsPerPage"], body["startIndex"]) == (2, 2, 1)
    by_id = {r["id"]: r for r in body["Resources"]}
    assert by_id["User"]["endpoint"] == "/Users"
    assert by_id["User"]["schema"] == USER
    assert by_id["User"]["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False},
        {"schema": ROSTER, "required": False},
    ]
    assert by_id["Group"]["endpoint"] == "/Groups"
    assert by_id["Group"]["meta"]["location"] == base("ResourceTypes/Group")


def test_single_resource_type(scim):
    assert scim.get("/ResourceTypes/User").json()["id"] == "User"
    response = scim.get("/ResourceTypes/Printer")
    assert response.status_code == 404
    assert response.json()["status"] == "404"


def test_schemas_list_describes_what_is_kept(scim):
    body = scim.get("/Schemas").json()
    assert body["schemas"] == [LIST]
    assert body["totalResults"] == 4
    by_id = {s["id"]: s for s in body["Resources"]}
    assert set(by_id) == {USER, GROUP, ENTERPRISE, ROSTER}
    user_attributes = {a["name"]: a for a in by_id[USER]["attributes"]}
    # The whole core schema of RFC 7643 §4.1 round-trips, so all of it is listed.
    assert list(user_attributes) == [
        "userName", "name", "displayName", "nickName", "profileUrl", "title", "userType",
        "preferredLanguage", "locale", "timezone", "active", "password", "emails",
        "phoneNumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles",
        "x509Certificates",
    ]  # fmt: skip
    assert user_attributes["userName"]["uniqueness"] == "server"
    assert user_attributes["password"]["returned"] == "never"
    assert user_attributes["groups"]["mutability"] == "readOnly"
    members = next(a for a in by_id[GROUP]["attributes"] if a["name"] == "members")
    assert {s["name"] for s in members["subAttributes"]} == {"value", "$ref", "type", "display"}
    assert by_id[USER]["meta"]["location"] == base(f"Schemas/{USER}")


def test_single_schema(scim):
    assert scim.get(f"/Schemas/{ENTERPRISE}").json()["id"] == ENTERPRISE
    assert scim.get("/Schemas/urn:example:nothing").status_code == 404


def test_discovery_needs_a_token(client):
    for path in ("ServiceProviderConfig", "ResourceTypes", "Schemas"):
        assert client.get(f"/scim/v2/{path}").status_code == 401


@pytest.mark.parametrize("path", ["/Bulk", "/Me"])
def test_unsupported_endpoints_are_501_with_a_scim_body(scim, path):
    response = scim.post(path, {})
    assert response.status_code == 501
    assert response.json()["status"] == "501"
