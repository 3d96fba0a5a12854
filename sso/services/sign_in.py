"""Sign-ins at the ACS: the replay store, the user an assertion names, and the audit trail.

Groups or roles in an assertion are ignored: console roles are granted only in the
console, never by an IdP.
"""

import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import AuditAction, Organization, Source, User
from accounts.selectors import email_in_verified_domain
from accounts.services import audit_record, user_create, user_record_sso_sign_in
from accounts.transactions import atomic
from config import ratelimit
from sso.errors import LoginRefused
from sso.models import SamlAssertionUse, SamlIdentityProvider
from sso.selectors import user_for_saml_subject
from sso.services.keys import SSO_ACTOR
from sso.validation import TrustedAssertion

logger = logging.getLogger(__name__)

NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
JIT_OUTSIDE_VERIFIED_DOMAINS = "email_not_in_verified_domain"


# Spent assertion ids are purged at most this often per process, not on every sign-in:
# they live minutes, so the table stays small either way.
PURGE_INTERVAL_SECONDS = 60
_next_purge = 0.0


@atomic()
def assertion_consume(*, organization: Organization, assertion: TrustedAssertion) -> None:
    """Record the assertion id; a second use anywhere, on any instance, is a replay."""
    if not assertion.assertion_id:
        raise LoginRefused("no_assertion_id")
    try:
        with atomic():
            SamlAssertionUse.objects.create(
                organization=organization,
                assertion_id=assertion.assertion_id[:256],
                expires_at=assertion.expires_at,
            )
    except IntegrityError:
        raise LoginRefused("replayed") from None
    _purge_now_and_then()


def assertion_spend(*, organization: Organization, assertion: TrustedAssertion) -> None:
    """Record the id of an assertion whose sign-in was refused: it is spent all the same."""
    if assertion.assertion_id:
        SamlAssertionUse.objects.bulk_create(
            [
                SamlAssertionUse(
                    organization=organization,
                    assertion_id=assertion.assertion_id[:256],
                    expires_at=assertion.expires_at,
                )
            ],
            ignore_conflicts=True,
        )


def _purge_now_and_then() -> None:
    global _next_purge
    now = time.monotonic()
    if now < _next_purge:
        return
    _next_purge = now + PURGE_INTERVAL_SECONDS
    assertion_uses_purge()


def assertion_uses_purge() -> int:
    """Forget assertion ids that could not be accepted any more (past expiry + skew)."""
    deleted, _ = SamlAssertionUse.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


def _subject(idp: SamlIdentityProvider, assertion: TrustedAssertion) -> str:
    if not idp.email_attribute:
        # A transient NameID is a fresh random value per sign-in (SAML Core §8.3.8): it
        # names nobody here, and with JIT on it would create a new user every time.
        if assertion.name_id_format == NAMEID_TRANSIENT:
            raise LoginRefused("transient_name_id")
        return assertion.name_id.strip()
    value = assertion.single_attribute(idp.email_attribute).strip()
    if not value:
        raise LoginRefused("missing_attribute", detail=idp.email_attribute)
    return value


def _attribute(assertion: TrustedAssertion, name: str, limit: int) -> str:
    return assertion.single_attribute(name).strip()[:limit] if name else ""


def _jit_create(idp: SamlIdentityProvider, assertion: TrustedAssertion, subject: str) -> User:
    user = user_create(
        organization=idp.organization,
        username=subject,
        email=subject if "@" in subject else "",
        given_name=_attribute(assertion, idp.given_name_attribute, 150),
        family_name=_attribute(assertion, idp.family_name_attribute, 150),
        source=Source.SSO_JIT,
        actor=Actor.system("single sign-on (just-in-time)"),
    )
    logger.info("sso user created just in time", extra={"event": "sso.jit_created"})
    return user


@atomic()
def sso_sign_in(
    *, idp: SamlIdentityProvider, assertion: TrustedAssertion, idp_initiated: bool
) -> User:
    """The user this validated assertion names, in the IdP's organization; audited.

    Groups or roles in the assertion are ignored: console roles are granted only in
    the console, never by an IdP.
    """
    subject = _subject(idp, assertion)
    matches = user_for_saml_subject(
        idp.organization, subject, match_email=bool(idp.email_attribute)
    )
    if len(matches) > 1:
        raise LoginRefused("ambiguous_user", subject=subject)
    if matches and not matches[0].is_idp_managed:
        # A console-only user (an owner made with create_org_admin, say) signs in with a
        # password until an owner links the record to the identity provider.
        raise LoginRefused("console_only_user", subject=subject)
    if not matches:
        if not idp.jit_provisioning:
            raise LoginRefused("unknown_user", subject=subject)
        if not email_in_verified_domain(idp.organization, subject):
            # An IdP creates accounts only for addresses the organization proved it
            # owns: otherwise any tenant's IdP could mint users at anyone's domain.
            raise LoginRefused(JIT_OUTSIDE_VERIFIED_DOMAINS, subject=subject)
        try:
            user, created = _jit_create(idp, assertion, subject), True
        except AccountsError as exc:
            raise LoginRefused("jit_refused", subject=subject, detail=str(exc)) from None
    else:
        user, created = matches[0], False
    if not user.is_active:
        raise LoginRefused("user_deactivated", subject=subject)
    user_record_sso_sign_in(user=user)
    audit_record(
        organization=idp.organization,
        actor=Actor.for_user(user),
        action=AuditAction.SSO_LOGIN,
        target_type="user",
        target_id=user.pk,
        target_label=user.username,
        changes={"idp_initiated": idp_initiated, "created": created},
    )
    return user


def _untrusted_failure_sampled_out(organization: Organization) -> bool:
    """Past SSO_UNTRUSTED_FAILURE_AUDIT_RATE an unproven sender's failure is not recorded."""
    rate = ratelimit.Rate.parse(settings.SSO_UNTRUSTED_FAILURE_AUDIT_RATE)
    return not ratelimit.hit("sso-failure-audit", str(organization.pk), rate).allowed


@transaction.atomic
def sso_sign_in_failed(
    *,
    organization: Organization,
    reason: str,
    subject: str = "",
    detail: str = "",
    trusted: bool = True,
) -> None:
    """Audit a refused sign-in.

    `trusted` says the response proved its sender (a valid signature of this
    organization's IdP); anonymous posts that did not are recorded only up to a rate,
    so they cannot flood the append-only audit table.
    """
    if not trusted and _untrusted_failure_sampled_out(organization):
        return
    changes = {"reason": reason}
    if subject:
        changes["subject"] = subject[:255]
    if detail:
        changes["detail"] = detail[:300]
    audit_record(
        organization=organization,
        actor=SSO_ACTOR,
        action=AuditAction.SSO_LOGIN_FAILED,
        target_type="organization",
        target_id=organization.pk,
        target_label=organization.slug,
        changes=changes,
    )
