"""What a SCIM User body or PATCH asks for, as a state of User fields.

The adapter reads the user's current state, lets the request change a copy of it
(full replacement for POST/PUT, operations for PATCH), and hands the difference to
the accounts services. Nothing here writes to the database.
"""

import copy

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from accounts.models import User
from provisioning.errors import (
    INVALID_PATH,
    INVALID_SYNTAX,
    INVALID_VALUE,
    MUTABILITY,
    NO_TARGET,
    BadRequest,
)
from provisioning.paths import Path, filter_type, parse_key, parse_path, value_filter_matches
from provisioning.schemas import CORE_USER, ENTERPRISE_USER

ENTERPRISE = ENTERPRISE_USER.lower()
STRING_FIELDS = ("username", "email", "email_type", "given_name", "family_name")
STRING_FIELDS += ("name_formatted", "display_name", "external_id", "title", "locale")
STATE_FIELDS = (*STRING_FIELDS, "email_primary", "enterprise", "is_active")
# Core attributes (lower case) held in a plain text field.
CORE_TEXT = {
    "username": "username",
    "externalid": "external_id",
    "displayname": "display_name",
    "title": "title",
    "locale": "locale",
}
NAME_PARTS = {
    "givenname": "given_name",
    "familyname": "family_name",
    "formatted": "name_formatted",
}
# Enterprise extension attributes (lower case) -> key in User.enterprise.
ENTERPRISE_TEXT = {
    "department": "department",
    "employeenumber": "employeeNumber",
    "costcenter": "costCenter",
    "division": "division",
    "organization": "organization",
}
ENTERPRISE_TEXT_MAX_LENGTH = 255
MANAGER_KEYS = {"value": "value", "$ref": "$ref", "displayname": "displayName"}
# Read-only or server-kept attributes a client may echo back (Okta's PUT does).
IGNORED = {"id", "meta", "groups", "schemas"}
WORK_EMAIL = "work"
# Every attribute of RFC 7643 §4.1 (and the common ones): a PATCH path naming one of
# them is accepted even when it is not kept (Entra's default mappings send addresses
# and phone numbers); a path naming none of them is invalidPath.
CORE_USER_ATTRIBUTES = {
    "id", "externalid", "meta", "schemas", "username", "name", "displayname", "nickname",
    "profileurl", "title", "usertype", "preferredlanguage", "locale", "timezone", "active",
    "password", "emails", "phonenumbers", "ims", "photos", "addresses", "groups",
    "entitlements", "roles", "x509certificates",
}  # fmt: skip
ENTERPRISE_ATTRIBUTES = {*ENTERPRISE_TEXT, "manager"}


def invalid(detail: str) -> BadRequest:
    return BadRequest(detail, scim_type=INVALID_VALUE)


def state_of(user: User | None) -> dict:
    if user is None:
        state = {f: "" for f in STRING_FIELDS}
        return {
            **state,
            "email_type": WORK_EMAIL,
            "email_primary": True,
            "enterprise": {},
            "is_active": True,
        }
    state = {f: getattr(user, f) for f in STATE_FIELDS}
    state["enterprise"] = copy.deepcopy(user.enterprise or {})
    return state


