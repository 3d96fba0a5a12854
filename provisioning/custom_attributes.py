"""An organization's custom user attributes as SCIM sees them.

Each organization has its own extension schema,
`urn:ietf:params:scim:schemas:extension:<slug>:2.0:User`, holding the attributes its
owners declared (accounts.custom_attributes). Its rows have the attribute table's
shape (provisioning.attributes.Attribute, stored CUSTOM), so /Schemas, the reader, the
writer and the filters describe them as they describe every other attribute. A
declared attribute is also accepted in the core namespace: that is where Okta's Profile
Editor sends an attribute by default (docs/okta.md); names never clash with the
core's, since declaring one of those is refused.
"""

import functools
from dataclasses import dataclass

from accounts.custom_attributes import Declared, declared_attributes
from accounts.models import CustomAttributeType, Organization
from provisioning.attributes import (
    BOOLEAN,
    CUSTOM,
    CUSTOM_FILTER,
    DATETIME,
    INTEGER,
    REFERENCE,
    STRING,
    USER,
    Attribute,
)

SCIM_TYPES = {
    CustomAttributeType.STRING: STRING,
    CustomAttributeType.BOOLEAN: BOOLEAN,
    CustomAttributeType.INTEGER: INTEGER,
    CustomAttributeType.DATETIME: DATETIME,
    CustomAttributeType.REFERENCE: REFERENCE,
}


def extension_urn(slug: str) -> str:
    return f"urn:ietf:params:scim:schemas:extension:{slug}:2.0:User"


def _row(urn: str, declared: Declared) -> Attribute:
    return Attribute(
        USER,
        urn,
        declared.name,
        type=SCIM_TYPES[declared.type],
        multi_valued=declared.multi_valued,
        case_exact=declared.case_exact,
        reference_types=("external",) if declared.type == CustomAttributeType.REFERENCE else (),
        stored=CUSTOM,
        field=declared.name,
        filter=CUSTOM_FILTER if declared.indexed else None,
        description=declared.description or f"{declared.name}, declared by the organization.",
    )


@dataclass(frozen=True)
class CustomSchema:
    """The organization's extension: its URN and one row per declared attribute."""

    urn: str
    name: str
    declared: tuple[Declared, ...]
    rows: tuple[Attribute, ...]

    def owns(self, urn: str | None) -> bool:
        return urn is not None and urn.lower() == self.urn.lower()

    def attribute(self, name: str) -> Attribute | None:
        lowered = name.lower()
        return next((row for row in self.rows if row.name.lower() == lowered), None)

    def declaration(self, attribute: Attribute) -> Declared:
        return next(d for d in self.declared if d.name == attribute.name)

    def values_of(self, stored: dict | None) -> dict:
        """{row: value} of the stored values, declared ones only, in declared order."""
        stored = stored or {}
        return {row: stored[row.name] for row in self.rows if stored.get(row.name) is not None}


NO_CUSTOM_ATTRIBUTES = CustomSchema(urn="", name="", declared=(), rows=())


def custom_schema(organization: Organization | None) -> CustomSchema:
    """The organization's extension; no query once its declarations are parsed."""
    if organization is None:
        return NO_CUSTOM_ATTRIBUTES
    return _schema(organization.slug, organization.name, declared_attributes(organization))


@functools.lru_cache(maxsize=2048)
def _schema(slug: str, name: str, declared: tuple[Declared, ...]) -> CustomSchema:
    urn = extension_urn(slug)
    return CustomSchema(
        urn=urn,
        name=name,
        declared=declared,
        rows=tuple(_row(urn, d) for d in declared),
    )
