"""The discovery documents (RFC 7643 §5-§7): schemas, resource types, service provider config.

The schemas are built from the attribute table (provisioning.attributes), with the
descriptions of django-scim2's copies of RFC 7643 §8.7, so a client reading /Schemas
learns exactly what round-trips. An organization that declared custom attributes also
has its own extension schema (provisioning.custom_attributes), listed in its /Schemas
and in the User resource type's schemaExtensions: what Okta's "Refresh app attributes"
and Entra's attribute list read.
"""

import copy

from django.conf import settings
from django_scim.constants import SchemaURI
from django_scim.schemas import default_schemas_getter

from provisioning.attributes import (
    CORE_GROUP,
    CORE_USER,
    EXTENSIONS,
    GROUP,
    ROSTER_USER,
    USER,
    Attribute,
    schemas_of,
    sub_attributes,
    top_level,
)
from provisioning.custom_attributes import NO_CUSTOM_ATTRIBUTES, CustomSchema

LIST_RESPONSE = SchemaURI.LIST_RESPONSE
SEARCH_REQUEST = SchemaURI.SERACH_REQUEST
PATCH_OP = SchemaURI.PATCH_OP


def public_url(path: str) -> str:
    """An absolute URL under the SCIM base, from PUBLIC_BASE_URL and never from Host."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/scim/v2/{path.lstrip('/')}"


def _rfc_descriptions() -> dict:
    """(schema, attribute, sub-attribute) -> the description RFC 7643 §8.7 gives it."""
    descriptions = {}
    for schema in default_schemas_getter():
        for attribute in schema.get("attributes", []):
            key = (schema["id"], attribute["name"])
            descriptions[(*key, None)] = attribute.get("description", "")
            for sub in attribute.get("subAttributes", []):
                descriptions[(*key, sub["name"])] = sub.get("description", "")
    return descriptions


def _described(attribute: Attribute, descriptions: dict) -> dict:
    document = {
        "name": attribute.sub or attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": attribute.description
        or descriptions.get((attribute.schema, attribute.name, attribute.sub), attribute.path),
        "required": attribute.required,
        "caseExact": attribute.case_exact,
        "mutability": attribute.mutability,
        "returned": attribute.returned,
        "uniqueness": attribute.uniqueness,
    }
    if attribute.canonical_values:
        document["canonicalValues"] = list(attribute.canonical_values)
    if attribute.reference_types:
        document["referenceTypes"] = list(attribute.reference_types)
    return document


# Schemas RFC 7643 does not define: this service's own extension.
OWN_SCHEMAS = {
    ROSTER_USER: {
        "name": "Roster User",
        "description": "Roster's additions to the User: the SSH public keys for file "
        "transfer that the identity provider manages.",
    }
}


def schema_document(resource: str, schema_id: str) -> dict:
    """The /Schemas entry for one schema: exactly the attributes the table stores."""
    descriptions = _rfc_descriptions()
    about = OWN_SCHEMAS.get(schema_id) or next(
        s for s in default_schemas_getter() if s["id"] == schema_id
    )
    attributes = []
    for attribute in top_level(resource, schema_id):
        if attribute.common:
            continue
        described = _described(attribute, descriptions)
        subs = sub_attributes(attribute)
        if subs:
            described["subAttributes"] = [_described(sub, descriptions) for sub in subs]
        attributes.append(described)
    return {
        "id": schema_id,
        "name": about["name"],
        "description": about["description"],
        "attributes": attributes,
    }


SCHEMAS = {
    schema_id: schema_document(resource, schema_id)
    for resource in (USER, GROUP)
    for schema_id in schemas_of(resource)
}


def custom_schema_document(custom: CustomSchema) -> dict:
    """The organization's extension: one simple attribute per declaration."""
    return {
        "id": custom.urn,
        "name": f"{custom.name} User",
        "description": f"The custom user attributes {custom.name} declared.",
        "attributes": [_described(row, {}) for row in custom.rows],
    }


def schema_documents(custom: CustomSchema = NO_CUSTOM_ATTRIBUTES) -> list[dict]:
    documents = []
    schemas = dict(SCHEMAS)
    if custom.rows:
        schemas[custom.urn] = custom_schema_document(custom)
    for schema_id in schemas:
        document = copy.deepcopy(schemas[schema_id])
        document["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
        document["meta"] = {
            "resourceType": "Schema",
            "location": public_url(f"Schemas/{schema_id}"),
        }
        documents.append(document)
    return documents


def resource_type_documents(custom: CustomSchema = NO_CUSTOM_ATTRIBUTES) -> list[dict]:
    # RFC 7643 §6: endpoints are relative to the base URL.
    extensions = (*EXTENSIONS[USER], custom.urn) if custom.rows else EXTENSIONS[USER]
    user = {
        "schemas": [SchemaURI.RESOURCE_TYPE],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": CORE_USER,
        "schemaExtensions": [{"schema": urn, "required": False} for urn in extensions],
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
