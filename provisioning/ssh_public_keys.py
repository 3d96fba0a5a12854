"""sshPublicKeys of the Roster extension: SCIM values in, the identity provider's keys out.

The keys an identity provider sends are the person's file-transfer keys with source IDP
(transfer.models.SshKey); keys the person or an admin added are neither shown nor
changed through SCIM. A request's effect on them is the list of keys the provider will
manage afterwards, which transfer.services.ssh_keys_replace_from_idp makes so. Nothing
here writes to the database.
"""

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from provisioning.attributes import MAX_VALUES, ROSTER_USER, USER, lookup
from provisioning.errors import INVALID_VALUE, NO_TARGET, BadRequest
from provisioning.paths import value_filter_ids
from transfer.models import CredentialSource, SshKey
from transfer.services import parse_key_list
from transfer.ssh_keys import KeyRefused, parse_public_key, split_keys

SSH_PUBLIC_KEYS = lookup(USER, ROSTER_USER, "sshPublicKeys")
NAME = SSH_PUBLIC_KEYS.name
# Where a prefetch puts a user's IdP-managed keys; `user.ssh_keys` stays every key.
LOADED = "scim_ssh_public_keys"
SHAPES = f'{NAME} values are OpenSSH public key lines: strings or {{"value": "<line>"}} objects.'
FILTER_FORM = f'{NAME} filters name keys by value: {NAME}[value eq "<key>"].'


def _idp_keys() -> QuerySet[SshKey]:
    return SshKey.objects.filter(source=CredentialSource.IDP, revoked_at=None).order_by(
        "created_at", "id"
    )


def idp_keys_prefetch() -> Prefetch:
    """Users' live IdP-managed keys, oldest first: one query for a page of users."""
    return Prefetch("ssh_keys", queryset=_idp_keys(), to_attr=LOADED)


def idp_keys_of(user: User) -> list[SshKey]:
    """The user's IdP-managed keys as prefetched, else read now (and not kept)."""
    if hasattr(user, LOADED):
        return getattr(user, LOADED)
    return list(_idp_keys().filter(user=user))


def has_no_keys_yet(user: User) -> None:
    """A user created a moment ago without keys: rendering it reads none."""
    setattr(user, LOADED, [])


def line_of(key: SshKey) -> str:
    """`type base64 label`; an IdP key's label is the comment it was sent with."""
    return f"{key.public_key} {key.label}".strip()


def values_of(user: User) -> list[str]:
    """The keys as /Schemas declares them: a multi-valued string (RFC 7643 §2.4), which
    is also what Okta's string-array attributes import. Writes accept {"value": ...}
    objects too."""
    return [line_of(key) for key in idp_keys_of(user)]


def _text_of(item) -> str:
    if isinstance(item, dict):
        # RFC 7643 §2.1: sub-attribute names are case-insensitive.
        item = next((v for k, v in item.items() if str(k).lower() == "value"), None)
    if not isinstance(item, str):
        raise BadRequest(SHAPES, scim_type=INVALID_VALUE)
    return item


def lines_of(value) -> list[str]:
    """The key lines a value holds, each checked; a refused one is named by its position.

    A list of {"value": line} objects or of strings (Okta's string array), one of them,
    or one string of newline-separated lines: Microsoft Entra ID's custom attributes
    are single strings, so an administrator keeps several keys in one.
    """
    if value is None:
        return []
    lines = []
    for item in value if isinstance(value, list) else [value]:
        lines += split_keys(_text_of(item))
    if len(lines) > MAX_VALUES:
        raise BadRequest(f"{NAME} holds at most {MAX_VALUES} values.", scim_type=INVALID_VALUE)
    parse_key_list(lines, attribute=NAME)
    return lines


def _fingerprint(line: str) -> str | None:
    try:
        return parse_public_key(line).fingerprint
    except KeyRefused:
        return None


class SshKeysChange:
    """The IdP-managed keys a request leaves the user with: `lines`, None until named."""

    def __init__(self, user: User | None):
        self.user = user
        self.lines: list[str] | None = None

    def current(self) -> list[str]:
        if self.lines is not None:
            return self.lines
        if self.user is None:
            return []
        return values_of(self.user)

    def replace(self, value) -> None:
        self.lines = lines_of(value)

    def add(self, value) -> None:
        self.lines = [*self.current(), *lines_of(value)]

    def remove(self, value, *, value_filter: str | None, text: str) -> None:
        """Every key; the keys a value lists; or those a filter names, noTarget if none.

        Keys compare by fingerprint, so a comment sent differently still names its key.
        """
        if value_filter is None and value in (None, "", [], {}):
            self.lines = []
            return
        if value_filter is None:
            named = lines_of(value)
        else:
            named = value_filter_ids(value_filter, refusal=FILTER_FORM)
        unwanted = {_fingerprint(line) for line in named} - {None}
        current = self.current()
        kept = [line for line in current if _fingerprint(line) not in unwanted]
        if value_filter is not None and len(kept) == len(current):
            # RFC 7644 §3.5.2.2: a filter that matches no value is noTarget.
            raise BadRequest(f"{text!r} matches no value of {NAME}.", scim_type=NO_TARGET)
        self.lines = kept
