"""Every state change of file-transfer access; each one a transaction with an actor and
an audit event, and credential changes with their directory events."""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import AccountsError, InvalidValue
from accounts.events.models import EventType
from accounts.events.outbox import (
    credential_event,
    group_resource_event,
    record_change,
    resource_event,
)
from accounts.models import AuditAction, Group, Organization, User
from accounts.services.audit import audit_entry, audit_record
from accounts.services.privileges import check_console_actor, check_token_may_act_on
from accounts.transactions import atomic
from config import ratelimit
from transfer import sign_in_log, ssh_keys
from transfer.models import (
    APP_PASSWORD,
    TRANSFER_KEY,
    Access,
    AppPassword,
    CredentialKind,
    CredentialSource,
    FolderGrant,
    PosixId,
    SshKey,
    TransferKey,
    TransferMode,
    TransferPolicy,
    TransferSignIn,
)

TRANSFER_ACTOR = Actor.system("file-transfer login")
MAX_SSH_KEYS = 50
MAX_APP_PASSWORDS = 20
LABEL_MAX_LENGTH = 100


class CredentialRefused(AccountsError):
    """A credential that cannot be added or removed; the message is for the person."""


# -- Credentials -------------------------------------------------------------------------


def credential_snapshot(credential) -> dict:
    """A credential as events and the API show it: never its secret."""
    if isinstance(credential, SshKey):
        return {
            "id": f"key_{credential.pk}",
            "kind": CredentialKind.SSH_KEY,
            "label": credential.label,
            "fingerprint": credential.fingerprint,
            "source": credential.source,
        }
    return {
        "id": f"pw_{credential.pk}",
        "kind": CredentialKind.APP_PASSWORD,
        "label": credential.label,
        "prefix": credential.prefix,
        "source": credential.source,
    }


def _record_credential(credential, *, actor: Actor, action: str, event_type: str) -> None:
    user = credential.user
    data = credential_snapshot(credential)
    audit = audit_entry(
        organization=user.organization,
        actor=actor,
        action=action,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes={"credential": data},
    )
    event = credential_event(user=user, type=event_type, actor=actor, credential=data)
    record_change(audit=audit, events=[event])


def _clean_label(label: str) -> str:
    label = (label or "").strip()
    if len(label) > LABEL_MAX_LENGTH:
        raise InvalidValue(f"The label is longer than {LABEL_MAX_LENGTH} characters.")
    return label


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidValue("The expiry date must be in the future.")


CREDENTIALS_VERB = "change the file-transfer credentials of"


def _check_acting_user(user: User, acting_user: User | None) -> None:
    """The console's rules, for an admin acting on someone else's credentials."""
    if acting_user is not None and acting_user.pk != user.pk:
        check_console_actor(user, acting_user, verb=CREDENTIALS_VERB)


def _locked_user(user: User) -> User:
    return (
        User.objects.select_for_update(of=("self",)).select_related("organization").get(pk=user.pk)
    )


def _check_key_is_free(user: User, parsed: ssh_keys.ParsedKey) -> None:
    taken = SshKey.objects.filter(
        organization_id=user.organization_id, fingerprint=parsed.fingerprint, revoked_at=None
    ).values_list("user_id", flat=True)
    owner = next(iter(taken), None)
    if owner == user.pk:
        raise CredentialRefused("This key is already one of yours.")
    if owner is not None:
        raise CredentialRefused("This key is already registered to another person.")


def _new_ssh_key(user, parsed, *, source, label, expires_at) -> SshKey:
    try:
        with transaction.atomic():
            return SshKey.objects.create(
                organization_id=user.organization_id,
                user=user,
                key_type=parsed.key_type,
                public_key=parsed.normalized,
                fingerprint=parsed.fingerprint,
                label=_clean_label(label) or parsed.comment,
                source=source,
                expires_at=expires_at,
            )
    except IntegrityError:
        # Another request registered the same key a moment ago.
        raise CredentialRefused("This key is already registered to another person.") from None


