"""Requests identity providers send, recorded from their public documentation, and the
checks every SCIM response must pass.

Okta: "SCIM 2.0 Protocol Reference" (developer.okta.com/docs/reference/scim/scim-20/).
Microsoft Entra ID: "Tutorial: Develop and plan provisioning for a SCIM endpoint" and
"Known issues with SCIM 2.0 protocol compliance" (learn.microsoft.com, app-provisioning).
Bodies are as documented; only the server-issued ids are filled in by the tests.
"""

import copy
from datetime import datetime

from django.conf import settings

from accounts.models import AuditEvent, Group, Membership, User

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
# Entra's group schema URN, sent alongside the core one on group creation.
ENTRA_ADSCIM_GROUP_SCHEMA = (
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
)

SCIM_JSON = "application/scim+json"
OKTA_HEADERS = {"User-Agent": "Okta SCIM Client 1.0.0"}
OKTA_CONTENT_TYPE = "application/json; charset=utf-8"
ENTRA_CONTENT_TYPE = "application/scim+json"


class IdpClient:
    """A ScimClient that sends one vendor's headers and content type on every request."""

    def __init__(self, scim, headers=None, content_type=SCIM_JSON):
        self.scim = scim
        self.headers = headers or {}
        self.content_type = content_type

    def get(self, path, **params):
        return self.scim.get(path, headers=self.headers, **params)

    def post(self, path, body):
        return self.scim.post(path, body, self.headers, self.content_type)

    def put(self, path, body):
        return self.scim.put(path, body, self.headers, self.content_type)

    def patch(self, path, body):
        return self.scim.patch(path, body, self.headers, self.content_type)

    def delete(self, path):
        return self.scim.delete(path, self.headers, self.content_type)


# --- Okta -----------------------------------------------------------------------------


def okta_create_user():
    """Okta "Create the User" (POST /Users), with password, locale, externalId and groups."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def okta_set_active(active):
    """Okta deactivation / reactivation: a path-less replace with a value object."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": active}}],
    }


def okta_password_sync(password):
    """Okta "Sync password": a path-less replace carrying the new password."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"password": password}}],
    }


def okta_create_group(members=()):
    """Okta "Create Groups" (Push Groups)."""
    return {"schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2", "members": list(members)}


def okta_rename_group(group_id, display_name):
    """Okta group rename: path-less replace whose value carries the group id too."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "value": {"id": str(group_id), "displayName": display_name}}
        ],
    }


def okta_membership_update(*, remove_id, add_id, add_display):
    """Okta "Update specific Group membership": a filtered remove then an add."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "remove", "path": f'members[value eq "{remove_id}"]'},
            {
                "op": "add",
                "path": "members",
                "value": [{"value": str(add_id), "display": add_display}],
            },
        ],
    }


def okta_add_members(members):
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": list(members)}],
    }


def okta_push_now(members):
    """Okta "Push now": replace the whole membership, possibly with []."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "members", "value": list(members)}],
    }


# --- Microsoft Entra ID ---------------------------------------------------------------


def entra_create_user():
    """Entra "Create User" request."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": True,
        "emails": [
            {
                "primary": True,
                "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
            }
        ],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
    }


def entra_create_user_default_mapping():
    """What Entra's default attribute mappings send for a new user: addresses, phone
    numbers and preferredLanguage ride along, plus any custom extension an admin mapped."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": "jyoung",
        "userName": "jyoung@contoso.example",
        "active": True,
        "addresses": [
            {
                "primary": True,
                "type": "work",
                "country": "US",
                "formatted": "1 Microsoft Way, Redmond, WA 98052",
                "locality": "Redmond",
                "postalCode": "98052",
                "region": "WA",
                "streetAddress": "1 Microsoft Way",
            }
        ],
        "displayName": "Joy Young",
        "emails": [{"primary": True, "type": "work", "value": "jyoung@contoso.example"}],
        "meta": {"resourceType": "User"},
        "name": {"familyName": "Young", "givenName": "Joy"},
        "phoneNumbers": [
            {"type": "work", "value": "+1 425 555 0100"},
            {"type": "mobile", "value": "+1 425 555 0101"},
        ],
        "preferredLanguage": "en-US",
        "title": "Engineer",
        ENTERPRISE_SCHEMA: {"department": "Engineering", "employeeNumber": "1234"},
        "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"worksiteId": "180"},
    }


def entra_update_default_mapping():
    """Entra's default mappings update attributes this service does not keep, too."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 425 555 0199"},
            {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Seattle"},
            {"op": "Replace", "path": "preferredLanguage", "value": "de-DE"},
            {"op": "Replace", "path": "title", "value": "Principal Engineer"},
            {
                "op": "Replace",
                "path": "urn:ietf:params:scim:schemas:extension:custom:2.0:User:worksiteId",
                "value": "181",
            },
        ],
    }


def entra_update_multi_valued():
    """Entra "Update User [Multi-valued properties]": capitalised ops, value-filter path."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "updatedEmail@microsoft.com",
            },
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        ],
    }


