"""Every SCIM attribute this service knows: one row per attribute and sub-attribute.

The filter translator, the sort map, PATCH path resolution, the reader, the writer and
the /Schemas documents all derive from this table; no other module spells an
attribute name. Names match case-insensitively, with or without their schema URN
(RFC 7643 §2.1).

Where a value lives (`stored`):
- COLUMN: a model field of its own (`field`), kept because it is indexed or used by
  sign-in, the console or the admin;
- PROFILE / ENTERPRISE: a key of the User's `profile` or `enterprise` JSON column;
- SERVER: computed by the server (id, meta, groups, members);
- DISCARDED: accepted and never stored (password: people sign in with SSO);
- SSH_KEYS: the person's file-transfer keys that the identity provider manages
  (transfer.models.SshKey rows from CredentialSource.IDP), written through
  transfer.services (provisioning.ssh_public_keys);
- CUSTOM: an attribute the organization declared (provisioning.custom_attributes): its
  rows are made per organization from the declarations, never listed here.

`query` is the model field (or JSON key path) that filters and sorts compare; a row
with a `filter` is filterable and has an index on that expression (a unit test checks
the models).
"""

from dataclasses import dataclass

from django.db.models import F
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django_scim.constants import SchemaURI

CORE_USER = SchemaURI.USER
CORE_GROUP = SchemaURI.GROUP
ENTERPRISE_USER = SchemaURI.ENTERPRISE_USER
ROSTER_USER = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"

USER = "User"
GROUP = "Group"

# RFC 7643 §2.3 data types.
STRING = "string"
BOOLEAN = "boolean"
COMPLEX = "complex"
REFERENCE = "reference"
BINARY = "binary"
DATETIME = "dateTime"
INTEGER = "integer"

# RFC 7643 §2.2 characteristics.
READ_WRITE = "readWrite"
READ_ONLY = "readOnly"
WRITE_ONLY = "writeOnly"
IMMUTABLE = "immutable"
ALWAYS = "always"
DEFAULT = "default"
NEVER = "never"
REQUEST = "request"

COLUMN = "column"
PROFILE = "profile"
ENTERPRISE = "enterprise"
SERVER = "server"
DISCARDED = "discarded"
SSH_KEYS = "ssh_keys"
CUSTOM = "custom"

# How a filter compares the `query` expression (RFC 7644 §3.4.2.2).
TEXT = "text"  # case-insensitively unless the attribute is caseExact
BOOLEAN_FILTER = "boolean"
DATETIME_FILTER = "dateTime"
ID_FILTER = "id"
MEMBER_FILTER = "member"
# eq/ne/pr on every value of a multi-valued attribute in `profile`
# (provisioning.value_filters); `query` is the JSON key.
VALUES_FILTER = "values"
# eq/ne/pr on an indexed custom attribute, through User.custom_search.
CUSTOM_FILTER = "custom"

# A value kept in a JSON column is bounded like the widest text column; certificates
# (base64 DER) and photo URLs need more.
JSON_TEXT_MAX_LENGTH = 255
JSON_LONG_TEXT_MAX_LENGTH = 8192
# Values of one multi-valued attribute; a directory entry has a handful.
MAX_VALUES = 100


