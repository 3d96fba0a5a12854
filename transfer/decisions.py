"""Login decisions for file servers: may this login name log in now, with this key or
this app password, and to what.

Nothing is cached across logins: every decision reads the organization's setting, the
person, their credential and their groups at that moment, so a SCIM change takes effect
at the very next login. A decision is two statements on PostgreSQL (the transfer key
with the person, their credential, groups and folders; the log row), and an unknown login
name costs the same lookups and one digest computation, as a wrong credential does
(docs/transfer.md).
"""

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from accounts import raw_rows as rows
from accounts.domain_verification import email_domain_key
from accounts.folding import casefold_key
from accounts.models import (
    DomainState,
    Group,
    Membership,
    Organization,
    OrganizationDomain,
    User,
)
from transfer import ssh_keys
from transfer.models import (
    APP_PASSWORD,
    Access,
    AppPassword,
    CredentialKind,
    FolderGrant,
    PosixId,
    Refusal,
    SshKey,
    TransferKey,
    TransferMode,
    TransferPolicy,
)

QUALIFIER = "+"
# What an OpenSSH or NSS account name may hold, after folding: never "." or "..", and
# never a leading "-" that a command taking the name as an argument reads as an option.
SYSTEM_NAME = re.compile(r"^(?![.-])[a-z0-9._@+-]+$")
# A login name longer than this is no user's (userName is at most 255 characters).
MAX_LOGIN_LENGTH = 320


@dataclass
class Credential:
    kind: str
    id: str
    label: str
    fingerprint: str = ""


@dataclass
class Decision:
    allowed: bool
    reason: str = ""
    user: User | None = None
    login: str = ""
    credential: Credential | None = None
    groups: list = field(default_factory=list)
    folders: list = field(default_factory=list)


# -- Login names -------------------------------------------------------------------------


def login_name(user: User, *, verified: bool) -> str:
    """The person's one login name: their userName when it is at a domain their
    organization verified (unique on the platform), else `<org-slug>+<userName>`."""
    if verified:
        return user.username
    return f"{user.organization.slug}{QUALIFIER}{user.username}"


def works_with_system_accounts(login: str) -> bool:
    """Whether OpenSSH and NSS can take the login name as an account name."""
    return bool(SYSTEM_NAME.match(casefold_key(login)))


@dataclass(frozen=True)
class LoginName:
    """A parsed login name: the keys to look its person up by.

    A login name at a verified domain is bare (`bob@acme.example`); any other is
    qualified by its organization (`acme+bob@gmail.com`). Which one a name is can only be
    told by asking whether its domain is verified, so both readings go into one lookup;
    the bare reading wins, since verified domains are unique on the platform.
    """

    login: str
    username_key: str
    domain: str
    slug: str = ""
    qualified_key: str = ""
    qualified_domain: str = ""


def parse_login(login) -> LoginName | None:
    """The readings of a login name; None for what cannot be one."""
    if not isinstance(login, str) or not login.strip() or len(login) > MAX_LOGIN_LENGTH:
        return None
    if not login.isprintable():
        return None
    slug, plus, rest = login.partition(QUALIFIER)
    qualified = bool(plus and slug and rest and "@" not in slug)
    return LoginName(
        login=login,
        username_key=casefold_key(login),
        domain=email_domain_key(login),
        slug=slug.lower() if qualified else "",
        qualified_key=casefold_key(rest) if qualified else "",
        qualified_domain=email_domain_key(rest) if qualified else "",
    )


