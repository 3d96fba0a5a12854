"""What a SCIM User body or PATCH asks for, as the User fields to store.

A user is read as a document: {table row: value} for every writable attribute it has,
with canonical names throughout. The request changes a copy of it (full replacement
for POST/PUT, RFC 7644 §3.5.2 operations for PATCH); `fields_of` turns the result into
model fields for the accounts services, and `ssh_keys` the keys the identity provider
manages afterwards (provisioning.ssh_public_keys). Names, types, mutability and where a
value lives all come from the attribute table, and for the organization's custom
attributes from its declarations (provisioning.custom_attributes). Nothing here writes
to the database.
"""

import copy

from accounts.custom_attributes import clean_value
from accounts.errors import InvalidValue
from accounts.models import User
from provisioning.attributes import (
    BOOLEAN,
    COLUMN,
    COMPLEX,
    CORE_USER,
    CUSTOM,
    DISCARDED,
    ENTERPRISE,
    EXTENSIONS,
    MAX_VALUES,
    PROFILE,
    ROSTER_USER,
    SERVER,
    SSH_KEYS,
    USER,
    Attribute,
    known_schema,
    lookup,
    sub_attributes,
    top_level,
)
from provisioning.custom_attributes import NO_CUSTOM_ATTRIBUTES, CustomSchema
from provisioning.errors import (
    INVALID_PATH,
    INVALID_SYNTAX,
    INVALID_VALUE,
    MUTABILITY,
    NO_TARGET,
    BadRequest,
)
from provisioning.paths import Path, filter_type, parse_key, parse_path, value_filter_matches
from provisioning.ssh_public_keys import SshKeysChange

ADD, REPLACE, REMOVE = "add", "replace", "remove"
PUT = "put"  # RFC 7644 §3.5.1: the body is the whole new resource
# Keys a client may echo back in a body that are not attributes (Okta's GET-then-PUT).
NOT_ATTRIBUTES = {"schemas"}
EMPTY = (None, "", [], {})
ACTIVE = lookup(USER, CORE_USER, "active")
# Kept outside the user's row: computed, dropped, or the identity provider's SSH keys.
NOT_IN_ROW = (SERVER, DISCARDED, SSH_KEYS)


def invalid(detail: str) -> BadRequest:
    return BadRequest(detail, scim_type=INVALID_VALUE)


def invalid_path(detail: str) -> BadRequest:
    return BadRequest(detail, scim_type=INVALID_PATH)


# -- reading ------------------------------------------------------------------------


def _stored(user: User, attribute: Attribute):
    if attribute.stored == COLUMN:
        return getattr(user, attribute.field)
    container = user.enterprise if attribute.stored == ENTERPRISE else user.profile
    value = copy.deepcopy((container or {}).get(attribute.name))
    if attribute.type == COMPLEX and not attribute.multi_valued:
        value = dict(value or {})
        for sub in sub_attributes(attribute):
            if sub.stored == COLUMN and getattr(user, sub.field):
                value[sub.sub] = getattr(user, sub.field)
    return value


def document_of(user: User | None) -> dict:
    """{attribute: value} of every writable attribute the user has."""
    if user is None:
        return {ACTIVE: True}
    document = {}
    for attribute in top_level(USER):
        if attribute.writable and attribute.stored not in NOT_IN_ROW:
            value = _stored(user, attribute)
            if value not in EMPTY:
                document[attribute] = value
    return document


def _derived(sub: Attribute, value: dict) -> str:
    return " ".join(value[part] for part in sub.derived_from if value.get(part))


def rendered(document: dict) -> dict:
    """The SCIM JSON of a document: canonical names, extension attributes under their URN."""
    result: dict = {}
    for attribute, value in document.items():
        if attribute.returned == "never":
            continue
        value = copy.deepcopy(value)
        if attribute.type == COMPLEX and not attribute.multi_valued:
            for sub in sub_attributes(attribute):
                if sub.derived_from and not value.get(sub.sub) and _derived(sub, value):
                    value[sub.sub] = _derived(sub, value)
        target = (
            result if attribute.schema == CORE_USER else result.setdefault(attribute.schema, {})
        )
        target[attribute.name] = value
    return result


