"""What a SCIM Group body or PATCH asks for, as one description for `group_apply`.

The operations are read in order and folded into the request's net effect: the new
displayName and externalId, and the members to add and remove (or the complete list
to replace them with). Membership changes name only the members they touch, so adding
one member to a large group costs the same as adding one to a small group.
"""

from dataclasses import dataclass, field

from accounts import services
from accounts.models import Group
from provisioning.attributes import GROUP, top_level
from provisioning.bounds import check_not_too_many
from provisioning.errors import (
    INVALID_PATH,
    INVALID_SYNTAX,
    INVALID_VALUE,
    MUTABILITY,
    NO_TARGET,
    BadRequest,
)
from provisioning.paths import parse_key, parse_path, value_filter_ids
from provisioning.schemas import CORE_GROUP

ADD = "add"
REMOVE = "remove"
REPLACE = "replace"
EXTERNAL_ID_MAX_LENGTH = Group._meta.get_field("external_id").max_length
GROUP_ATTRIBUTES = {a.name.lower() for a in top_level(GROUP)} | {"schemas"}
# Okta sends the group's id along with a rename; it is read-only, and so are meta and
# the schemas list.
READ_ONLY = {a.name.lower() for a in top_level(GROUP) if not a.writable} | {"schemas"}


def invalid(detail: str) -> BadRequest:
    return BadRequest(detail, scim_type=INVALID_VALUE)


def display_name_of(value) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise invalid("displayName must be a non-empty string.")
    return value


def external_id_of(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise invalid("externalId must be a string.")
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        raise invalid(f"externalId is longer than {EXTERNAL_ID_MAX_LENGTH} characters.")
    return value


def member_ids_of(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise invalid('members must be a list of {"value": "<user id>"} objects.')
    check_not_too_many("members in one request", len(value))
    ids = []
    for member in value:
        if not isinstance(member, dict) or not isinstance(member.get("value"), str):
            raise invalid('Each member is an object with a "value" string (the user id).')
        if str(member.get("type", "User")).lower() not in ("user", ""):
            raise invalid("Only users can be group members.")
        ids.append(member["value"])
    return ids


@dataclass
class GroupChange:
    display_name: str | None = None
    external_id: str | None = None
    # Member ids, in the order named; dicts keep that order without repeats.
    add: dict = field(default_factory=dict)
    remove: dict = field(default_factory=dict)
    replace: dict | None = None
    # Every id that must name a user of the organization (added or replaced in).
    named: dict = field(default_factory=dict)

    @classmethod
    def replacing(cls, body: dict) -> "GroupChange":
        """POST or PUT: displayName, externalId and the complete member list."""
        if not isinstance(body, dict):
            raise invalid("The body must be a Group object.")
        lowered = {k.lower(): v for k, v in body.items() if isinstance(k, str)}
        change = cls()
        change.rename(display_name_of(lowered.get("displayname")))
        change.set_external_id(external_id_of(lowered.get("externalid")))
        change.replace_members(member_ids_of(lowered.get("members")))
        return change

    @classmethod
    def patching(cls, operations: list) -> "GroupChange":
        change = cls()
        for operation in operations:
            change.read_operation(operation)
        return change

    def read_operation(self, operation) -> None:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise BadRequest(
                'Each PATCH operation is an object with an "op".', scim_type=INVALID_SYNTAX
            )
        op = operation["op"].lower()
        path, value = operation.get("path"), operation.get("value")
        if op not in (ADD, REMOVE, REPLACE):
            raise invalid(f"Unknown PATCH op {operation.get('op')!r}.")
        if not path:
            if op == REMOVE:
                raise BadRequest("A remove operation needs a path.", scim_type=NO_TARGET)
            if not isinstance(value, dict):
                raise invalid("A PATCH operation without a path needs an object value.")
            for key, item in value.items():
                if isinstance(key, str) and key.lower() not in READ_ONLY:
                    self.read_path(op, parse_key(key, core_urn=CORE_GROUP), item, key)
            return
        parsed = parse_path(path, core_urn=CORE_GROUP)
        if parsed.urn is None and parsed.attr not in GROUP_ATTRIBUTES:
            raise BadRequest(f"{path!r} is not a Group attribute.", scim_type=INVALID_PATH)
        self.read_path(op, parsed, value, path)

    def read_path(self, op: str, path, value, text: str) -> None:
        if path.urn is not None or path.sub is not None:
            return  # attributes this service does not keep
        if path.attr == "displayname":
            if op == REMOVE:
                raise BadRequest("displayName is required.", scim_type=MUTABILITY)
            self.rename(display_name_of(value))
        elif path.attr == "externalid":
            self.set_external_id("" if op == REMOVE else external_id_of(value))
        elif path.attr == "members":
            self.read_members(op, path, value, text)

    def read_members(self, op: str, path, value, text: str) -> None:
        if path.value_filter is not None:
            # Okta removes one member per operation: members[value eq "<id>"].
            if op != REMOVE:
                raise BadRequest(
                    f"{text!r}: a member filter is only used to remove members.",
                    scim_type=INVALID_PATH,
                )
            self.remove_members(value_filter_ids(path.value_filter))
        elif op == ADD:
            self.add_members(member_ids_of(value))
        elif op == REPLACE:
            self.replace_members(member_ids_of(value))
        elif value is None or value == []:
            # RFC 7644 §3.5.2.2: remove of "members" with no value removes them all.
            self.replace_members([])
        else:
            # Entra: remove path "members" with the members to remove as the value.
            self.remove_members(member_ids_of(value))

    # -- folding the operations into one change -------------------------------------

    def rename(self, display_name: str) -> None:
        self.display_name = display_name

    def set_external_id(self, external_id: str) -> None:
        self.external_id = external_id

    def replace_members(self, ids: list[str]) -> None:
        self.replace = dict.fromkeys(ids)
        self.add, self.remove = {}, {}
        self.named.update(self.replace)

    def add_members(self, ids: list[str]) -> None:
        self.named.update(dict.fromkeys(ids))
        target = self.add if self.replace is None else self.replace
        for user_id in ids:
            self.remove.pop(user_id, None)
            target[user_id] = None

    def remove_members(self, ids: list[str]) -> None:
        for user_id in ids:
            self.add.pop(user_id, None)
            if self.replace is None:
                self.remove[user_id] = None
            else:
                self.replace.pop(user_id, None)

    def apply(self, adapter):
        """One call of `group_apply` (or `group_create`); returns the group."""
        if adapter.obj is not None and self.replace is None and list(self.named) == list(self.add):
            # Every user named is one to add: the service reads them in the statement
            # that adds them, and refuses an unknown id as resolve_members would.
            return services.group_apply(
                group=adapter.obj,
                actor=adapter.actor,
                display_name=self.display_name,
                external_id=self.external_id,
                add_ids=list(self.add),
                remove=adapter.known_members(list(self.remove)),
            )
        users = adapter.resolve_members(list(self.named))
        by_id = {str(user.pk): user for user in users}
        if adapter.obj is None:
            return services.group_create(
                organization=adapter.organization,
                display_name=self.display_name,
                external_id=self.external_id or "",
                members=[by_id[i] for i in self.replace or ()],
                actor=adapter.actor,
            )
        return services.group_apply(
            group=adapter.obj,
            actor=adapter.actor,
            display_name=self.display_name,
            external_id=self.external_id,
            add=[by_id[i] for i in self.add],
            remove=adapter.known_members(list(self.remove)),
            replace=None if self.replace is None else [by_id[i] for i in self.replace],
        )