# The credential a lookup joins: the presented key's (by fingerprint) or app password's
# (by prefix) among the person's live ones, or none.
CREDENTIAL_MODELS = {CredentialKind.SSH_KEY: SshKey, CredentialKind.APP_PASSWORD: AppPassword}
CREDENTIAL_LOOKUP = {CredentialKind.SSH_KEY: "fingerprint", CredentialKind.APP_PASSWORD: "prefix"}
# What a decision reads of each row (accounts.raw_rows `only`, the rest deferred): only
# what it uses, for its answer, its refusal reason, the log row and the audit event. A
# key's text, a secret's labels and timestamps nothing checks, an organization's name and
# settings are never read on this path. A test fails if any outcome loads a column left
# out.
PERSON_FIELDS = (
    "id",
    "organization",
    "username",
    "username_key",
    "email",
    "given_name",
    "family_name",
    "display_name",
    "is_active",
)
ORGANIZATION_FIELDS = ("id", "slug")
TRANSFER_KEY_FIELDS = (
    "id",
    "prefix",
    "digest",
    "key_id",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "organization",
)
CREDENTIAL_FIELDS = {
    CredentialKind.SSH_KEY: ("id", "key_type", "label", "expires_at", "last_used_at"),
    CredentialKind.APP_PASSWORD: (
        "id",
        "label",
        "prefix",
        "digest",
        "key_id",
        "expires_at",
        "last_used_at",
    ),
}
# The models a person's row carries, in the order of their columns.
PERSON_MODELS = (
    (User, PERSON_FIELDS),
    (Organization, ORGANIZATION_FIELDS),
    (TransferPolicy, ("organization", "mode")),
    (PosixId, ("id", "number")),
)
# The transfer key presented with a request and its organization (none for a platform
# key), at the start of every `presented_sql` row.
PRESENTED_MODELS = ((TransferKey, TRANSFER_KEY_FIELDS), (Organization, ORGANIZATION_FIELDS))


def _verified_sql(domain_param: str) -> str:
    """Whether the person's organization verified the domain `domain_param` (an SQL
    parameter; never true for '', since no domain is blank)."""
    domain = OrganizationDomain
    return (
        f"EXISTS (SELECT 1 FROM {rows.table(domain)} d "  # noqa: S608
        f"WHERE {rows.column(domain, 'domain', 'd')} = {domain_param} "
        f"AND {rows.column(domain, 'organization', 'd')} = "
        f"{rows.column(User, 'organization', 'u')} "
        f"AND {rows.column(domain, 'state', 'd')} = %(verified)s)"
    )


# The transfer key presented with the request, found by its prefix in the same
# statement as the person (`presented_sql`).
KEY_PREFIX = "%(key_prefix)s"


def transfer_key_sql(prefix: str) -> str:
    """The transfer key with the lookup prefix `prefix` (an SQL parameter) and its
    organization's columns (blank for a platform key)."""
    key = rows.select_joined(
        PRESENTED_MODELS[0], "k", "organization", "o", outer=True, related_only=ORGANIZATION_FIELDS
    )
    return f"{key} WHERE {rows.column(TransferKey, 'prefix', 'k')} = {prefix}"


def presented_sql(person_sql: str, select: str, joins: str, order: str = "") -> str:
    """A statement that reads the transfer key presented with the request (`KEY_PREFIX`)
    and, in the same round trip, the person `person_sql` finds (`presented_person_sql`)
    and what `select` and `joins` add to them: the request's
    only statement. Its rows are the key's columns (`presented_key`), then the person's,
    then `select`'s; none when no key has the prefix, blank person columns when no
    person is found.

    The key's digest is compared in Python afterwards: a request whose key is wrong or
    revoked is refused and nothing read about the person is used.
    """
    return (
        f"WITH presented AS ({transfer_key_sql(KEY_PREFIX)}), "  # noqa: S608
        f"person AS ({person_sql}) "
        f"SELECT presented.*, person.*, {select} "
        f"FROM presented LEFT JOIN person ON 1 = 1 {joins} {order}"
    ).strip()


def presented_width() -> int:
    """How many columns of a `presented_sql` row the key and its organization take."""
    return sum(rows.width(model) for model in PRESENTED_MODELS)


def presented_key(row: tuple) -> tuple[TransferKey, tuple]:
    """The transfer key (with its organization, None for a platform key) at the start of
    a `presented_sql` row, and the rest of the row."""
    key, key.organization = rows.instances(row, list(PRESENTED_MODELS))
    return key, row[presented_width() :]