def entra_update_user_name(user_name):
    """Entra "Update User [Single-valued properties]"."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "userName", "value": user_name}],
    }


def entra_disable_user():
    """Entra "Disable User" (SCIM job): capitalised op, boolean value."""
    return {
        "Operations": [{"op": "Replace", "path": "active", "value": False}],
        "schemas": [PATCH_OP],
    }


def entra_set_active_string(value):
    """Entra without the aadOptscim062020 flag: the boolean arrives as a string ("False")."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "active", "value": value}],
    }


def entra_replace_multiple_legacy():
    """Entra "Requests to replace multiple attributes", without the compliance flag."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "TestBcwqnm@test.microsoft.com",
            },
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": f"{ENTERPRISE_SCHEMA}:employeeNumber", "value": "Eqpj"},
        ],
    }


def entra_replace_multiple_compliant():
    """Entra "Requests to replace multiple attributes" with the flag: dotted path-less keys."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "replace",
                "path": 'emails[type eq "work"].value',
                "value": "TestMhvaes@test.microsoft.com",
            },
            {
                "op": "replace",
                "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    f"{ENTERPRISE_SCHEMA}:employeeNumber": "Aklq",
                },
            },
        ],
    }


def entra_add_enterprise(attribute, value):
    """Entra sets enterprise attributes by URN path; the manager arrives as a bare id."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": f"{ENTERPRISE_SCHEMA}:{attribute}", "value": value}],
    }


def entra_create_group():
    """Entra "Create Group": the ADSCIM schema URN next to the core one, no members."""
    return {
        "schemas": [GROUP_SCHEMA, ENTRA_ADSCIM_GROUP_SCHEMA],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }


def entra_rename_group(display_name):
    """Entra "Update Group [Non-member attributes]"."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "displayName", "value": display_name}],
    }


def entra_add_members(user_ids):
    """Entra "Update Group [Add Members]": `$ref` sent as null."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": str(user_id)} for user_id in user_ids],
            }
        ],
    }


def entra_remove_members(user_ids):
    """Entra "Update Group [Remove Members]": path `members` plus the list to remove."""
    return {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "Remove",
                "path": "members",
                "value": [{"$ref": None, "value": str(user_id)} for user_id in user_ids],
            }
        ],
    }


# --- What every response must look like -----------------------------------------------


def assert_scim_content_type(response):
    assert response["Content-Type"].split(";")[0].strip() == SCIM_JSON, response["Content-Type"]


def assert_scim_error(response, status, scim_types=None):
    """RFC 7644 §3.12: Error schema, `status` as a string, a detail, and a scimType when given.

    `scim_types` is one scimType, or a set when the RFC leaves the choice open.
    """
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert_scim_content_type(response)
    body = response.json()
    assert ERROR_SCHEMA in body["schemas"], body
    assert body["status"] == str(status), body
    assert isinstance(body.get("detail"), str), body
    assert body["detail"].strip(), body
    if scim_types is not None:
        allowed = {scim_types} if isinstance(scim_types, str) else set(scim_types)
        assert body.get("scimType") in allowed, body
    return body


def assert_list_response(body, *, total, start_index, items):
    """A ListResponse whose counters are integers (Okta rejects strings and floats)."""
    assert body["schemas"] == [LIST_RESPONSE], body
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(body[key]) is int, (key, body[key])
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (
        total,
        start_index,
        items,
    ), body
    assert len(body.get("Resources", [])) == items, body


def user_after_patch(response):
    """A user PATCH answers 200 with the whole user (RFC 7644 §3.5.2)."""
    assert response.status_code == 200, (response.status_code, response.content[:500])
    assert_scim_content_type(response)
    return response.json()


def group_after_patch(response, client, path):
    """A group PATCH answers 204 without a body; the group is read back with a GET."""
    assert response.status_code == 204, (response.status_code, response.content[:500])
    assert response.content == b""
    response = client.get(path)
    assert response.status_code == 200, response.content
    assert_scim_content_type(response)
    return response.json()


def _iso(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def normalised(resource, resource_type):
    """The resource with server-chosen values checked, then replaced by placeholders.

    Unassigned attributes, null and empty values are one and the same state
    (RFC 7643 §2.5), so they are dropped before comparing whole bodies.
    """
    resource = copy.deepcopy(resource)
    meta = resource.pop("meta")
    assert meta["resourceType"] == resource_type, meta
    _iso(meta["created"])
    _iso(meta["lastModified"])
    assert meta["location"] == (
        f"{settings.PUBLIC_BASE_URL.rstrip('/')}/scim/v2/{resource_type}s/{resource['id']}"
    ), meta
    assert isinstance(meta["version"], str) and meta["version"], meta
    body = _drop_empty(resource)
    if resource_type == "User" and ENTERPRISE_SCHEMA not in body:
        body["schemas"] = [s for s in body["schemas"] if s != ENTERPRISE_SCHEMA]
    return body


def _drop_empty(value):
    if isinstance(value, dict):
        cleaned = {key: _drop_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        return [_drop_empty(item) for item in value]
    return value


def scim_error(response, status, scim_type=None):
    """An RFC 7644 §3.12 error with exactly this status and scimType (None: no scimType)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA] and body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def database_state():
    """Every row a SCIM request could touch, plus how many audit events exist."""
    return (
        list(User.objects.order_by("id").values()),
        list(Group.objects.order_by("id").values()),
        sorted(Membership.objects.values_list("group_id", "user_id")),
        AuditEvent.objects.count(),
    )
