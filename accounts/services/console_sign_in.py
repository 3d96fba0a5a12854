"""Console sign-ins with a password: recorded, or refused while SSO is required.

Refused passwords are recorded in audit.py. While an organization requires single
sign-on, its members and admins are refused here and sent to SSO; owners keep the
password sign-in as the break-glass path, audited on every use
(console.break_glass_login).
"""

from django.db import transaction

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import AuditAction, Role, User
from accounts.services.audit import audit_record, console_sign_in_refused

SSO_REQUIRED_REASON = "sso_required"


class SsoRequired(AccountsError):
    def __init__(self, organization):
        super().__init__(
            f"{organization.name} requires single sign-on: members and admins sign in "
            "through the identity provider, not with a password."
        )
        self.organization = organization


def password_sign_in_allowed(user: User) -> bool:
    """Whether the user may use a console password session (owners always may)."""
    organization = user.organization
    return organization is None or not organization.sso_required or user.role == Role.OWNER


def console_password_sign_in(*, user: User, client_address: str) -> None:
    """A password that matched: record the sign-in, or refuse it (SsoRequired)."""
    if not password_sign_in_allowed(user):
        console_sign_in_refused(
            user=user, client_address=client_address, reason=SSO_REQUIRED_REASON
        )
        raise SsoRequired(user.organization)
    console_login_record(
        user=user, break_glass=user.organization.sso_required, client_address=client_address
    )


@transaction.atomic
def console_login_record(*, user: User, break_glass: bool = False, client_address: str = ""):
    """console.login; or console.break_glass_login for an owner's password while SSO is
    required, so every use of the break-glass path stands out in the activity log."""
    audit_record(
        organization=user.organization,
        actor=Actor.for_user(user),
        action=AuditAction.CONSOLE_BREAK_GLASS_LOGIN if break_glass else AuditAction.CONSOLE_LOGIN,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes={"client_address": client_address} if break_glass else {},
    )