@atomic()
def ssh_key_add(
    *,
    user: User,
    public_key: str,
    source: str,
    actor: Actor,
    label: str = "",
    expires_at: datetime | None = None,
    acting_user: User | None = None,
) -> SshKey:
    """Register a person's SSH public key (validated, normalised, fingerprinted).

    A console user (`acting_user`) acts on their own organization only, and only owners
    on an owner: a key on an owner's account logs its holder in as that owner.
    """
    parsed = ssh_keys.parse_public_key(public_key)
    _check_expiry(expires_at)
    user = _locked_user(user)
    _check_acting_user(user, acting_user)
    if user.ssh_keys.filter(revoked_at=None).count() >= MAX_SSH_KEYS:
        raise CredentialRefused(f"A person has at most {MAX_SSH_KEYS} SSH keys; remove one first.")
    _check_key_is_free(user, parsed)
    key = _new_ssh_key(user, parsed, source=source, label=label, expires_at=expires_at)
    _record_credential(
        key,
        actor=actor,
        action=AuditAction.CREDENTIAL_CREATED,
        event_type=EventType.CREDENTIAL_CREATED,
    )
    return key


def _revoke_credential(credential, *, actor: Actor, acting_user: User | None, refuse=None):
    """Lock the credential, check who acts, and revoke it once, audited with its event.

    `refuse(credential)` may raise to keep a credential its holder may not remove.
    """
    credential = (
        type(credential)
        .objects.select_for_update(of=("self",))
        .select_related("user__organization")
        .get(pk=credential.pk)
    )
    _check_acting_user(credential.user, acting_user)
    if credential.revoked_at is not None:
        return credential
    if refuse is not None:
        refuse(credential)
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])
    _record_credential(
        credential,
        actor=actor,
        action=AuditAction.CREDENTIAL_REVOKED,
        event_type=EventType.CREDENTIAL_REVOKED,
    )
    return credential


def _managed_by_the_idp(key: SshKey) -> None:
    if key.source == CredentialSource.IDP:
        raise CredentialRefused(
            "Your identity provider manages this key; ask your administrator to remove it there."
        )


@atomic()
def ssh_key_revoke(
    *, key: SshKey, actor: Actor, by_owner: bool = False, acting_user: User | None = None
) -> SshKey:
    """Revoke a key; the person may not remove a key their identity provider manages."""
    refuse = _managed_by_the_idp if by_owner else None
    return _revoke_credential(key, actor=actor, acting_user=acting_user, refuse=refuse)


class KeyListRefused(InvalidValue):
    """One value of a list of keys is refused; `detail` names it by position and comment."""


def _comment_of(value) -> str:
    """The comment of what looks like a public key line (`type base64 comment`), to name
    a refused value; '' for anything else, so no private key is ever quoted."""
    fields = value.split(None, 2) if isinstance(value, str) else []
    if len(fields) < 3 or not fields[0].startswith(("ssh-", "ecdsa-", "sk-")):
        return ""
    comment = fields[2].splitlines()[0].strip() if fields[2].strip() else ""
    return "".join(c for c in comment if c.isprintable())[:50]


def parse_key_list(values: list[str], *, attribute: str = "sshPublicKeys") -> list:
    """Every key of an identity provider's list, parsed; the first bad one refuses all,
    named by its position and comment, never by its key material."""
    parsed = []
    for position, value in enumerate(values):
        try:
            parsed.append(ssh_keys.parse_public_key(value))
        except ssh_keys.KeyRefused as exc:
            comment = _comment_of(value)
            name = f"{attribute}[{position}]" + (f" ({comment})" if comment else "")
            raise KeyListRefused(f"{name}: {exc}") from None
    return parsed


