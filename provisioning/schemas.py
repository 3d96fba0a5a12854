"""The discovery documents (RFC 7643 §5-§7): schemas, resource types, service provider config.

The schemas start from django-scim2's copies of RFC 7643 §8.7 and keep only what this
service stores, so a client reading /Schemas learns exactly what round-trips.
"""

import copy

from django.conf import settings
from django_scim.constants import SchemaURI
from django_scim.schemas import default_schemas_getter

CORE_USER = SchemaURI.USER
CORE_GROUP = SchemaURI.GROUP
ENTERPRISE_USER = SchemaURI.ENTERPRISE_USER
LIST_RESPONSE = SchemaURI.LIST_RESPONSE
SEARCH_REQUEST = SchemaURI.SERACH_REQUEST
PATCH_OP = SchemaURI.PATCH_OP

# Schema id -> the attributes (and sub-attributes) this service keeps.
SUPPORTED = {
    CORE_USER: {
        "userName": None,
        "name": {"formatted", "familyName", "givenName"},
        "displayName": None,
        "title": None,
        "locale": None,
        "active": None,
        "password": None,
        "emails": {"value", "type", "primary"},
        "groups": {"value", "$ref", "display"},
    },
    ENTERPRISE_USER: {
        "employeeNumber": None,
        "costCenter": None,
        "organization": None,
        "division": None,
        "department": None,
        "manager": {"value", "$ref", "displayName"},
    },
    CORE_GROUP: {"displayName": None, "members": {"value", "$ref", "type", "display"}},
}
# What differs from the RFC's reference schema in this service.
OVERRIDES = {
    (CORE_USER, "userName"): {"required": True, "uniqueness": "server", "caseExact": False},
    (CORE_GROUP, "displayName"): {"required": True, "uniqueness": "server"},
    # A user always is active or not: there is no "unassigned" to remove it to.
    (CORE_USER, "active"): {"required": True},
}
MEMBER_DISPLAY = {
    "name": "display",
    "type": "string",
    "multiValued": False,
    "description": "A human-readable name of the member.",
    "required": False,
    "caseExact": False,
    "mutability": "readOnly",
    # Derived from the member, so only returned when asked for with
    # attributes=members.display: a client comparing what it wrote with what it reads
    # back does not see a value it never sent.
    "returned": "request",
    "uniqueness": "none",
}


def public_url(path: str) -> str:
    """An absolute URL under the SCIM base, from PUBLIC_BASE_URL and never from Host."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/scim/v2/{path.lstrip('/')}"


def _trimmed(schema: dict) -> dict:
    kept = SUPPORTED[schema["id"]]
    schema = copy.deepcopy(schema)
    attributes = []
    for attribute in schema["attributes"]:
        name = attribute["name"]
        if name not in kept:
            continue
        attribute.update(OVERRIDES.get((schema["id"], name), {}))
        if kept[name] is not None:
            subs = [s for s in attribute.get("subAttributes", []) if s["name"] in kept[name]]
            names = {s["name"] for s in subs}
            if "display" in kept[name] and "display" not in names:
                subs.append(dict(MEMBER_DISPLAY))
            attribute["subAttributes"] = subs
        attributes.append(attribute)
    schema["attributes"] = attributes
    return schema


SCHEMAS = {s["id"]: _trimmed(s) for s in default_schemas_getter() if s["id"] in SUPPORTED}


def schema_documents() -> list[dict]:
    documents = []
    for schema_id in (CORE_USER, ENTERPRISE_USER, CORE_GROUP):
        document = copy.deepcopy(SCHEMAS[schema_id])
        document["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
        document["meta"] = {
            "resourceType": "Schema",
            "location": public_url(f"Schemas/{schema_id}"),
        }
        documents.append(document)
    return documents


def resource_type_documents() -> list[dict]:
    # RFC 7643 §6: endpoints are relative to the base URL.
    user = {
        "schemas": [SchemaURI.RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": False}],
        "meta": {"resourceType": "ResourceType", "location": public_url("ResourceTypes/User")},
    }
    group = {
        "schemas": [SchemaURI.RESOURCE_TYPE],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": CORE_GROUP,
        "meta": {"resourceType": "ResourceType", "location": public_url("ResourceTypes/Group")},
    }
    return [user, group]


def max_page_size() -> int:
    return settings.SCIM_MAX_PAGE_SIZE


def service_provider_config() -> dict:
    return {
        "schemas": [SchemaURI.SERVICE_PROVIDER_CONFIG],
        "documentationUri": settings.SCIM_DOCUMENTATION_URI or None,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": max_page_size()},
        # Passwords sent by identity providers are accepted and discarded: sign-in is SSO.
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "A provisioning token created for the organization, sent as "
                "'Authorization: Bearer <token>'.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": public_url("ServiceProviderConfig"),
        },
    }