@dataclass(frozen=True)
class Attribute:
    resource: str
    schema: str
    name: str
    sub: str | None = None
    type: str = STRING
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = DEFAULT
    uniqueness: str = "none"
    canonical_values: tuple = ()
    reference_types: tuple = ()
    stored: str = PROFILE
    field: str | None = None
    query: str | None = None
    filter: str | None = None
    sortable: bool = False
    max_length: int | None = None
    # RFC 7643 §3.1 common attributes are not listed in the /Schemas documents.
    common: bool = False
    # A complex attribute that points at another resource by its "value": a bare id
    # stands for {"value": id} (Entra sends the manager so), and a new value drops the
    # sub-attributes that described the old one.
    references: bool = False
    # A sub-attribute that, when it only joins these sibling sub-attributes, is not
    # stored, so that it follows later changes of them (name.formatted).
    derived_from: tuple = ()
    # Types that Microsoft Entra ID's default mapping writes with
    # `replace <attr>[type eq "<type>"].<sub>`, expecting the value to be added when the
    # user has none of that type (RFC 7644 §3.5.2.3 would answer noTarget).
    entra_adds_types: tuple = ()
    # The stored comparison key (accounts.folding) that equality filters compare.
    folded_key: str | None = None
    # The column holding every value of a multi-valued attribute, folded, that co/sw/ew
    # filters search when they are not inside brackets (accounts.email_search).
    search_field: str | None = None
    # What a reader of the documented mapping should know (docs/scim.md).
    note: str = ""
    # The /Schemas description of an attribute RFC 7643 §8.7 does not describe.
    description: str = ""

    def __deepcopy__(self, memo):
        # Immutable and shared: copying a user's document (keyed by these) copies its
        # values only, not the table's entries once per write.
        return self

    @property
    def path(self) -> str:
        return f"{self.name}.{self.sub}" if self.sub else self.name

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.schema.lower(), self.name.lower(), self.sub.lower() if self.sub else None)

    @property
    def writable(self) -> bool:
        return self.mutability in (READ_WRITE, WRITE_ONLY, IMMUTABLE)

    @property
    def case_ignored(self) -> bool:
        return self.type == STRING and not self.case_exact

    def column(self):
        """The column, or the key inside a JSON column, that filters and sorts read."""
        return KT(self.query) if "__" in self.query else F(self.query)

    def expression(self):
        """What equality filters and sorts compare; the models index exactly this."""
        if not self.case_ignored:
            return self.column()
        return Lower(KT(self.query) if "__" in self.query else self.query)


def _core(name, **kw) -> Attribute:
    return Attribute(USER, CORE_USER, name, **kw)


def _enterprise(name, **kw) -> Attribute:
    return Attribute(USER, ENTERPRISE_USER, name, stored=ENTERPRISE, **kw)


def _group(name, **kw) -> Attribute:
    return Attribute(GROUP, CORE_GROUP, name, **kw)


# RFC 7643 §3.1: the attributes every resource has, the same on Users and Groups.
_ID = dict(
    case_exact=True,
    mutability=READ_ONLY,
    returned=ALWAYS,
    uniqueness="server",
    stored=SERVER,
    query="id",
    filter=ID_FILTER,
    sortable=True,
    common=True,
)
_EXTERNAL_ID = dict(
    case_exact=True,
    stored=COLUMN,
    field="external_id",
    query="external_id",
    filter=TEXT,
    sortable=True,
    common=True,
)


# RFC 7644 §3.4.2.2 on a multi-valued attribute kept in `profile` (provisioning.value_filters).
ANY_VALUE_NOTE = "`eq`, `ne` (no value equals) and `pr` on every value, and brackets"


def _plural(
    name, *, value_type=STRING, case_exact=False, types=(), entra=(), filterable=False, note=""
) -> list:
    """A multi-valued attribute with the RFC 7643 §2.4 sub-attributes, kept in `profile`."""
    long = value_type in (BINARY, REFERENCE)
    value_length = JSON_LONG_TEXT_MAX_LENGTH if long else JSON_TEXT_MAX_LENGTH
    value_filter = dict(query=f"profile__{name}", filter=VALUES_FILTER) if filterable else {}
    return [
        _core(name, type=COMPLEX, multi_valued=True, entra_adds_types=entra),
        _core(
            name,
            sub="value",
            type=value_type,
            case_exact=case_exact,
            max_length=value_length,
            note=note,
            **value_filter,
        ),
        _core(name, sub="display", max_length=JSON_TEXT_MAX_LENGTH),
        _core(name, sub="type", canonical_values=types, max_length=JSON_TEXT_MAX_LENGTH),
        _core(name, sub="primary", type=BOOLEAN),
    ]


