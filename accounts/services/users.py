from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import addresses, sessions
from accounts.actors import Actor
from accounts.custom_attributes import clean_values, declared_attributes, search_tokens
from accounts.errors import InvalidValue, PrivilegeRefused, UsernameTaken
from accounts.events.models import EventType
from accounts.events.outbox import record_change, user_event
from accounts.models import AuditAction, AuditEvent, Organization, Role, Source, User
from accounts.services.audit import audit_entry
from accounts.services.privileges import (
    check_console_actor,
    check_not_last_owner,
    check_token_may_act_on,
    check_token_may_change,
)
from accounts.transactions import atomic, holds_lock

# Profile fields an identity provider or an admin may change with user_update.
# email, email_type and email_primary copy the sign-in address out of
# profile["emails"]; changing `email` alone (the admin form does) edits that entry.
PROFILE_FIELDS = (
    "username",
    "email",
    "given_name",
    "family_name",
    "name_formatted",
    "display_name",
    "external_id",
    "title",
    "locale",
    "enterprise",
    "profile",
    "custom_attributes",
)


def _clean_username(username: str) -> str:
    username = (username or "").strip()
    if not username:
        raise InvalidValue("userName must not be empty.")
    if len(username) > User._meta.get_field("username").max_length:
        raise InvalidValue("userName is too long.")
    return username


def _check_lengths(values: dict) -> None:
    # PostgreSQL refuses an over-long value with a DataError; say which field instead.
    for name, value in values.items():
        max_length = User._meta.get_field(name).max_length
        if max_length and isinstance(value, str) and len(value) > max_length:
            raise InvalidValue(f"{name} is longer than {max_length} characters.")


def _locked(user: User) -> User:
    if holds_lock(user):
        return user
    return User.objects.select_for_update().get(pk=user.pk)


def _audit_user(
    user: User, *, actor: Actor, action: str, changes: dict | None = None
) -> AuditEvent:
    return audit_entry(
        organization=user.organization,
        actor=actor,
        action=action,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes=changes,
    )


def _record(
    user: User,
    *,
    actor: Actor,
    action: str,
    type: str,
    changes: dict | None = None,
    fields: Iterable[str] = (),
) -> None:
    """The change's audit event and its directory event (naming the changed `fields`)."""
    record_change(
        audit=_audit_user(user, actor=actor, action=action, changes=changes),
        events=[user_event(user=user, type=type, actor=actor, changes=fields)],
    )


def _save_unique(user: User, **save_kwargs) -> None:
    # The constraint is the final word, also when two requests race for one userName.
    try:
        with atomic():
            user.save(**save_kwargs)
    except IntegrityError:
        raise UsernameTaken(user.username) from None