@functools.cache
def presented_person_sql(credential_kind: str | None, in_scope: bool) -> str:
    """The person statement `presented_sql` takes: the person a login name names among
    the presented key's organization's people (anyone's, for a platform key), with their
    organization, its setting, their POSIX id and, as asked, the presented credential
    and whether they are in the file-transfer scope (accounts.raw_rows: every login
    decision runs it).

    Both readings of the name are in it; a reading that does not apply has blank
    parameters, which match nothing. Both keys come first, so that an index on the
    folded login name finds the candidates (the unique one within an organization,
    transfer migration 0002 across them) before the readings are checked.
    """
    u, o = rows.column, rows.table
    select = [
        rows.columns(model, alias) for model, alias in zip(PERSON_MODELS, "uopx", strict=True)
    ]
    joins = [
        f"JOIN {o(Organization)} o "
        f"ON {u(Organization, 'id', 'o')} = {u(User, 'organization', 'u')}",
        f"LEFT JOIN {o(TransferPolicy)} p "
        f"ON {u(TransferPolicy, 'organization', 'p')} = {u(Organization, 'id', 'o')}",
        f"LEFT JOIN {o(PosixId)} x ON {u(PosixId, 'user', 'x')} = {u(User, 'id', 'u')}",
    ]
    if credential_kind is not None:
        model = CREDENTIAL_MODELS[credential_kind]
        select.append(rows.columns((model, CREDENTIAL_FIELDS[credential_kind]), "c"))
        joins.append(
            f"LEFT JOIN {o(model)} c ON {u(model, 'user', 'c')} = {u(User, 'id', 'u')} "
            f"AND {u(model, CREDENTIAL_LOOKUP[credential_kind], 'c')} = %(credential)s "
            f"AND {u(model, 'revoked_at', 'c')} IS NULL"
        )
    if in_scope:
        scope = TransferPolicy.scope_groups.through
        select.append(
            f"EXISTS (SELECT 1 FROM {o(scope)} s JOIN {o(Membership)} m "  # noqa: S608
            f"ON {u(Membership, 'group', 'm')} = {u(scope, 'group', 's')} "
            f"WHERE {u(scope, 'transferpolicy', 's')} = {u(User, 'organization', 'u')} "
            f"AND {u(Membership, 'user', 'm')} = {u(User, 'id', 'u')})"
        )
    # Named, for the statement around this one (`presented_sql`) to join on.
    select.append(
        f"{u(User, 'id', 'u')} AS person_id, "
        f"{u(User, 'organization', 'u')} AS person_organization_id"
    )
    key = u(User, "username_key", "u")
    where = [
        f"{key} IN (%(bare_key)s, %(qualified_key)s)",
        f"{u(User, 'organization', 'u')} IS NOT NULL",
        f"(({key} = %(bare_key)s AND {_verified_sql('%(domain)s')}) "
        f"OR ({u(Organization, 'slug', 'o')} = %(slug)s AND {key} = %(qualified_key)s "
        f"AND NOT {_verified_sql('%(qualified_domain)s')}))",
    ]
    # An organization's key only ever finds its own organization's people; a platform
    # key's organization is NULL, and then anyone's. The key's organization is the only
    # column of that name in `presented`.
    person_organization = u(User, "organization", "u")
    where.append(
        f"{person_organization} = COALESCE((SELECT {u(TransferKey, 'organization')} "  # noqa: S608
        f"FROM presented), {person_organization})"
    )
    return (
        f"SELECT {', '.join(select)} FROM {o(User)} u {' '.join(joins)} "  # noqa: S608
        f"WHERE {' AND '.join(where)} "
        # The bare reading wins: verified domains are unique on the platform.
        f"ORDER BY CASE WHEN {key} = %(bare_key)s THEN 0 ELSE 1 END LIMIT 1"
    )


def person_params(name: LoginName, *, key_prefix: str, credential_lookup: str = "") -> dict:
    """The parameters of a `presented_sql` statement for the login name and the prefix
    of the transfer key presented with it."""
    return {
        "bare_key": name.username_key,
        # A name with no qualified reading repeats the bare key: the IN needs two.
        "qualified_key": name.qualified_key or name.username_key,
        "domain": name.domain,
        "slug": name.slug,
        "qualified_domain": name.qualified_domain,
        "verified": DomainState.VERIFIED,
        "credential": credential_lookup,
        "key_prefix": key_prefix,
    }


def policy_of(user: User) -> TransferPolicy | None:
    try:
        return user.organization.transfer_policy
    except TransferPolicy.DoesNotExist:
        return None


def _person_models(credential_kind: str | None) -> list:
    """The models a person's row carries, in the order of their columns."""
    if credential_kind is None:
        return [*PERSON_MODELS]
    return [
        *PERSON_MODELS,
        (CREDENTIAL_MODELS[credential_kind], CREDENTIAL_FIELDS[credential_kind]),
    ]


def person_width(credential_kind: str | None, in_scope: bool = False) -> int:
    """How many columns of a row a person statement's person takes (its two named ids
    aside)."""
    return sum(rows.width(model) for model in _person_models(credential_kind)) + in_scope


