"""Who may change whom: the privilege rules every user service checks.

docs/security.md describes the model. In short: the console obeys roles (only owners
touch owners), a provisioning token acts only on users the identity provider owns, a
token never changes the sign-in identifiers of a console owner or admin, and no actor
removes an organization's last active owner.
"""

from accounts.actors import Actor
from accounts.errors import PrivilegeRefused
from accounts.models import CONSOLE_ROLES, ActorType, Role, User

# Fields whose change could make a sign-in (SAML NameID, console email) land on a record.
SIGN_IN_FIELDS = ("username", "email")


def is_token(actor: Actor) -> bool:
    return actor.type == ActorType.TOKEN


def check_token_may_act_on(user: User, actor: Actor) -> None:
    """A provisioning token changes only users its identity provider owns."""
    if is_token(actor) and not user.is_idp_managed:
        raise PrivilegeRefused(
            f"{user.username} is managed in the console, not by the identity provider; "
            "an owner must link the user to the identity provider first."
        )


def has_console_granted_role(user: User) -> bool:
    """An owner, or an admin made in the console (not by a group's role mapping)."""
    return user.role in CONSOLE_ROLES and not user.role_from_mapping


def check_token_may_change(user: User, actor: Actor, changed: set[str]) -> None:
    """A token never renames a console owner or admin, so no SSO sign-in lands on one.

    An admin whose role comes from a mapped group got it from the identity provider
    in the first place; its profile stays the IdP's to change.
    """
    check_token_may_act_on(user, actor)
    renamed = changed.intersection(SIGN_IN_FIELDS)
    if is_token(actor) and has_console_granted_role(user) and renamed:
        raise PrivilegeRefused(
            f"The identity provider may not change {', '.join(sorted(renamed))} of a console "
            f"{Role(user.role).label.lower()}; change it in the console."
        )


def check_console_actor(user: User, acting_user: User | None, *, verb: str) -> None:
    """Console rules: same organization, console role, and only owners touch owners."""
    if acting_user is None:
        return
    if acting_user.organization_id != user.organization_id or not acting_user.can_use_console:
        raise PrivilegeRefused(f"You may {verb} users only in your own organization.")
    if user.role == Role.OWNER and acting_user.role != Role.OWNER:
        raise PrivilegeRefused(f"Only owners can {verb} an owner.")


def check_not_last_owner(user: User, *, verb: str) -> None:
    """No actor leaves an organization without an active owner.

    Locks the other active owners, so two owners cannot remove each other at once.
    """
    if user.role != Role.OWNER or not user.is_active:
        return
    if not other_active_owner_ids(user):
        raise PrivilegeRefused(
            f"An organization keeps at least one active owner: you cannot {verb} the last "
            "one. Make another user an owner first."
        )


def other_active_owner_ids(user: User) -> list:
    # No COUNT here: PostgreSQL refuses FOR UPDATE with aggregate functions.
    owners = User.objects.select_for_update().filter(
        organization_id=user.organization_id, role=Role.OWNER, is_active=True
    )
    return list(owners.exclude(pk=user.pk).values_list("pk", flat=True))


def _check_owner_power(acting_user: User | None, actor: Actor, organization, *, what: str) -> None:
    """Owners of the organization, or the platform (commands, operators), and no token."""
    if is_token(actor):
        raise PrivilegeRefused(f"A provisioning token cannot change {what}.")
    if acting_user is None:
        if actor.type == ActorType.USER:
            raise TypeError(f"A user changing {what} must be passed as acting_user.")
        return
    if acting_user.organization_id is None and acting_user.is_staff:
        return
    if acting_user.organization_id != organization.pk or not acting_user.is_active:
        raise PrivilegeRefused(f"You may change {what} only in your own organization.")
    if acting_user.role != Role.OWNER:
        raise PrivilegeRefused(f"Only owners can change {what}.")


def check_may_configure_sso(acting_user: User | None, actor: Actor, organization) -> None:
    """Only an organization's owners (or the platform: commands, operators) change SSO.

    An identity provider's settings decide who signs in as whom, so changing them is
    owner-level power (GitHub organizations rule the same way).
    """
    _check_owner_power(acting_user, actor, organization, what="single sign-on settings")


def check_may_map_roles(acting_user: User | None, actor: Actor, organization) -> None:
    """Only owners (or the platform) map a group to the admin role.

    A mapped group lets the identity provider, and so whoever holds a provisioning
    token, make console admins by adding people to it: handing that power out is an
    owner's decision, like the SSO settings.
    """
    _check_owner_power(acting_user, actor, organization, what="which groups grant the admin role")


def check_may_manage_domains(acting_user: User | None, actor: Actor, organization) -> None:
    """Verified domains feed single sign-on (discovery, just-in-time creation, email
    matching), so they follow its rule: owners only; admins see them read-only."""
    _check_owner_power(acting_user, actor, organization, what="verified domains")


def check_may_declare_attributes(acting_user: User | None, actor: Actor, organization) -> None:
    """Custom attributes decide what the identity provider may store about people and
    what leaves in events and the API: owners only, as for verified domains."""
    _check_owner_power(acting_user, actor, organization, what="custom attributes")