@atomic()
def user_create(
    *,
    organization: Organization,
    username: str,
    actor: Actor,
    email: str = "",
    given_name: str = "",
    family_name: str = "",
    name_formatted: str = "",
    display_name: str = "",
    external_id: str = "",
    title: str = "",
    locale: str = "",
    enterprise: dict | None = None,
    profile: dict | None = None,
    custom_attributes: dict | None = None,
    is_active: bool = True,
    role: str = Role.MEMBER,
    source: str = Source.MANUAL,
    password: str | None = None,
) -> User:
    """Create a user. `profile` holds the SCIM attributes without a column, its
    "emails" among them; without it, `email` becomes the one (work, primary) address."""
    username = _clean_username(username)
    profile = dict(profile or {})
    if "emails" not in profile and email:
        profile["emails"] = addresses.with_sign_in_address([], email)
    sign_in = addresses.sign_in_columns(profile.get("emails"))
    if role not in Role.values:
        raise InvalidValue(f"Unknown role {role!r}.")
    _check_lengths(
        {
            "email": email,
            "given_name": given_name,
            "family_name": family_name,
            "display_name": display_name,
            "external_id": external_id,
            "title": title,
            "locale": locale,
        }
    )
    declared = declared_attributes(organization)
    custom_attributes = clean_values(custom_attributes or {}, declared)
    user = User(
        organization=organization,
        username=username,
        **sign_in,
        given_name=given_name,
        family_name=family_name,
        name_formatted=name_formatted,
        display_name=display_name,
        external_id=external_id,
        title=title,
        locale=locale,
        enterprise=enterprise or {},
        profile=profile,
        custom_attributes=custom_attributes,
        custom_search=search_tokens(custom_attributes, declared),
        is_active=is_active,
        role=role,
        source=source,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    _save_unique(user, force_insert=True)
    _record(
        user,
        actor=actor,
        action=AuditAction.USER_CREATED,
        type=EventType.USER_CREATED,
        changes={
            "userName": username,
            "email": sign_in["email"],
            "externalId": external_id,
            "active": is_active,
            "role": role,
            "source": source,
        },
    )
    return user


def _with_sign_in_columns(user: User, fields: dict) -> dict:
    """Keep profile["emails"] and the columns copying its sign-in address in step."""
    fields = dict(fields)
    if "profile" in fields:
        fields["profile"] = dict(fields["profile"] or {})
        fields.pop("email", None)
    elif "email" in fields:
        _check_lengths({"email": fields["email"]})
        profile = dict(user.profile or {})
        profile["emails"] = addresses.with_sign_in_address(profile.get("emails"), fields["email"])
        if not profile["emails"]:
            del profile["emails"]
        fields["profile"] = profile
        del fields["email"]
    else:
        return fields
    fields.update(addresses.sign_in_columns(fields["profile"].get("emails")))
    return fields


@atomic()
def user_update(*, user: User, actor: Actor, **fields) -> User:
    """Change profile fields; returns without writing when nothing changes."""
    return user_apply(user=user, actor=actor, **fields)


@atomic()
def user_apply(*, user: User, actor: Actor, is_active: bool | None = None, **fields) -> User:
    """Everything one identity-provider request asks of a user, as one change.

    One lock and one version bump for the profile fields and `is_active` together;
    audit events as user_update and user_deactivate/user_reactivate write them, and a
    deactivation ends the user's sessions after commit. Nothing is written when nothing
    changes.
    """
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"user_apply() got unexpected fields: {sorted(unknown)}")
    if "username" in fields:
        fields["username"] = _clean_username(fields["username"])
    user = _locked(user)
    fields = _with_sign_in_columns(user, fields)
    _check_lengths(fields)
    declared = None
    if "custom_attributes" in fields:
        declared = declared_attributes(user.organization)
        fields["custom_attributes"] = clean_values(fields["custom_attributes"] or {}, declared)
    changes = {
        name: {"from": getattr(user, name), "to": value}
        for name, value in fields.items()
        if getattr(user, name) != value
    }
    activation = is_active is not None and is_active != user.is_active
    if not changes and not activation:
        return user
    check_token_may_change(user, actor, set(changes))
    if activation and not is_active:
        check_not_last_owner(user, verb="deactivate")
    for name, change in changes.items():
        setattr(user, name, change["to"])
    if "custom_attributes" in changes:
        user.custom_search = search_tokens(user.custom_attributes, declared)
    if activation:
        user.is_active = is_active
    user.version += 1
    _save_unique(user)
    if changes:
        _record(
            user,
            actor=actor,
            action=AuditAction.USER_UPDATED,
            type=EventType.USER_UPDATED,
            changes=changes,
            fields=changes,
        )
    if activation:
        _record_activation(user, actor=actor)
    return user


def _record_activation(user: User, *, actor: Actor) -> None:
    """The audit event of a (re)activation; a deactivation ends the sessions after commit."""
    if user.is_active:
        _record(
            user, actor=actor, action=AuditAction.USER_REACTIVATED, type=EventType.USER_REACTIVATED
        )
        return
    _record(user, actor=actor, action=AuditAction.USER_DEACTIVATED, type=EventType.USER_DEACTIVATED)
    session_keys = sessions.session_keys_of(user)
    transaction.on_commit(lambda: sessions.end_sessions(session_keys))


@atomic()
def user_deactivate(*, user: User, actor: Actor, acting_user: User | None = None) -> User:
    """Deactivate and end every session of the user; a no-op if already inactive.

    A console user (`acting_user`) may not deactivate themselves, and only owners
    deactivate owners; a provisioning token only users its identity provider owns; and
    no actor deactivates the last active owner.
    """
    user = _locked(user)
    if not user.is_active:
        return user
    check_token_may_act_on(user, actor)
    check_console_actor(user, acting_user, verb="deactivate")
    if acting_user is not None and acting_user.pk == user.pk:
        raise PrivilegeRefused("You cannot deactivate yourself; ask another owner or admin.")
    check_not_last_owner(user, verb="deactivate")
    user.is_active = False
    user.version += 1
    user.save(update_fields=["is_active", "version", "updated_at"])
    _record_activation(user, actor=actor)
    return user


