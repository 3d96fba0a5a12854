"""Custom user attributes: what a declaration allows, a value's canonical form, and the
search strings an indexed attribute's values leave for filters.

An owner declares an attribute (accounts.services.custom_attributes); identity
providers write its values through SCIM; every user service stores them in
User.custom_attributes under the declared name, in the canonical form of its type, and
for an indexed attribute also as search strings in User.custom_search, which one GIN
index serves (migration 0021).

A process keeps each organization's declarations parsed per
(organization, custom_attributes_version): the version sits on the organization row
every request loads anyway, so reading the declarations costs no query once parsed,
and none at all for an organization that never declared one.
"""

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass

from django.db.models import BooleanField, F, Func, Q
from django.utils.dateparse import parse_datetime

from accounts.errors import InvalidValue
from accounts.folding import casefold_key
from accounts.models import CustomAttribute, CustomAttributeType, Organization

MAX_DECLARATIONS = 50
# RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
MAX_NAME_LENGTH = 64
MAX_STRING_LENGTH = 1024
MAX_REFERENCE_LENGTH = 2048
# Values of one multi-valued attribute, as for the SCIM attributes of the core schema.
MAX_VALUES = 100
# A signed 64-bit integer: what every consumer of the events and the API can hold.
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")

# The top-level names of the User's own schemas (RFC 7643 §3.1, §4.1, §4.3, and
# Roster's extension), in lower case: a custom attribute is also accepted in the core
# namespace, so it may not share a name with any of them. provisioning.attributes
# spells the same names; a test keeps the two equal.
RESERVED_NAMES = frozenset(
    {
        "schemas",
        "id",
        "externalid",
        "meta",
        "username",
        "name",
        "displayname",
        "nickname",
        "profileurl",
        "title",
        "usertype",
        "preferredlanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phonenumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509certificates",
        "employeenumber",
        "costcenter",
        "organization",
        "division",
        "department",
        "manager",
        "sshpublickeys",
    }
)


@dataclass(frozen=True)
class Declared:
    """One declaration as the readers of values need it (immutable, shared)."""

    name: str
    type: str
    multi_valued: bool
    indexed: bool
    description: str

    @property
    def key(self) -> str:
        """The name as every comparison of names uses it (names are case-insensitive)."""
        return self.name.lower()

    @property
    def case_exact(self) -> bool:
        # RFC 7643 §2.3.7: a reference is a URI, compared as sent; strings in any case.
        return self.type != CustomAttributeType.STRING


def declared_attributes(organization: Organization | None) -> tuple[Declared, ...]:
    """The organization's declarations, in the order they were declared."""
    if organization is None or not organization.custom_attributes_version:
        return ()
    return _declared(organization.pk, organization.custom_attributes_version)


@functools.lru_cache(maxsize=2048)
def _declared(organization_id, version: int) -> tuple[Declared, ...]:
    return load_declared(organization_id)


def load_declared(organization_id) -> tuple[Declared, ...]:
    """The declarations as the database has them now, not cached: for the services that
    change them, whose transaction may still roll back."""
    rows = CustomAttribute.objects.filter(organization_id=organization_id).order_by(
        "created_at", "id"
    )
    return tuple(
        Declared(
            name=row.name,
            type=row.type,
            multi_valued=row.multi_valued,
            indexed=row.indexed,
            description=row.description,
        )
        for row in rows
    )


