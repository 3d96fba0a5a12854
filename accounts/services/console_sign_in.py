"""Successful console sign-ins in the organization's audit trail (refusals: audit.py)."""

from django.db import transaction

from accounts.actors import Actor
from accounts.models import AuditAction, User
from accounts.services.audit import audit_record


@transaction.atomic
def console_login_record(*, user: User, break_glass: bool = False) -> None:
    changes = {"break_glass": True} if break_glass else {}
    audit_record(
        organization=user.organization,
        actor=Actor.for_user(user),
        action=AuditAction.CONSOLE_LOGIN,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes=changes,
    )