@atomic()
def user_reactivate(*, user: User, actor: Actor, acting_user: User | None = None) -> User:
    """Reactivate; only owners reactivate an owner whom an owner deactivated."""
    user = _locked(user)
    if user.is_active:
        return user
    check_token_may_act_on(user, actor)
    check_console_actor(user, acting_user, verb="reactivate")
    user.is_active = True
    user.version += 1
    user.save(update_fields=["is_active", "version", "updated_at"])
    _record_activation(user, actor=actor)
    return user


@atomic()
def user_set_active(
    *, user: User, active: bool, actor: Actor, acting_user: User | None = None
) -> User:
    if active:
        return user_reactivate(user=user, actor=actor, acting_user=acting_user)
    return user_deactivate(user=user, actor=actor, acting_user=acting_user)


@atomic()
def user_delete(*, user: User, actor: Actor) -> None:
    """Delete the user and their memberships; the userName may be provisioned again.

    A provisioning token deletes only users its identity provider owns; no actor
    deletes the last active owner.
    """
    user = _locked(user)
    check_token_may_act_on(user, actor)
    check_not_last_owner(user, verb="delete")
    session_keys = sessions.session_keys_of(user)
    # The deletion is the resource's last version, newer than any event before it.
    user.version += 1
    _record(
        user,
        actor=actor,
        action=AuditAction.USER_DELETED,
        type=EventType.USER_DELETED,
        changes={"userName": user.username, "externalId": user.external_id},
    )
    user.delete()
    transaction.on_commit(lambda: sessions.end_sessions(session_keys))


@atomic()
def user_set_role(*, user: User, role: str, actor: Actor, acting_user: User | None = None) -> User:
    """Change a user's console role.

    With `acting_user` (a console admin), the console's rules apply: same organization
    only, and only owners grant, change or remove the owner role. The last owner of an
    organization keeps the role.
    """
    if role not in Role.values:
        raise InvalidValue(f"Unknown role {role!r}.")
    user = _locked(user)
    if user.role == role:
        return user
    check_token_may_act_on(user, actor)
    if acting_user is not None:
        if acting_user.organization_id != user.organization_id or not acting_user.can_use_console:
            raise PrivilegeRefused("You may change roles only in your own organization.")
        touches_owner = Role.OWNER in (role, user.role)
        if touches_owner and acting_user.role != Role.OWNER:
            raise PrivilegeRefused("Only owners can grant or remove the owner role.")
    check_not_last_owner(user, verb="demote")
    old_role = user.role
    user.role = role
    # Set by hand: a group mapping no longer takes it back.
    user.role_from_mapping = False
    user.version += 1
    user.save(update_fields=["role", "role_from_mapping", "version", "updated_at"])
    _record(
        user,
        actor=actor,
        action=AuditAction.USER_ROLE_CHANGED,
        type=EventType.USER_UPDATED,
        changes={"role": {"from": old_role, "to": role}},
        fields=["role"],
    )
    return user


@atomic()
def user_set_password(*, user: User, password: str, actor: Actor) -> User:
    user = _locked(user)
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    # Passwords are not in the directory: no event.
    record_change(
        audit=_audit_user(user, actor=actor, action=AuditAction.USER_PASSWORD_SET), events=[]
    )
    return user


@atomic()
def user_link_to_idp(*, user: User, linked: bool, actor: Actor, acting_user: User | None) -> User:
    """Let (or stop letting) the identity provider manage a console-made user.

    Linking hands the record to SCIM and SSO, so only an owner decides it; for an owner
    or admin it is what lets their own SSO sign-in reach their console record.
    """
    user = _locked(user)
    if user.idp_linked == linked:
        return user
    if acting_user is not None and (
        acting_user.organization_id != user.organization_id or acting_user.role != Role.OWNER
    ):
        raise PrivilegeRefused("Only owners can link users to the identity provider.")
    user.idp_linked = linked
    user.version += 1
    user.save(update_fields=["idp_linked", "version", "updated_at"])
    record_change(
        audit=_audit_user(
            user,
            actor=actor,
            action=AuditAction.USER_IDP_LINKED,
            changes={"idp_linked": {"from": not linked, "to": linked}},
        ),
        events=[],
    )
    return user


def user_record_sso_sign_in(*, user: User) -> None:
    """Remember that the user just signed in through the identity provider.

    Called by the SSO sign-in in its transaction, whose sso.login event is the audit;
    requiring SSO checks this time (sso.services.sso_requirement_set).
    """
    user.last_sso_sign_in_at = timezone.now()
    user.save(update_fields=["last_sso_sign_in_at"])