def check_name(name: str) -> str:
    """A declarable name, or InvalidValue saying why not."""
    name = (name or "").strip()
    if not name:
        raise InvalidValue("A custom attribute needs a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidValue(f"A custom attribute's name has at most {MAX_NAME_LENGTH} characters.")
    if not NAME.fullmatch(name):
        raise InvalidValue(
            "A custom attribute's name starts with a letter and has only letters, digits, "
            "'-' and '_' (RFC 7643 §2.1)."
        )
    if name.lower() in RESERVED_NAMES:
        raise InvalidValue(
            f"{name} is an attribute of the SCIM User schema or its enterprise extension; "
            "choose another name."
        )
    return name


# -- values -------------------------------------------------------------------------


def _text(declared: Declared, value, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"{declared.name} must be a string.")
    if "\x00" in value:
        raise InvalidValue(f"{declared.name} must not contain NUL characters.")
    if len(value) > limit:
        raise InvalidValue(f"{declared.name} is longer than {limit} characters.")
    return value


def _boolean(declared: Declared, value) -> bool:
    if isinstance(value, bool):
        return value
    # Microsoft Entra ID sends booleans as strings ("False"), as for `active`.
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidValue(f"{declared.name} must be a boolean.")


def _integer(declared: Declared, value) -> int:
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        # Identity providers whose mappings are text templates (OneLogin's JSON
        # template, Entra's expressions) send numbers as strings.
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidValue(f"{declared.name} must be an integer.")
    if not MIN_INTEGER <= value <= MAX_INTEGER:
        raise InvalidValue(f"{declared.name} must be a 64-bit integer.")
    return value


def _datetime(declared: Declared, value) -> str:
    """RFC 7643 §2.3.5 xsd:dateTime, stored in UTC; one without an offset is read as UTC."""
    moment = None
    if isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:  # well-formed but impossible: month 13, hour 25
            moment = None
    if moment is None:
        raise InvalidValue(f"{declared.name} must be a date and time such as 2024-05-01T09:30:00Z.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def clean_one(declared: Declared, value):
    """One value in its type's canonical form; None for an empty one."""
    if value is None or value == "":
        return None
    kind = declared.type
    if kind == CustomAttributeType.STRING:
        return _text(declared, value, MAX_STRING_LENGTH)
    if kind == CustomAttributeType.REFERENCE:
        return _text(declared, value, MAX_REFERENCE_LENGTH)
    if kind == CustomAttributeType.BOOLEAN:
        return _boolean(declared, value)
    if kind == CustomAttributeType.INTEGER:
        return _integer(declared, value)
    return _datetime(declared, value)


def clean_value(declared: Declared, value):
    """The canonical value of the attribute (a list if multi-valued); None when empty."""
    if not declared.multi_valued:
        if isinstance(value, list | dict):
            raise InvalidValue(f"{declared.name} holds one value, not a list.")
        return clean_one(declared, value)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_VALUES:
        raise InvalidValue(f"{declared.name} holds at most {MAX_VALUES} values.")
    cleaned = []
    for item in items:
        if isinstance(item, list | dict):
            raise InvalidValue(f"{declared.name} holds a list of single values.")
        one = clean_one(declared, item)
        if one is not None and one not in cleaned:
            cleaned.append(one)
    return cleaned or None


def clean_values(values: dict, declared: tuple[Declared, ...]) -> dict:
    """Every value of `values` cleaned, under its declared name; an undeclared name is
    refused (the SCIM edge ignores those before they get here)."""
    if not isinstance(values, dict):
        raise InvalidValue("Custom attributes are an object of names and values.")
    by_key = {d.key: d for d in declared}
    result = {}
    for name, value in values.items():
        found = by_key.get(str(name).lower())
        if found is None:
            raise InvalidValue(f"No custom attribute {name!r} is declared.")
        cleaned = clean_value(found, value)
        if cleaned is not None:
            result[found.name] = cleaned
    return {d.name: result[d.name] for d in declared if d.name in result}


# -- search -------------------------------------------------------------------------


def folded(declared: Declared, value) -> str:
    """A canonical value as equality compares it: strings in any case (RFC 7644
    §3.4.2.2, caseExact false), folded as userName is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value if declared.case_exact else casefold_key(value)


def presence_token(declared: Declared) -> str:
    return declared.key


def value_token(declared: Declared, value) -> str:
    # Names have no "=" (RFC 7643 §2.1), so the name ends where the first "=" is.
    return f"{declared.key}={folded(declared, value)}"


def search_tokens(values: dict, declared: tuple[Declared, ...]) -> list[str]:
    """What User.custom_search holds for `values`: indexed attributes only."""
    tokens = []
    for attribute in declared:
        value = values.get(attribute.name)
        if not attribute.indexed or value in (None, [], ""):
            continue
        tokens.append(presence_token(attribute))
        for one in value if isinstance(value, list) else [value]:
            token = value_token(attribute, one)
            if token not in tokens:
                tokens.append(token)
    return tokens


class SearchTokenIn(Func):
    """`custom_search` holds `token`: `@>` on PostgreSQL, which the GIN index answers;
    elsewhere a look through the list."""

    output_field = BooleanField()

    def __init__(self, token: str):
        super().__init__(F("custom_search"))
        self.token = token

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column} @> %s::jsonb", [*params, json.dumps([self.token])]
        # The column is the model's; the token is a parameter.
        sql = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = %s)"  # noqa: S608
        return sql, [*params, self.token]


def has_search_token_q(token: str) -> Q:
    return Q(SearchTokenIn(token))