@atomic()
def ssh_keys_replace_from_idp(*, user: User, public_keys: list[str], actor: Actor) -> bool:
    """Make the keys the identity provider manages for `user` exactly `public_keys`.

    Keys the person or an admin added are never removed; one the provider now sends
    too is adopted (the provider manages it from then on). The keys are part of the
    person's SCIM resource, so a change bumps the person's version (meta.version, the
    ETag). Returns whether anything changed; the current list again writes nothing.
    """
    parsed = parse_key_list(public_keys)
    wanted = {key.fingerprint: key for key in parsed}
    if len(wanted) > MAX_SSH_KEYS:
        raise CredentialRefused(f"A person has at most {MAX_SSH_KEYS} SSH keys.")
    user = _locked_user(user)
    current = {
        key.fingerprint: key
        for key in user.ssh_keys.filter(revoked_at=None, source=CredentialSource.IDP)
    }
    stale = [key for fingerprint, key in current.items() if fingerprint not in wanted]
    new = [key for fingerprint, key in wanted.items() if fingerprint not in current]
    if not stale and not new:
        return False
    check_token_may_act_on(user, actor)
    user.version += 1
    user.save(update_fields=["version", "updated_at"])
    own = {
        key.fingerprint: key
        for key in user.ssh_keys.filter(revoked_at=None).exclude(source=CredentialSource.IDP)
    }
    for key in stale:
        ssh_key_revoke(key=key, actor=actor)
    for key in new:
        if key.fingerprint in own:
            SshKey.objects.filter(pk=own[key.fingerprint].pk).update(source=CredentialSource.IDP)
            continue
        _check_key_is_free(user, key)
        created = _new_ssh_key(user, key, source=CredentialSource.IDP, label="", expires_at=None)
        _record_credential(
            created,
            actor=actor,
            action=AuditAction.CREDENTIAL_CREATED,
            event_type=EventType.CREDENTIAL_CREATED,
        )
    return True


def _app_password_expiry(user: User, expires_at: datetime | None) -> None:
    _check_expiry(expires_at)
    policy = TransferPolicy.objects.filter(organization_id=user.organization_id).first()
    days = policy.max_app_password_days if policy else None
    if days is None:
        return
    if expires_at is None or expires_at > timezone.now() + timezone.timedelta(days=days):
        raise InvalidValue(
            f"Your organization allows app passwords of at most {days} days; choose an expiry."
        )


@atomic()
def app_password_create(
    *,
    user: User,
    label: str,
    source: str,
    actor: Actor,
    expires_at: datetime | None = None,
) -> tuple[AppPassword, str]:
    """Generate an app password; the returned secret is shown once and never stored."""
    label = _clean_label(label)
    if not label:
        raise InvalidValue("An app password needs a label naming where it is used.")
    user = _locked_user(user)
    _app_password_expiry(user, expires_at)
    if user.app_passwords.filter(revoked_at=None).count() >= MAX_APP_PASSWORDS:
        raise CredentialRefused(
            f"A person has at most {MAX_APP_PASSWORDS} app passwords; revoke one first."
        )
    password = AppPassword(
        organization_id=user.organization_id,
        user=user,
        label=label,
        source=source,
        expires_at=expires_at,
    )
    secret = password.set_secret(APP_PASSWORD)
    password.save(force_insert=True)
    _record_credential(
        password,
        actor=actor,
        action=AuditAction.CREDENTIAL_CREATED,
        event_type=EventType.CREDENTIAL_CREATED,
    )
    return password, secret


@atomic()
def app_password_revoke(
    *, password: AppPassword, actor: Actor, acting_user: User | None = None
) -> AppPassword:
    return _revoke_credential(password, actor=actor, acting_user=acting_user)


# -- Transfer keys -----------------------------------------------------------------------


def _audit_transfer_key(key: TransferKey, *, actor: Actor, action: str) -> None:
    if key.organization_id is None:
        # A platform key belongs to no organization; the operators' log says it.
        return
    audit_record(
        organization=key.organization,
        actor=actor,
        action=action,
        target_type="transfer_key",
        target_id=key.pk,
        target_label=str(key),
        changes={"prefix": key.prefix},
    )


@transaction.atomic
def transfer_key_create(
    *, organization: Organization | None, label: str, actor: Actor
) -> tuple[TransferKey, str]:
    """A key for the decision API: one organization's, or the platform's (None)."""
    label = _clean_label(label)
    if not label:
        raise InvalidValue("A transfer key needs a label naming the file server that uses it.")
    key = TransferKey(organization=organization, label=label, created_by_label=actor.label[:255])
    secret = key.set_secret(TRANSFER_KEY)
    key.save(force_insert=True)
    _audit_transfer_key(key, actor=actor, action=AuditAction.TRANSFER_KEY_CREATED)
    return key, secret