SERVER_META = [
    ("created", DATETIME, "created_at"),
    ("lastModified", DATETIME, "updated_at"),
    ("resourceType", STRING, None),
    ("location", REFERENCE, None),
    ("version", STRING, None),
]


META_NOTES = {
    "created": "`created_at`",
    "lastModified": "`updated_at`; equal to `created` until the first change",
    "version": 'W/"<version>", the `ETag`; `If-Match` -> 412 on mismatch, `If-None-Match` -> 304',
}


def _meta(make) -> list:
    rows = [make("meta", type=COMPLEX, mutability=READ_ONLY, stored=SERVER, common=True)]
    for sub, kind, column in SERVER_META:
        rows.append(
            make(
                "meta",
                sub=sub,
                type=kind,
                mutability=READ_ONLY,
                stored=SERVER,
                common=True,
                case_exact=kind != STRING or sub == "version",
                query=column,
                filter=DATETIME_FILTER if column else None,
                sortable=column is not None,
                note=META_NOTES.get(sub, ""),
            )
        )
    return rows


def _address_parts() -> list:
    parts = ("formatted", "streetAddress", "locality", "region", "postalCode", "country", "type")
    rows = [_core("addresses", type=COMPLEX, multi_valued=True, entra_adds_types=("work",))]
    rows += [
        _core(
            "addresses",
            sub=part,
            max_length=JSON_TEXT_MAX_LENGTH,
            canonical_values=("work", "home", "other") if part == "type" else (),
        )
        for part in parts
    ]
    # RFC 7643 §4.1.2 gives addresses a "primary" too (its §8.7.1 listing omits it).
    rows.append(_core("addresses", sub="primary", type=BOOLEAN))
    return rows


def _text_column(name, field, **kw) -> Attribute:
    return _core(name, stored=COLUMN, field=field, query=field, **kw)