def declares(body: dict, urn: str) -> bool:
    """Whether a body's `schemas` lists `urn` (in any case)."""
    declared = next((v for k, v in body.items() if str(k).lower() == "schemas"), None)
    return isinstance(declared, list) and urn.lower() in (
        s.lower() for s in declared if isinstance(s, str)
    )


def fields_of(document: dict) -> dict:
    """The User fields (columns, `profile`, `enterprise`) that store a document."""
    fields: dict = {"profile": {}, "enterprise": {}}
    for attribute in top_level(USER):
        if not attribute.writable or attribute.stored in NOT_IN_ROW:
            continue
        value = copy.deepcopy(document.get(attribute))
        if attribute.stored == COLUMN:
            default = True if attribute.type == BOOLEAN else ""
            fields[attribute.field] = default if value is None else value
            continue
        if attribute.type == COMPLEX and not attribute.multi_valued:
            value = dict(value or {})
            for sub in sub_attributes(attribute):
                if sub.stored == COLUMN:
                    fields[sub.field] = value.pop(sub.sub, "")
        if value not in EMPTY:
            fields["profile" if attribute.stored == PROFILE else "enterprise"][attribute.name] = (
                value
            )
    return fields


# -- values -------------------------------------------------------------------------


def as_boolean(name: str, value) -> bool:
    """A boolean, or the strings "true"/"false" in any case.

    Microsoft Entra ID sends booleans as strings ("False") in PATCH operations.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid(f"{name} must be a boolean.")


def max_length_of(attribute: Attribute) -> int | None:
    if attribute.stored == COLUMN:
        return User._meta.get_field(attribute.field).max_length
    return attribute.max_length


def as_text(attribute: Attribute, value) -> str:
    if not isinstance(value, str):
        raise invalid(f"{attribute.path} must be a string.")
    if "\x00" in value:
        raise invalid(f"{attribute.path} must not contain NUL characters.")
    limit = max_length_of(attribute)
    if limit is not None and len(value) > limit:
        raise invalid(f"{attribute.path} is longer than {limit} characters.")
    return value


def clean(attribute: Attribute, value):
    """The canonical form of a value sent for `attribute`; None when it holds nothing."""
    if value is None:
        return None
    if attribute.multi_valued:
        return clean_values(attribute, value)
    if attribute.type == COMPLEX:
        return clean_object(attribute, value)
    if attribute.type == BOOLEAN:
        return as_boolean(attribute.path, value)
    return as_text(attribute, value) or None


def clean_object(attribute: Attribute, value) -> dict | None:
    if attribute.references and isinstance(value, str):
        value = {"value": value}
    if not isinstance(value, dict):
        raise invalid(f"{attribute.path} must be an object.")
    result = {}
    for key, item in value.items():
        sub = lookup(USER, attribute.schema, attribute.name, key) if isinstance(key, str) else None
        # Sub-attributes the schema does not have, and read-only ones, are ignored
        # (RFC 7644 §3.3).
        if sub is None or not sub.writable:
            continue
        cleaned = clean(sub, item)
        if cleaned is not None:
            result[sub.sub] = cleaned
    return result or None


def _same(attribute: Attribute, a: dict, b: dict) -> bool:
    """Whether two values of a multi-valued attribute are the same value (and type)."""
    value = lookup(USER, attribute.schema, attribute.name, "value")

    def folded(item, sub, exact):
        text = item.get(sub)
        return text if exact or not isinstance(text, str) else text.lower()

    exact = value.case_exact if value is not None else False
    return folded(a, "value", exact) == folded(b, "value", exact) and folded(
        a, "type", False
    ) == folded(b, "type", False)


def one_primary(items: list, winners=()) -> list:
    """RFC 7643 §2.4: at most one `primary: true`; the last one written wins."""
    primaries = [i for i, item in enumerate(items) if item.get("primary") is True]
    if len(primaries) > 1:
        preferred = [i for i in primaries if i in winners] or primaries
        keep = preferred[-1]
        for i in primaries:
            if i != keep:
                items[i]["primary"] = False
    return items


def clean_values(attribute: Attribute, value) -> list | None:
    if isinstance(value, dict):  # OneLogin sends one object instead of a list.
        value = [value]
    if not isinstance(value, list):
        raise invalid(f"{attribute.path} must be a list of objects.")
    if len(value) > MAX_VALUES:
        raise invalid(f"{attribute.path} holds at most {MAX_VALUES} values.")
    items: list = []
    for entry in value:
        item = clean_object(attribute, entry)
        if item is not None and item not in items:
            items.append(item)
    return one_primary(items) or None


# -- changes ------------------------------------------------------------------------


def is_other_schema(key: str) -> bool:
    """A body key that is the URN of a schema this service does not have, ending in a
    version rather than a resource name: CyberArk sends its custom attributes under
    `urn:scim:schemas:extension:custom:2.0`
    (https://docs.cyberark.com/Idaptive/Latest/en/Content/Developer/scim-management/scim-endpoints-manage-users.htm),
    which no path grammar reads. Ignored, as attributes of unknown schemas are
    (RFC 7644 §3.3)."""
    lowered = key.lower()
    return (
        lowered.startswith("urn:")
        and known_schema(USER, lowered) is None
        and lowered.rsplit(":", 1)[-1].replace(".", "").isdigit()
    )


class Target:
    """Where a PATCH path (or a key of a body) points."""

    def __init__(self, schema: str, attribute: Attribute | None, sub, value_filter, text):
        self.schema = schema
        self.attribute = attribute  # None: the whole extension object
        self.sub = sub
        self.value_filter = value_filter
        self.text = text


class UserChange:
    """Applies a SCIM body or PATCH operations to a copy of a user's document.

    `custom` is the organization's extension: its values join the document under their
    rows and are stored apart (`custom_attributes`). Attributes nobody declared are
    ignored (RFC 7644 §3.3) and named in `ignored`, for the request log.
    """

    def __init__(self, user: User | None, custom: CustomSchema = NO_CUSTOM_ATTRIBUTES):
        self.custom = custom
        self.original = document_of(user)
        if user is not None:
            self.original.update(custom.values_of(user.custom_attributes))
        self.document = copy.deepcopy(self.original)
        self.ssh_keys = SshKeysChange(user)
        self.ignored: list[str] = []

    def known_urns(self) -> tuple[str, ...]:
        return (*EXTENSIONS[USER], self.custom.urn) if self.custom.urn else EXTENSIONS[USER]

    def schema_of(self, urn: str | None) -> str | None:
        if self.custom.owns(urn):
            return self.custom.urn
        return known_schema(USER, urn)

    def note_ignored(self, text: str) -> None:
        if text not in self.ignored:
            self.ignored.append(text)

    @staticmethod
    def custom_values(document: dict) -> dict:
        return {a.name: v for a, v in document.items() if a.stored == CUSTOM and v not in EMPTY}

    def original_fields(self) -> dict:
        """The fields as stored before the change, to compare `fields()` with."""
        return {
            **fields_of(self.original),
            "custom_attributes": self.custom_values(self.original),
        }

    def fields(self) -> dict:
        """The fields to store. A derived value (name.formatted that only joins the given
        and family names) is not kept, so it follows later changes of those names
        (Entra's and Okta's documented flows expect exactly that); any other is kept."""
        document = copy.deepcopy(self.document)
        for attribute, value in document.items():
            if attribute.type != COMPLEX or attribute.multi_valued:
                continue
            original = self.original.get(attribute) or {}
            for sub in sub_attributes(attribute):
                if not sub.derived_from or sub.sub not in value:
                    continue
                derived = {_derived(sub, value)}
                if not original.get(sub.sub):
                    # Okta's GET-then-PUT echoes the value derived before the change.
                    derived.add(_derived(sub, original))
                if value[sub.sub] in derived:
                    del value[sub.sub]
        kept = {a: v for a, v in document.items() if v not in EMPTY}
        return {**fields_of(kept), "custom_attributes": self.custom_values(kept)}

    # -- PUT / POST -------------------------------------------------------------------

    def replace_all(self, body: dict, *, keep_active: bool) -> None:
        """RFC 7644 §3.5.1: attributes left out of a PUT are cleared (read-only ones stay)."""
        active = self.document.get(ACTIVE, True)
        self.document = {}
        if declares(body, ROSTER_USER):
            # Only then: Okta and Entra leave out of a PUT the attributes they do not
            # manage, and a PUT without the extension leaves the keys as they are.
            self.ssh_keys.replace([])
        self.write_object(body, op=PUT)
        if ACTIVE not in self.document:
            self.document[ACTIVE] = active if keep_active else True
        for attribute in top_level(USER):
            if attribute.required and attribute.writable and attribute not in self.document:
                raise invalid(f"{attribute.name} is required.")

    # -- PATCH ------------------------------------------------------------------------

    def apply(self, operation: dict) -> None:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise BadRequest(
                'Each PATCH operation is an object with an "op".', scim_type=INVALID_SYNTAX
            )
        op = operation["op"].lower()
        path = operation.get("path")
        value = operation.get("value")
        if op not in (ADD, REPLACE, REMOVE):
            raise invalid(f"Unknown PATCH op {operation.get('op')!r}.")
        if not path:
            if op == REMOVE:
                raise BadRequest("A remove operation needs a path.", scim_type=NO_TARGET)
            if not isinstance(value, dict):
                raise invalid("A PATCH operation without a path needs an object value.")
            self.write_object(value, op=op)
            return
        path = parse_path(path, core_urn=CORE_USER, known_urns=self.known_urns())
        target = self.target(path, strict=True)
        if target is not None:
            self.operate(op, target, value, explicit=True)

    def target(self, path: Path, *, strict: bool) -> Target | None:
        """The table rows a path names. An explicit PATCH path naming no User attribute
        is invalidPath; in a body, unknown attributes are ignored (RFC 7644 §3.3).
        Attributes of schemas other than the User's (vendor extensions) are ignored, and
        so are the organization's attributes nobody declared, named or not."""
        schema = self.schema_of(path.urn)
        if schema is None:
            self.note_ignored(path.text)
            return None
        if path.attr == "":
            return Target(schema, None, None, None, path.text)
        if schema == self.custom.urn:
            return self.custom_target(path, self.custom.attribute(path.attr))
        attribute = lookup(USER, schema, path.attr)
        if attribute is None and schema == CORE_USER and self.custom.attribute(path.attr):
            # Okta's Profile Editor sends custom attributes in the core namespace unless
            # told otherwise (docs/okta.md, "Custom attributes").
            return self.custom_target(path, self.custom.attribute(path.attr))
        sub = lookup(USER, schema, path.attr, path.sub) if path.sub else None
        if attribute is None or (path.sub and sub is None):
            if strict:
                raise invalid_path(f"{path.text!r} is not a User attribute.")
            self.note_ignored(path.text)
            return None
        if path.value_filter is not None and not attribute.multi_valued:
            raise invalid_path(f"{path.text!r}: only multi-valued attributes take a filter.")
        return Target(schema, attribute, sub, path.value_filter, path.text)

    def custom_target(self, path: Path, attribute: Attribute | None) -> Target | None:
        if attribute is None:
            self.note_ignored(path.text)
            return None
        if path.sub or path.value_filter is not None:
            raise invalid_path(
                f"{path.text!r}: {attribute.name} is a custom attribute of simple values; "
                "name it alone."
            )
        return Target(attribute.schema, attribute, None, None, path.text)

    def write_object(self, body: dict, *, op: str) -> None:
        for key, value in body.items():
            if not isinstance(key, str) or key.lower() in NOT_ATTRIBUTES:
                continue
            if is_other_schema(key):
                self.note_ignored(key)
                continue
            path = parse_key(key, core_urn=CORE_USER, known_urns=self.known_urns())
            target = self.target(path, strict=False)
            if target is not None:
                self.operate(op, target, value, explicit=False)

    def operate(self, op: str, target: Target, value, *, explicit: bool) -> None:
        attribute = target.attribute
        if attribute is None:
            self.operate_on_extension(op, target, value)
            return
        if attribute.stored == DISCARDED:
            # `password` is accepted and dropped: people sign in through their identity
            # provider, so a provisioned password would only be a second, unmanaged
            # credential.
            return
        if attribute.stored == SSH_KEYS:
            self.write_ssh_keys(op, target, value)
            return
        if attribute.stored == CUSTOM:
            self.write_custom(op, attribute, value)
            return
        if not attribute.writable or (target.sub is not None and not target.sub.writable):
            if not explicit:
                return  # read-only attributes echoed back in a body (Okta's PUT does)
            raise BadRequest(f"{target.text} is read-only.", scim_type=MUTABILITY)
        if op == REMOVE:
            self.remove(target, value)
        elif attribute.multi_valued:
            self.write_values(op, target, value)
        elif attribute.type == COMPLEX:
            self.write_complex(op, target, value)
        elif target.sub is not None:
            raise invalid_path(f"{attribute.name} has no sub-attributes.")
        else:
            self.set(attribute, clean(attribute, value))

    def extension_rows(self, schema: str) -> list[Attribute]:
        if schema == self.custom.urn:
            return list(self.custom.rows)
        return top_level(USER, schema)

    def operate_on_extension(self, op: str, target: Target, value) -> None:
        """The whole extension object: {"urn:...:enterprise:2.0:User": {...}}."""
        custom = target.schema == self.custom.urn
        # A PUT starts from nothing already; clearing here would also drop the values
        # the same body sent in the core namespace (Okta's default for custom ones).
        if op in (REMOVE, REPLACE) or (op == PUT and not custom):
            for attribute in self.extension_rows(target.schema):
                if attribute.stored == SSH_KEYS:
                    self.ssh_keys.replace([])
                else:
                    self.document.pop(attribute, None)
        if op == REMOVE:
            return
        if not isinstance(value, dict):
            raise invalid(f"{target.text} must be an object.")
        for key, item in value.items():
            if not isinstance(key, str):
                continue
            rows = self.custom.attribute if custom else lambda k: lookup(USER, target.schema, k)
            attribute = rows(key)
            if attribute is not None:
                self.operate(op, Target(target.schema, attribute, None, None, key), item,
                             explicit=False)  # fmt: skip
            elif custom:
                self.note_ignored(f"{target.schema}:{key}")

    def write_custom(self, op: str, attribute: Attribute, value) -> None:
        """A declared attribute: set, or for a multi-valued one add appends the values
        not already there and remove with a value takes those values out
        (RFC 7644 §3.5.2.1, §3.5.2.2)."""
        declared = self.custom.declaration(attribute)
        try:
            if op == REMOVE:
                if attribute.multi_valued and value not in EMPTY:
                    gone = clean_value(declared, value) or []
                    kept = [v for v in self.document.get(attribute) or [] if v not in gone]
                    self.set(attribute, kept)
                else:
                    self.document.pop(attribute, None)
                return
            cleaned = clean_value(declared, value)
            if op == ADD and attribute.multi_valued:
                current = list(self.document.get(attribute) or [])
                cleaned = current + [v for v in cleaned or [] if v not in current]
                cleaned = clean_value(declared, cleaned)
            self.set(attribute, cleaned)
        except InvalidValue as error:
            raise invalid(str(error)) from None

    def write_ssh_keys(self, op: str, target: Target, value) -> None:
        if op == REMOVE:
            self.ssh_keys.remove(value, value_filter=target.value_filter, text=target.text)
        elif target.value_filter is not None:
            raise invalid_path(
                f"{target.text!r}: a filter on {target.attribute.name} only removes keys."
            )
        elif op == ADD:
            self.ssh_keys.add(value)
        else:
            self.ssh_keys.replace(value)

    def set(self, attribute: Attribute, value) -> None:
        if value in EMPTY:
            if attribute.required:
                raise invalid(f"{attribute.name} is required.")
            self.document.pop(attribute, None)
        else:
            self.document[attribute] = value

    # -- complex ----------------------------------------------------------------------

    def write_complex(self, op: str, target: Target, value) -> None:
        attribute = target.attribute
        current = dict(self.document.get(attribute) or {})
        if target.sub is not None:
            written = {target.sub.sub: clean(target.sub, value)}
        elif op == PUT:
            written = clean(attribute, value) or {}
            current = {}
        else:
            # RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes not named are left as they are.
            written = clean(attribute, value) or {}
        if attribute.references and written.get("value", current.get("value")) != current.get(
            "value"
        ):
            current = {}
        current.update(written)
        current = {k: v for k, v in current.items() if v not in EMPTY}
        if attribute.references and not current.get("value"):
            current = {}
        self.set(attribute, current)

    # -- multi-valued -----------------------------------------------------------------

    def write_values(self, op: str, target: Target, value) -> None:
        attribute = target.attribute
        items = copy.deepcopy(self.document.get(attribute) or [])
        if target.value_filter is not None:
            items, written = self.write_matching(op, target, items, value)
        elif target.sub is not None:
            # `emails.value` without a filter names that sub-attribute of every value.
            items = items or [{}]
            written = range(len(items))
            for item in items:
                self.write_sub(item, target.sub, value)
        elif op == ADD:
            items, written = self.appended(attribute, items, clean(attribute, value) or [])
        else:
            items, written = clean(attribute, value) or [], ()
        items = [item for item in items if item]
        if len(items) > MAX_VALUES:
            raise invalid(f"{attribute.path} holds at most {MAX_VALUES} values.")
        self.set(attribute, one_primary(items, winners=set(written)))

    @staticmethod
    def write_sub(item: dict, sub: Attribute, value) -> None:
        cleaned = clean(sub, value)
        if cleaned is None:
            item.pop(sub.sub, None)
        else:
            item[sub.sub] = cleaned

    def appended(self, attribute: Attribute, items: list, new: list):
        """RFC 7644 §3.5.2.1: add appends, and an equal value is updated, not repeated."""
        written = []
        for item in new:
            index = next((i for i, old in enumerate(items) if _same(attribute, old, item)), None)
            if index is None:
                items.append(item)
                written.append(len(items) - 1)
            else:
                items[index] = {**items[index], **item}
                written.append(index)
        return items, written

    def write_matching(self, op: str, target: Target, items: list, value):
        attribute = target.attribute
        matched = [
            i for i, item in enumerate(items) if value_filter_matches(target.value_filter, item)
        ]
        if not matched:
            named_type = filter_type(target.value_filter)
            adds = op == ADD or (
                named_type is not None
                and named_type.lower() in (t.lower() for t in attribute.entra_adds_types)
            )
            if named_type is None or not adds:
                # RFC 7644 §3.5.2.3: a filter that matches no value is noTarget.
                raise BadRequest(
                    f"{target.text!r} matches no value of {attribute.name}.", scim_type=NO_TARGET
                )
            type_row = lookup(USER, attribute.schema, attribute.name, "type")
            items.append({"type": as_text(type_row, named_type)})
            matched = [len(items) - 1]
        for index in matched:
            if target.sub is not None:
                self.write_sub(items[index], target.sub, value)
            else:
                replacement = clean_object(attribute, value) or {}
                items[index] = {**items[index], **replacement}
        return items, matched

    # -- remove -----------------------------------------------------------------------

    def remove(self, target: Target, value) -> None:
        attribute = target.attribute
        whole = target.sub is None and target.value_filter is None
        if attribute.required and whole:
            raise BadRequest(f"{attribute.name} is required and cannot be removed.",
                             scim_type=MUTABILITY)  # fmt: skip
        if attribute.multi_valued:
            self.remove_values(target, value)
        elif target.sub is not None:
            current = dict(self.document.get(attribute) or {})
            current.pop(target.sub.sub, None)
            if attribute.references and target.sub.sub == "value":
                current = {}
            self.set(attribute, current)
        else:
            self.document.pop(attribute, None)

    def remove_values(self, target: Target, value) -> None:
        """RFC 7644 §3.5.2.2: remove the matched values (or their sub-attribute)."""
        attribute = target.attribute
        items = copy.deepcopy(self.document.get(attribute) or [])
        if target.value_filter is not None:
            matched = [
                i for i, item in enumerate(items)
                if value_filter_matches(target.value_filter, item)
            ]  # fmt: skip
            if not matched:
                raise BadRequest(
                    f"{target.text!r} matches no value of {attribute.name}.", scim_type=NO_TARGET
                )
        elif value not in EMPTY and target.sub is None:
            # A value list names the values to remove (as Entra does for members).
            named = clean(attribute, value) or []
            matched = [
                i for i, item in enumerate(items) if any(_same(attribute, item, n) for n in named)
            ]
        else:
            matched = list(range(len(items)))
        if target.sub is not None:
            for index in matched:
                items[index].pop(target.sub.sub, None)
        else:
            items = [item for i, item in enumerate(items) if i not in matched]
        self.set(attribute, [item for item in items if item])