@transaction.atomic
def transfer_key_revoke(*, key: TransferKey, actor: Actor) -> TransferKey:
    key = (
        TransferKey.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=key.pk)
    )
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    _audit_transfer_key(key, actor=actor, action=AuditAction.TRANSFER_KEY_REVOKED)
    return key


# -- The organization's setting and folders ----------------------------------------------


@transaction.atomic
def transfer_policy_set(
    *, organization: Organization, mode: str, actor: Actor, groups: list[Group] = ()
) -> TransferPolicy:
    """Turn file transfer off, on for everyone, or on for members of `groups`."""
    if mode not in TransferMode.values:
        raise InvalidValue(f"The file-transfer setting is one of {', '.join(TransferMode.values)}.")
    groups = list(groups) if mode == TransferMode.GROUPS else []
    if mode == TransferMode.GROUPS and not groups:
        raise InvalidValue("Choose at least one group whose members may use file transfer.")
    if any(group.organization_id != organization.pk for group in groups):
        raise InvalidValue("Only the organization's own groups can be chosen.")
    policy, _ = TransferPolicy.objects.select_for_update().get_or_create(organization=organization)
    before = (
        policy.mode,
        sorted(str(pk) for pk in policy.scope_groups.values_list("pk", flat=True)),
    )
    after = (mode, sorted(str(group.pk) for group in groups))
    if before == after:
        return policy
    policy.mode = mode
    policy.version += 1
    policy.save(update_fields=["mode", "version", "updated_at"])
    policy.scope_groups.set(groups)
    audit = audit_entry(
        organization=organization,
        actor=actor,
        action=AuditAction.TRANSFER_SETTINGS_CHANGED,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        changes={
            "mode": [before[0], mode],
            "groups": sorted(group.display_name for group in groups),
        },
    )
    # File servers that follow the events re-read who may log in at once, and cut the
    # sessions of those who no longer may (docs/file-servers.md).
    event = resource_event(
        organization_id=organization.pk,
        type=EventType.TRANSFER_SETTINGS_CHANGED,
        actor=actor,
        resource_id=policy.resource_id,
        resource_version=policy.version,
        data={"transfer": settings_snapshot(policy, organization, groups)},
    )
    record_change(audit=audit, events=[event])
    return policy


def settings_snapshot(policy: TransferPolicy, organization: Organization, groups) -> dict:
    """The file-transfer setting as its events carry it."""
    return {
        "id": str(policy.resource_id),
        "version": policy.version,
        "organization": organization.slug,
        "mode": policy.mode,
        "scope_groups": [
            {"id": str(group.pk), "display_name": group.display_name}
            for group in sorted(groups, key=lambda group: group.display_name.lower())
        ],
    }


def folder_path(path: str) -> str:
    """The canonical form of a folder path: `/Finance/Reports`; InvalidValue otherwise."""
    path = (path or "").strip()
    segments = [segment for segment in path.split("/") if segment]
    if not path.startswith("/") or not segments:
        raise InvalidValue("A folder path starts with / and names a folder, e.g. /Finance.")
    for segment in segments:
        if segment in (".", "..") or any(ord(c) < 32 or c == "\\" for c in segment):
            raise InvalidValue(f"{segment[:50]!r} cannot be part of a folder path.")
    canonical = "/" + "/".join(segments)
    if len(canonical) > FolderGrant._meta.get_field("path").max_length:
        raise InvalidValue("The folder path is too long.")
    return canonical


def _record_grant_change(grant: FolderGrant, *, actor: Actor, action: str, changes: dict) -> None:
    """The audit event and a transfer.folders_changed event with the group's folders as
    they are now, for file servers that make the folders (docs/file-servers.md)."""
    group = grant.group
    audit = audit_entry(
        organization=group.organization,
        actor=actor,
        action=action,
        target_type="group",
        target_id=group.pk,
        target_label=group.display_name,
        changes={"path": grant.path, **changes},
    )
    folders = [
        {"path": path, "access": access}
        for path, access in FolderGrant.objects.filter(group=group)
        .order_by("path")
        .values_list("path", "access")
    ]
    event = group_resource_event(
        group=group,
        type=EventType.TRANSFER_FOLDERS_CHANGED,
        actor=actor,
        data={"folders": folders},
    )
    record_change(audit=audit, events=[event])