USER_ATTRIBUTES: tuple[Attribute, ...] = (
    _core("id", **_ID),
    _core("externalId", **_EXTERNAL_ID, note="case-exact"),
    _text_column(
        "userName",
        "username",
        required=True,
        uniqueness="server",
        filter=TEXT,
        sortable=True,
        folded_key="username_key",
        note="case kept as sent; unique per organization in any case (409 `uniqueness`)",
    ),
    _core("name", type=COMPLEX),
    _core(
        "name",
        sub="formatted",
        stored=COLUMN,
        field="name_formatted",
        derived_from=("givenName", "familyName"),
        note="derived from the given and family names when not sent",
    ),
    _text_column("name", "family_name", sub="familyName", filter=TEXT, sortable=True),
    _text_column("name", "given_name", sub="givenName", filter=TEXT, sortable=True),
    _core("name", sub="middleName", max_length=JSON_TEXT_MAX_LENGTH),
    _core("name", sub="honorificPrefix", max_length=JSON_TEXT_MAX_LENGTH),
    _core("name", sub="honorificSuffix", max_length=JSON_TEXT_MAX_LENGTH),
    _text_column("displayName", "display_name", filter=TEXT, sortable=True),
    _core("nickName", max_length=JSON_TEXT_MAX_LENGTH),
    _core(
        "profileUrl",
        type=REFERENCE,
        reference_types=("external",),
        max_length=JSON_LONG_TEXT_MAX_LENGTH,
    ),
    _text_column("title", "title", sortable=True),
    _core("userType", max_length=JSON_TEXT_MAX_LENGTH),
    _core("preferredLanguage", max_length=JSON_TEXT_MAX_LENGTH),
    _text_column("locale", "locale"),
    _core("timezone", max_length=JSON_TEXT_MAX_LENGTH),
    _core(
        "active",
        type=BOOLEAN,
        required=True,  # a user is active or not: there is no "unassigned" to remove it to
        stored=COLUMN,
        field="is_active",
        query="is_active",
        filter=BOOLEAN_FILTER,
        sortable=True,
        note='`false` deactivates and ends the sessions; "True"/"False" strings accepted',
    ),
    _core(
        "password",
        mutability=WRITE_ONLY,
        returned=NEVER,
        stored=DISCARDED,
        note="people sign in with SSO",
    ),
    # The whole list lives in `profile`; the address used for sign-in (and its type)
    # is copied into indexed columns, which is what filters and sorts on emails see.
    _core(
        "emails",
        type=COMPLEX,
        multi_valued=True,
        entra_adds_types=("work",),
        note="every value kept; the sign-in address is the primary valid one, else the "
        "work one, else the first, and is copied to the `email` column",
    ),
    _core(
        "emails",
        sub="value",
        max_length=254,
        query="email",
        filter=TEXT,
        sortable=True,
        folded_key="email_key",
        search_field="email_search",
        note="any string; `eq`, `ne`, `co`, `sw`, `ew` and brackets search every value "
        "(`ne`: no value equals); `gt`/`ge`/`lt`/`le` and sorts compare the sign-in address",
    ),
    _core("emails", sub="display", max_length=JSON_TEXT_MAX_LENGTH),
    _core(
        "emails",
        sub="type",
        canonical_values=("work", "home", "other"),
        max_length=32,
        query="email_type",
        filter=TEXT,
        note="outside brackets, the sign-in address's type; `emails[type eq ...]` "
        "looks at every value",
    ),
    _core("emails", sub="primary", type=BOOLEAN),
    *_plural(
        "phoneNumbers",
        types=("work", "home", "mobile", "fax", "pager", "other"),
        entra=("work", "mobile", "fax"),
        filterable=True,
        note=ANY_VALUE_NOTE,
    ),
    *_plural(
        "ims",
        types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        filterable=True,
        note=ANY_VALUE_NOTE,
    ),
    *_plural("photos", value_type=REFERENCE, case_exact=True, types=("photo", "thumbnail")),
    *_address_parts(),
    _core(
        "groups",
        type=COMPLEX,
        multi_valued=True,
        mutability=READ_ONLY,
        stored=SERVER,
        note="the user's memberships",
    ),
    _core("groups", sub="value", mutability=READ_ONLY, stored=SERVER),
    _core(
        "groups",
        sub="$ref",
        type=REFERENCE,
        reference_types=("Group",),
        mutability=READ_ONLY,
        stored=SERVER,
    ),
    _core("groups", sub="display", mutability=READ_ONLY, stored=SERVER),
    _core(
        "groups",
        sub="type",
        canonical_values=("direct", "indirect"),
        mutability=READ_ONLY,
        stored=SERVER,
    ),
    *_plural("entitlements", filterable=True, note=ANY_VALUE_NOTE),
    *_plural("roles", filterable=True, note=ANY_VALUE_NOTE),
    *_plural("x509Certificates", value_type=BINARY, case_exact=True),
    *_meta(_core),
    # RFC 7643 §4.3 enterprise extension.
    _enterprise(
        "employeeNumber",
        case_exact=True,
        max_length=JSON_TEXT_MAX_LENGTH,
        query="enterprise__employeeNumber",
        filter=TEXT,
    ),
    _enterprise("costCenter", max_length=JSON_TEXT_MAX_LENGTH),
    _enterprise("organization", max_length=JSON_TEXT_MAX_LENGTH),
    _enterprise("division", max_length=JSON_TEXT_MAX_LENGTH),
    _enterprise(
        "department",
        max_length=JSON_TEXT_MAX_LENGTH,
        query="enterprise__department",
        filter=TEXT,
    ),
    _enterprise(
        "manager",
        type=COMPLEX,
        references=True,
        note="kept as sent; a bare id is read as its value",
    ),
    # manager.value is kept as the identity provider sent it: Okta often maps an id of
    # its own there, so it is not checked against this organization's users.
    _enterprise(
        "manager",
        sub="value",
        case_exact=True,
        max_length=JSON_TEXT_MAX_LENGTH,
        query="enterprise__manager__value",
        filter=TEXT,
    ),
    _enterprise(
        "manager",
        sub="$ref",
        type=REFERENCE,
        reference_types=("User",),
        max_length=JSON_LONG_TEXT_MAX_LENGTH,
    ),
    # RFC 7643 §4.3 makes displayName readOnly; identity providers send it, and it is
    # kept as sent rather than looked up.
    _enterprise("manager", sub="displayName", max_length=JSON_TEXT_MAX_LENGTH),
    # Roster's extension (docs/scim.md#the-roster-extension-ssh-public-keys).
    Attribute(
        USER,
        ROSTER_USER,
        "sshPublicKeys",
        multi_valued=True,
        case_exact=True,
        stored=SSH_KEYS,
        description="The person's SSH public keys for file transfer that the identity "
        "provider manages, each one OpenSSH public key line (type, base64 key, comment).",
        note="the keys the identity provider manages, not the person's own; one string of "
        "newline-separated keys is read as that many values",
    ),
)

