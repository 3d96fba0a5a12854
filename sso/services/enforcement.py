"""Requiring single sign-on: members and admins sign in through the identity provider.

Owners keep their password sign-in as the break-glass path (audited on every use as
console.break_glass_login, accounts.services.console_sign_in). Turning the requirement
on needs proof that it works: the owner doing it has signed in through this
organization's identity provider since its settings last changed; otherwise a broken
IdP configuration would lock every admin out. The platform (an operator's command,
`acting_user` None) answers for its own act instead: it needs only an active
connection, and is audited as itself.
"""

from django.db import transaction

from accounts.actors import Actor
from accounts.errors import PrivilegeRefused
from accounts.models import Organization, User
from accounts.services import organization_set_sso_required
from accounts.services.privileges import check_may_configure_sso
from sso.errors import SsoError
from sso.selectors import active_connection_of


class SsoNotProven(SsoError):
    """Requiring SSO before the owner has signed in with it."""


def _check_proven(organization: Organization, acting_user: User | None) -> None:
    connection = active_connection_of(organization)
    if connection is None:
        raise SsoError("Turn single sign-on on before requiring it.")
    if acting_user is None:
        return  # the platform: manage.py require_sso, run by an operator
    if acting_user.organization_id != organization.pk:
        raise PrivilegeRefused(
            "Only an owner of the organization who has signed in with single sign-on can "
            "require it."
        )
    signed_in = (
        User.objects.filter(pk=acting_user.pk).values_list("last_sso_sign_in_at", flat=True).first()
    )
    if signed_in is None or signed_in < connection.updated_at:
        raise SsoNotProven(
            "Sign in with single sign-on yourself first (Test sign-in, with your console "
            "account linked to the identity provider): requiring it is allowed once a "
            "sign-in through the identity provider as it is configured now has worked."
        )


@transaction.atomic
def sso_requirement_set(
    *, organization: Organization, required: bool, actor: Actor, acting_user: User | None
) -> Organization:
    """Require single sign-on of members and admins, or stop requiring it; owners only."""
    check_may_configure_sso(acting_user, actor, organization)
    if required:
        _check_proven(organization, acting_user)
    return organization_set_sso_required(organization=organization, required=required, actor=actor)