@transaction.atomic
def folder_grant_set(*, group: Group, path: str, access: str, actor: Actor) -> FolderGrant:
    """Grant `group` the folder at `path` (read or write); an existing grant is changed."""
    if access not in Access.values:
        raise InvalidValue("Folder access is read or write.")
    path = folder_path(path)
    grant = FolderGrant.objects.select_for_update().filter(group=group, path=path).first()
    if grant is not None and grant.access == access:
        return grant
    before = grant.access if grant is not None else None
    if grant is None:
        grant = FolderGrant(organization_id=group.organization_id, group=group, path=path)
    grant.access = access
    grant.save()
    _record_grant_change(
        grant,
        actor=actor,
        action=AuditAction.TRANSFER_FOLDER_GRANTED,
        changes={"access": [before, access]},
    )
    return grant


@transaction.atomic
def folder_grant_remove(*, group: Group, path: str, actor: Actor) -> bool:
    path = folder_path(path)
    grant = FolderGrant.objects.select_for_update().filter(group=group, path=path).first()
    if grant is None:
        return False
    grant.delete()
    _record_grant_change(grant, actor=actor, action=AuditAction.TRANSFER_FOLDER_REMOVED, changes={})
    return True


# -- POSIX ids ---------------------------------------------------------------------------


def _allocate(**owner) -> int:
    """The number of `owner` (user_id= or group_id=), allocated now if it has none.

    The unique owner column settles a race: the loser reads the winner's number. The
    number is TRANSFER_UID_BASE plus the row's id from the table's sequence, which never
    hands out an id twice (PostgreSQL sequences; SQLite AUTOINCREMENT).
    """
    existing = PosixId.objects.filter(**owner).values_list("number", flat=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            row = PosixId.objects.create(**owner)
            row.number = settings.TRANSFER_UID_BASE + row.pk
            row.save(update_fields=["number"])
            return row.number
    except IntegrityError:
        return PosixId.objects.filter(**owner).values_list("number", flat=True).get()


def posix_id_for_user(user_id) -> int:
    return _allocate(user_id=user_id)


def posix_id_for_group(group_id) -> int:
    return _allocate(group_id=group_id)


# -- The sign-in log ---------------------------------------------------------------------


def transfer_sign_ins_purge(*, now: datetime | None = None) -> int:
    """Delete sign-in log rows older than TRANSFER_LOG_RETENTION_DAYS."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=settings.TRANSFER_LOG_RETENTION_DAYS)
    deleted, _ = TransferSignIn.objects.filter(at__lt=cutoff).delete()
    return deleted


def _refusal_sampled_out(organization_id) -> bool:
    """Past TRANSFER_REFUSAL_AUDIT_RATE a refusal is in the sign-in log only."""
    rate = ratelimit.Rate.parse(settings.TRANSFER_REFUSAL_AUDIT_RATE)
    return not ratelimit.hit("transfer-refusal-audit", str(organization_id), rate).allowed


def transfer_decision_record(
    *, decision, attempt, key: TransferKey, row: dict, buffered: bool
) -> None:
    """Log a login decision: its sign-in log row `row` (transfer.sign_in_log.row_of),
    written now with the credential's last use unless it is `buffered` in Redis, and,
    for a refusal, an audit event (sampled per organization)."""
    if not buffered:
        sign_in_log.write(row)
    person = decision.user
    if decision.allowed:
        return
    # An unknown login name asked with an organization's key is that organization's to
    # see; asked with a platform key it belongs to nobody, and is in the log only.
    organization = person.organization if person is not None else key.organization
    if organization is None or _refusal_sampled_out(organization.pk):
        return
    audit_record(
        organization=organization,
        actor=TRANSFER_ACTOR,
        action=AuditAction.TRANSFER_LOGIN_REFUSED,
        target_type="user" if person is not None else "login",
        target_id=person.pk if person is not None else "",
        target_label=decision.login[:255],
        changes={"reason": decision.reason, "protocol": attempt.protocol, "ip": attempt.ip or ""},
    )