GROUP_ATTRIBUTES: tuple[Attribute, ...] = (
    _group("id", **_ID),
    _group("externalId", **_EXTERNAL_ID),
    _group(
        "displayName",
        required=True,
        uniqueness="server",
        stored=COLUMN,
        field="display_name",
        query="display_name",
        filter=TEXT,
        sortable=True,
        note="unique per organization in any case (409)",
    ),
    _group(
        "members",
        type=COMPLEX,
        multi_valued=True,
        stored=SERVER,
        note="memberships; users of the same organization only (400 otherwise)",
    ),
    _group("members", sub="value", stored=SERVER, query="memberships", filter=MEMBER_FILTER),
    _group(
        "members",
        sub="$ref",
        type=REFERENCE,
        reference_types=("User",),
        mutability=IMMUTABLE,
        stored=SERVER,
    ),
    _group(
        "members",
        sub="type",
        canonical_values=("User",),
        mutability=IMMUTABLE,
        stored=SERVER,
    ),
    # Derived from the member, so only returned when asked for with
    # attributes=members.display: a client comparing what it wrote with what it reads
    # back does not see a value it never sent.
    _group(
        "members",
        sub="display",
        mutability=READ_ONLY,
        returned=REQUEST,
        stored=SERVER,
        note="only with `attributes=members.display`",
    ),
    *_meta(_group),
)

TABLES = {USER: USER_ATTRIBUTES, GROUP: GROUP_ATTRIBUTES}
CORE_SCHEMA = {USER: CORE_USER, GROUP: CORE_GROUP}
EXTENSIONS = {USER: (ENTERPRISE_USER, ROSTER_USER), GROUP: ()}
_BY_KEY = {(resource, a.key): a for resource, rows in TABLES.items() for a in rows}


def schemas_of(resource: str) -> tuple[str, ...]:
    return (CORE_SCHEMA[resource], *EXTENSIONS[resource])


# The URNs of the SCIM 2.0 drafts, before RFC 7643 moved them under urn:ietf:params.
# OneLogin's "SCIM Provisioner" templates and CyberArk still send them (docs/onelogin.md).
LEGACY_URNS = {
    USER: {
        "urn:scim:schemas:core:2.0": CORE_USER,
        "urn:scim:schemas:core:2.0:user": CORE_USER,
        "urn:scim:schemas:extension:enterprise:2.0": ENTERPRISE_USER,
        "urn:scim:schemas:extension:enterprise:2.0:user": ENTERPRISE_USER,
    },
    GROUP: {
        "urn:scim:schemas:core:2.0": CORE_GROUP,
        "urn:scim:schemas:core:2.0:group": CORE_GROUP,
    },
}