def person_from_row(row: tuple, credential_kind: str | None, in_scope: bool) -> User | None:
    """The person, their organization (with its setting, or none) and their POSIX id (or
    none) loaded from one row, as select_related would cache them; None for the blank
    columns of no person."""
    models = _person_models(credential_kind)
    person, organization, policy, posix_id, *credential = rows.instances(row, models)
    if person is None:
        return None
    person.organization = organization
    Organization.transfer_policy.related.set_cached_value(organization, policy)
    User.posix_id.related.set_cached_value(person, posix_id)
    person.credential = credential[0] if credential else None
    if in_scope:
        person.in_scope = bool(row[sum(rows.width(model) for model in models)])
    return person


@dataclass(frozen=True)
class Attempt:
    """What a file server asks: this login name, over this protocol, with this secret."""

    login: LoginName
    protocol: str
    ip: str | None
    password: str | None = None
    public_key: ssh_keys.PresentedKey | None = None

    @property
    def kind(self) -> str:
        return CredentialKind.APP_PASSWORD if self.password is not None else CredentialKind.SSH_KEY


def _credential_matches(attempt: Attempt, person: User | None) -> bool:
    """Whether the person's matching credential is the one presented.

    An app password is checked by its digest; for an unknown person one digest is
    computed all the same, so that both cost the same. A key was found by its
    fingerprint, computed for every attempt, and the line must name its type.
    """
    if attempt.kind == CredentialKind.SSH_KEY:
        return (
            person is not None
            and attempt.public_key is not None
            and person.credential is not None
            and person.credential.key_type == attempt.public_key.key_type
        )
    if person is None or person.credential is None:
        # The digest a match would have cost: nothing to compare it with.
        APP_PASSWORD.digest_of(attempt.password)
        return False
    return person.credential.holds(APP_PASSWORD, attempt.password)


def _credential_lookup(attempt: Attempt) -> str:
    """The presented credential's fingerprint (a key) or lookup prefix (a password)."""
    if attempt.kind == CredentialKind.SSH_KEY:
        return attempt.public_key.fingerprint if attempt.public_key else ""
    return APP_PASSWORD.prefix_of(attempt.password) or ""


def _person_and_groups(found: list[tuple], kind: str) -> tuple[User | None, list[tuple]]:
    """The person of `_decision_sql`'s rows (without the key's columns) and the rows of
    their groups and folders (`groups_from`)."""
    if not found:
        return None, []
    person = person_from_row(found[0], kind, in_scope=False)
    # The person's part, their two named keys, then one membership and grant per row.
    start = person_width(kind) + 2
    return person, [row[start:] for row in found]


def presented_query(attempt: Attempt, key_prefix: str) -> tuple[str, dict]:
    """The statement and parameters `find_presented` runs."""
    params = person_params(
        attempt.login, credential_lookup=_credential_lookup(attempt), key_prefix=key_prefix
    )
    return _decision_sql(attempt.kind), params


def find_presented(
    attempt: Attempt, key_prefix: str
) -> tuple[TransferKey | None, tuple[User | None, list[tuple]]]:
    """The transfer key with the prefix (None for none), and the person the attempt's
    login name names among that key's people, with their organization, setting, POSIX
    id and the credential that matches the attempt's (`credential`, None without one),
    and the rows of their groups and folders (`groups_from`): one statement, the
    request's first (`presented_sql`; the key's digest is the caller's to compare)."""
    found = rows.fetch_first(*presented_query(attempt, key_prefix))
    if not found:
        return None, (None, [])
    key, _ = presented_key(found[0])
    start = presented_width()
    return key, _person_and_groups([row[start:] for row in found], attempt.kind)


def refusal_of(attempt: Attempt, person: User | None, now: datetime) -> str:
    """The reason to refuse, checked in this order, or '' to allow (scope aside)."""
    credential_ok = _credential_matches(attempt, person)
    if person is None:
        return Refusal.UNKNOWN_USER
    if not credential_ok:
        return Refusal.BAD_CREDENTIAL
    if person.credential.expires_at is not None and person.credential.expires_at <= now:
        return Refusal.EXPIRED_CREDENTIAL
    if not person.is_active:
        return Refusal.INACTIVE
    policy = policy_of(person)
    if policy is None or policy.mode == TransferMode.OFF:
        return Refusal.TRANSFER_OFF
    return ""