def as_text(name: str, value, *, field: str | None = None, max_length: int | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string.")
    if "\x00" in value:
        raise invalid(f"{name} must not contain NUL characters.")
    if max_length is None and field is not None:
        max_length = User._meta.get_field(field).max_length
    if max_length is not None and len(value) > max_length:
        raise invalid(f"{name} is longer than {max_length} characters.")
    return value.strip() if field == "username" else value


def as_boolean(name: str, value) -> bool:
    """A boolean, or the strings "true"/"false" in any case.

    Microsoft Entra ID sends booleans as strings ("False") in PATCH operations.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid(f"{name} must be a boolean.")


def as_email(value) -> str:
    email = as_text("emails.value", value, field="email")
    if email:
        try:
            EmailValidator()(email)
        except ValidationError:
            raise invalid(f"{email!r} is not an email address.") from None
    return email


def work_email(entries) -> dict | None:
    """The entry to keep from an `emails` value: primary first, then work, then the first.

    Returns None when the list names no address at all.
    """
    if isinstance(entries, dict):  # OneLogin sends one object instead of a list.
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise invalid("emails must be a list of objects.")
    with_value = [e for e in entries if e.get("value")]
    if not with_value:
        return None
    for choose in (
        lambda e: e.get("primary") in (True, "true", "True"),
        lambda e: str(e.get("type", "")).lower() == WORK_EMAIL,
        lambda e: True,
    ):
        for entry in with_value:
            if choose(entry):
                return entry
    return None


def _joined(state: dict) -> str:
    return " ".join(p for p in (state["given_name"], state["family_name"]) if p)


class UserChange:
    """Applies SCIM attribute writes to a copy of a user's state."""

    def __init__(self, state: dict):
        self.original = copy.deepcopy(state)
        self.state = copy.deepcopy(state)

    def wanted(self) -> dict:
        """The state to store. A name.formatted that only joins the given and family names
        is not kept, so it follows later changes of those names (Entra's and Okta's
        documented flows expect exactly that); any other formatted name is kept as sent."""
        state = dict(self.state)
        derived = {_joined(state)}
        if not self.original["name_formatted"]:
            # Okta's GET-then-PUT echoes the formatted name we derived before the change.
            derived.add(_joined(self.original))
        if state["name_formatted"] in derived:
            state["name_formatted"] = ""
        return state

    # -- PUT / POST ---------------------------------------------------------------

    def replace_all(self, body: dict, *, keep_active: bool) -> None:
        """RFC 7644 §3.5.1: attributes left out of a PUT are cleared (read-only ones stay)."""
        active = self.state["is_active"]
        self.state = state_of(None)
        if keep_active:
            self.state["is_active"] = active
        self.write_object(body, op="replace")
        if not self.state["username"]:
            raise invalid("userName is required.")

    # -- PATCH ----------------------------------------------------------------------

    def apply(self, operation: dict) -> None:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise BadRequest(
                'Each PATCH operation is an object with an "op".', scim_type=INVALID_SYNTAX
            )
        op = operation["op"].lower()
        path = operation.get("path")
        value = operation.get("value")
        if op not in ("add", "replace", "remove"):
            raise invalid(f"Unknown PATCH op {operation.get('op')!r}.")
        if op == "remove":
            if not path:
                raise BadRequest("A remove operation needs a path.", scim_type=NO_TARGET)
            self.remove(self.known(self.parse(path)), value)
        elif path:
            self.write(self.known(self.parse(path)), value, op=op)
        else:
            if not isinstance(value, dict):
                raise invalid("A PATCH operation without a path needs an object value.")
            self.write_object(value, op=op)

    @staticmethod
    def parse(text) -> Path:
        return parse_path(text, core_urn=CORE_USER, known_urns=(ENTERPRISE_USER,))

    @staticmethod
    def known(path: Path) -> Path:
        """An explicit PATCH path must name a User attribute (vendor extensions pass)."""
        if path.attr and (
            (path.urn is None and path.attr not in CORE_USER_ATTRIBUTES)
            or (path.urn == ENTERPRISE and path.attr not in ENTERPRISE_ATTRIBUTES)
        ):
            raise BadRequest(f"{path.text!r} is not a User attribute.", scim_type=INVALID_PATH)
        return path

    # -- writes ---------------------------------------------------------------------

    def write_object(self, body: dict, *, op: str) -> None:
        for key, value in body.items():
            if not isinstance(key, str) or key in IGNORED:
                continue
            self.write(
                parse_key(key, core_urn=CORE_USER, known_urns=(ENTERPRISE_USER,)), value, op=op
            )

    def write(self, path: Path, value, *, op: str) -> None:
        if path.attr == "" and path.urn is not None:
            # The whole core or extension object: {"urn:...:enterprise:2.0:User": {...}}.
            if not isinstance(value, dict):
                raise invalid(f"{path.text} must be an object.")
            if path.urn == ENTERPRISE:
                if op == "replace" and path.value_filter is None:
                    self.state["enterprise"] = {}
                for key, item in value.items():
                    self.write_enterprise(key.lower(), None, item)
            else:
                self.write_object(value, op=op)
            return
        if path.urn == ENTERPRISE:
            self.write_enterprise(path.attr, path.sub, value)
        elif path.urn is None:
            self.write_core(path, value, op=op)
        # Attributes of other schemas (vendor extensions) are not kept.

    def write_core(self, path: Path, value, *, op: str) -> None:
        attr = path.attr
        if attr in CORE_TEXT and path.sub is None:
            field = CORE_TEXT[attr]
            self.state[field] = as_text(path.text, value, field=field)
        elif attr == "name":
            self.write_name(path, value)
        elif attr == "emails":
            self.write_emails(path, value, op=op)
        elif attr == "active" and path.sub is None:
            self.state["is_active"] = as_boolean("active", value)
        # `password` is accepted and dropped: people sign in through their identity
        # provider, so a provisioned password would only be a second, unmanaged
        # credential. Read-only and unknown attributes are ignored (RFC 7644 §3.3).

    def write_name(self, path: Path, value) -> None:
        if path.sub is None:
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise invalid("name must be an object.")
            for key, part in value.items():
                field = NAME_PARTS.get(key.lower())
                if field:
                    self.state[field] = as_text(f"name.{key}", part, field=field)
        elif path.sub in NAME_PARTS:
            field = NAME_PARTS[path.sub]
            self.state[field] = as_text(path.text, value, field=field)
        # Other parts (middleName, honorificPrefix, ...) are not kept.

    def _matches_kept_email(self, path: Path) -> bool:
        if path.value_filter is None:
            return True
        item = {
            "type": self.state["email_type"],
            "primary": self.state["email_primary"],
            "value": self.state["email"],
        }
        return value_filter_matches(path.value_filter, item)

    def keep_email(self, entry: dict) -> None:
        self.state["email"] = as_email(entry.get("value"))
        self.state["email_type"] = as_text("emails.type", entry.get("type"), field="email_type")
        primary = entry.get("primary")
        self.state["email_primary"] = False if primary is None else as_boolean("primary", primary)

    def write_emails(self, path: Path, value, *, op: str) -> None:
        """One address is kept. A value-filtered path (Entra's emails[type eq "work"].value)
        writes that address, taking the type the filter names."""
        if path.value_filter is not None:
            named_type = filter_type(path.value_filter)
            if named_type is not None and self.state["email_type"].lower() != named_type.lower():
                self.state["email_type"] = as_text("emails.type", named_type, field="email_type")
            elif named_type is None and not self._matches_kept_email(path):
                return
        if path.sub == "value":
            self.state["email"] = as_email(value)
        elif path.sub in ("type", "primary"):
            entry = {
                "value": self.state["email"],
                "type": self.state["email_type"],
                "primary": self.state["email_primary"],
                path.sub: value,
            }
            self.keep_email(entry)
        elif path.sub is None:
            if path.value_filter is not None and isinstance(value, dict):
                value = [{"type": self.state["email_type"], "primary": True, **value}]
            entry = work_email(value if value is not None else [])
            if entry is not None:
                self.keep_email(entry)
            elif op == "replace":
                self.state["email"] = ""

    def write_enterprise(self, attr: str, sub: str | None, value) -> None:
        enterprise = self.state["enterprise"]
        if attr in ENTERPRISE_TEXT and sub is None:
            key = ENTERPRISE_TEXT[attr]
            text = as_text(key, value, max_length=ENTERPRISE_TEXT_MAX_LENGTH)
            if text:
                enterprise[key] = text
            else:
                enterprise.pop(key, None)
        elif attr == "manager":
            self.write_manager(sub, value)

    def write_manager(self, sub: str | None, value) -> None:
        """RFC 7643 §4.3: manager is {value, $ref, displayName}, kept as sent.

        Entra sends the manager as a bare id string. The value is not checked against
        this organization's users: Okta often maps an id of its own into it.
        """
        if sub is None and isinstance(value, dict):
            manager = {}
            for key, item in value.items():
                name = MANAGER_KEYS.get(key.lower()) if isinstance(key, str) else None
                text = as_text(f"manager.{key}", item, max_length=ENTERPRISE_TEXT_MAX_LENGTH)
                if name and text:
                    manager[name] = text
        elif sub in (None, "value") and (value is None or isinstance(value, str)):
            manager_id = as_text("manager.value", value, max_length=ENTERPRISE_TEXT_MAX_LENGTH)
            manager = {"value": manager_id}
        elif sub in MANAGER_KEYS:
            manager = dict(self.state["enterprise"].get("manager") or {})
            text = as_text(f"manager.{sub}", value, max_length=ENTERPRISE_TEXT_MAX_LENGTH)
            manager[MANAGER_KEYS[sub]] = text
        elif sub is not None:
            return  # sub-attributes the schema does not have
        else:
            raise invalid("manager must be an object or an id.")
        manager = {key: text for key, text in manager.items() if text}
        if manager.get("value"):
            self.state["enterprise"]["manager"] = manager
        else:
            self.state["enterprise"].pop("manager", None)

    # -- remove ---------------------------------------------------------------------

    def remove(self, path: Path, value) -> None:
        if path.urn == ENTERPRISE:
            if path.attr == "":
                self.state["enterprise"] = {}
            else:
                self.write_enterprise(path.attr, path.sub, None)
            return
        if path.urn is not None:
            return
        attr = path.attr
        if attr == "username":
            raise BadRequest("userName is required and cannot be removed.", scim_type=MUTABILITY)
        if attr == "active":
            raise invalid("active cannot be removed; replace it with true or false.")
        if attr in CORE_TEXT and path.sub is None:
            self.state[CORE_TEXT[attr]] = ""
        elif attr == "name":
            parts = NAME_PARTS.values() if path.sub is None else [NAME_PARTS.get(path.sub)]
            for field in parts:
                if field:
                    self.state[field] = ""
        elif attr == "emails" and path.sub in (None, "value") and self._matches_kept_email(path):
            self.state["email"] = ""