def known_schema(resource: str, urn: str | None) -> str | None:
    """The canonical URN for `urn` (any case, or a legacy spelling; None is the core
    schema), or None if unknown."""
    if urn is None:
        return CORE_SCHEMA[resource]
    for schema in schemas_of(resource):
        if schema.lower() == urn.lower():
            return schema
    return LEGACY_URNS[resource].get(urn.lower())


def legacy_urn(urn: str, core_urn: str) -> str | None:
    """The canonical URN a legacy spelling stands for, on the resource whose core
    schema is `core_urn`; None when `urn` is not a legacy spelling."""
    resource = next(r for r, schema in CORE_SCHEMA.items() if schema == core_urn)
    return LEGACY_URNS[resource].get(urn.lower())


def lookup(resource: str, schema: str, name: str, sub: str | None = None) -> Attribute | None:
    key = (schema.lower(), name.lower(), sub.lower() if sub else None)
    return _BY_KEY.get((resource, key))


def top_level(resource: str, schema: str | None = None) -> list[Attribute]:
    return [a for a in TABLES[resource] if a.sub is None and (schema is None or a.schema == schema)]


def sub_attributes(attribute: Attribute) -> list[Attribute]:
    return [
        a
        for a in TABLES[attribute.resource]
        if a.schema == attribute.schema and a.name == attribute.name and a.sub is not None
    ]


def filterable(resource: str) -> list[Attribute]:
    return [a for a in TABLES[resource] if a.filter is not None]


def sort_expressions(resource: str) -> dict[str, object]:
    """Lower-case path (without the core URN) -> the expression to order by."""
    sorts = {}
    for attribute in TABLES[resource]:
        if attribute.sortable:
            sorts[attribute.path.lower()] = attribute.expression()
            if attribute.sub == "value":
                # RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its (primary) value.
                sorts[attribute.name.lower()] = attribute.expression()
    return sorts


_SCHEMA_NAMES = {
    CORE_USER: "User",
    ENTERPRISE_USER: "Enterprise User",
    ROSTER_USER: "Roster User",
    CORE_GROUP: "Group",
}


def _stored_in(attribute: Attribute) -> str:
    if attribute.stored == COLUMN:
        return f"`{attribute.field}` column"
    if attribute.stored in (PROFILE, ENTERPRISE):
        return f"`{attribute.stored}` JSON"
    return {
        SERVER: "computed by the server",
        DISCARDED: "accepted, never stored",
        SSH_KEYS: "file-transfer SSH keys",
    }[attribute.stored]


DOC_START = "<!-- attribute table: generated by `python -m provisioning.attributes` -->"
DOC_END = "<!-- end of attribute table -->"


def markdown() -> str:
    """The attribute table of docs/scim.md, between DOC_START and DOC_END (a test
    keeps the two equal)."""
    lines = [
        DOC_START,
        "",
        "| Schema | Attribute | Type | Mutability | Stored in | Filter | Sort | Notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for attribute in (*USER_ATTRIBUTES, *GROUP_ATTRIBUTES):
        kind = attribute.type + ("[]" if attribute.multi_valued else "")
        lines.append(
            f"| {_SCHEMA_NAMES[attribute.schema]} | `{attribute.path}` | {kind} "
            f"| {attribute.mutability} | {_stored_in(attribute)} "
            f"| {'yes' if attribute.filter else ''} | {'yes' if attribute.sortable else ''} "
            f"| {attribute.note} |"
        )
    return "\n".join([*lines, "", DOC_END])


def with_table(document: str) -> str:
    """`document` (docs/scim.md) with its attribute table regenerated."""
    before, rest = document.split(DOC_START, 1)
    _, after = rest.split(DOC_END, 1)
    return before + markdown() + after


if __name__ == "__main__":
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "scim.md"
    doc.write_text(with_table(doc.read_text()))