def credential_of(attempt: Attempt, person: User) -> Credential:
    if attempt.kind == CredentialKind.SSH_KEY:
        return Credential(
            kind=CredentialKind.SSH_KEY,
            id=f"key_{person.credential.pk}",
            label=person.credential.label,
            fingerprint=attempt.public_key.fingerprint,
        )
    return Credential(
        kind=CredentialKind.APP_PASSWORD,
        id=f"pw_{person.credential.pk}",
        label=person.credential.label,
    )


def folders_of(grants) -> list[dict]:
    """The union of the groups' grants: one entry per path, write winning."""
    access: dict[str, str] = {}
    for path, granted in grants:
        if path is not None and access.get(path) != Access.WRITE:
            access[path] = granted
    return [{"path": path, "access": access[path]} for path in sorted(access)]


@functools.cache
def _decision_sql(credential_kind: str) -> str:
    """One statement for a decision (`presented_sql`): the transfer key, the person
    (`presented_person_sql`, with the presented credential) and, joined to them, their
    groups with their gids, their groups' folder grants, and whether each group is in
    the organization's file-transfer scope: one row per membership and grant, or one row
    with blank group columns for a person in no group (accounts.raw_rows: every decision
    runs it)."""
    u, o = rows.column, rows.table
    scope = TransferPolicy.scope_groups.through
    person = presented_person_sql(credential_kind, in_scope=False)
    select = (
        f"{u(Membership, 'group', 'm')}, {u(Group, 'display_name', 'g')}, "  # noqa: S608
        f"{u(PosixId, 'number', 'x')}, {u(FolderGrant, 'path', 'f')}, "
        f"{u(FolderGrant, 'access', 'f')}, "
        f"EXISTS (SELECT 1 FROM {o(scope)} s "
        f"WHERE {u(scope, 'transferpolicy', 's')} = person.person_organization_id "
        f"AND {u(scope, 'group', 's')} = {u(Membership, 'group', 'm')})"
    )
    joins = (
        f"LEFT JOIN {o(Membership)} m ON {u(Membership, 'user', 'm')} = person.person_id "
        f"LEFT JOIN {o(Group)} g ON {u(Group, 'id', 'g')} = {u(Membership, 'group', 'm')} "
        f"LEFT JOIN {o(PosixId)} x ON {u(PosixId, 'group', 'x')} = {u(Group, 'id', 'g')} "
        f"LEFT JOIN {o(FolderGrant)} f ON {u(FolderGrant, 'group', 'f')} = {u(Group, 'id', 'g')}"
    )
    return presented_sql(person, select, joins)


def groups_from(found: list[tuple]) -> tuple[list[dict], list[tuple], bool]:
    """The person's groups (with their gids), their groups' folder grants, and whether
    any of the groups is in the organization's file-transfer scope, from the group
    columns of `_decision_sql`'s rows."""
    groups: dict = {}
    grants, scoped = [], False
    for raw_group_id, display_name, gid, path, access, group_in_scope in found:
        if raw_group_id is None:
            continue  # a person in no group: the LEFT JOIN's one blank row
        group_id = rows.value(Membership, "group", raw_group_id)
        groups.setdefault(group_id, {"id": group_id, "displayName": display_name, "gid": gid})
        grants.append((path, access))
        scoped = scoped or bool(group_in_scope)
    return list(groups.values()), grants, scoped


def decide(
    attempt: Attempt, found: tuple[User | None, list[tuple]], *, now: datetime | None = None
) -> Decision:
    """Allowed or refused with its reason, from what the database says now: `found`, the
    person and their groups as `find_presented` read them with the transfer key."""
    now = now or timezone.now()
    person, found = found
    reason = refusal_of(attempt, person, now)
    decision = Decision(allowed=False, reason=reason, user=person, login=attempt.login.login)
    if person is not None:
        # The name as the person's page shows it, whatever case the client typed.
        bare = person.username_key == attempt.login.username_key
        decision.login = login_name(person, verified=bare)
    if reason:
        return decision
    groups, grants, in_scope = groups_from(found)
    if policy_of(person).mode == TransferMode.GROUPS and not in_scope:
        decision.reason = Refusal.NOT_IN_SCOPE
        return decision
    decision.allowed = True
    decision.credential = credential_of(attempt, person)
    decision.groups = groups
    decision.folders = folders_of(grants)
    return decision
