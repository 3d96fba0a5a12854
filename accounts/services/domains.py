"""An organization's email domains: add one, check its DNS record, remove it.

Only a verified domain counts for sign-in (docs/security.md, "Verified domains"), and
one organization only holds a domain verified: the partial unique constraint
`domain_verified_by_one_org` decides a race between two organizations verifying the
same domain at once, and the loser is told the domain is verified elsewhere.
"""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.domain_verification import Lookup, domain_key, look_up_record, record_name
from accounts.errors import DomainTaken, InvalidValue
from accounts.models import (
    AuditAction,
    DomainCheckResult,
    DomainState,
    Organization,
    OrganizationDomain,
    User,
)
from accounts.services.audit import audit_record
from accounts.services.privileges import check_may_manage_domains

CLAIMED_ELSEWHERE_DETAIL = (
    "{domain} is verified by another organization: a domain is verified by one "
    "organization only. If it is yours, that organization must remove it first."
)


def _audit(domain: OrganizationDomain, *, actor: Actor, action: str, changes: dict) -> None:
    audit_record(
        organization=domain.organization,
        actor=actor,
        action=action,
        target_type="domain",
        target_id=domain.pk,
        target_label=domain.domain,
        changes=changes,
    )


@transaction.atomic
def domain_add(
    *, organization: Organization, domain: str, actor: Actor, acting_user: User | None
) -> OrganizationDomain:
    """Add a pending domain with a fresh verification token.

    Several organizations may have the same domain pending; a check verifies it for
    the first one to prove it.
    """
    check_may_manage_domains(acting_user, actor, organization)
    key = domain_key(domain)
    if OrganizationDomain.objects.filter(organization=organization, domain=key).exists():
        raise DomainTaken(key)
    try:
        with transaction.atomic():
            added = OrganizationDomain.objects.create(
                organization=organization,
                domain=key,
                added_by=acting_user if acting_user is not None and acting_user.pk else None,
                added_by_label=actor.label[:255],
            )
    except IntegrityError:
        raise DomainTaken(key) from None
    _audit(
        added,
        actor=actor,
        action=AuditAction.DOMAIN_ADDED,
        changes={"domain": key, "record": record_name(key)},
    )
    return added


def domain_check(
    *, domain: OrganizationDomain, actor: Actor, acting_user: User | None
) -> OrganizationDomain:
    """Look the TXT record up and record what was found; verifies a pending domain.

    The lookup runs before the transaction: DNS may take the whole timeout, and no row
    is locked meanwhile.
    """
    check_may_manage_domains(acting_user, actor, domain.organization)
    lookup = look_up_record(domain.domain, domain.verification_token)
    return domain_check_record(domain_id=domain.pk, lookup=lookup, actor=actor)


def _verified_elsewhere(domain: OrganizationDomain) -> bool:
    return (
        OrganizationDomain.objects.filter(domain=domain.domain, state=DomainState.VERIFIED)
        .exclude(organization_id=domain.organization_id)
        .exists()
    )


def _verify(domain: OrganizationDomain, now: dt.datetime) -> bool:
    """Make the domain verified; False when another organization holds it verified."""
    if _verified_elsewhere(domain):
        return False
    try:
        with transaction.atomic():
            OrganizationDomain.objects.filter(pk=domain.pk).update(
                state=DomainState.VERIFIED, verified_at=now
            )
    except IntegrityError:
        # Another organization verified it between the check above and this write.
        return False
    domain.state, domain.verified_at = DomainState.VERIFIED, now
    return True


def _record_gone_too_long(domain: OrganizationDomain, lookup: Lookup, now: dt.datetime) -> bool:
    """Only an authoritative "not there" counts; a DNS timeout or error never unverifies."""
    if lookup.result != DomainCheckResult.NOT_FOUND:
        return False
    last_seen = domain.last_found_at or domain.verified_at or now
    return now - last_seen > dt.timedelta(days=settings.DOMAIN_RECHECK_GRACE_DAYS)


@transaction.atomic
def domain_check_record(*, domain_id: int, lookup: Lookup, actor: Actor) -> OrganizationDomain:
    """Record a lookup's result on the domain, verifying or unverifying it; audited."""
    domain = (
        OrganizationDomain.objects.select_for_update()
        .select_related("organization")
        .filter(pk=domain_id)
        .first()
    )
    if domain is None:
        raise InvalidValue("That domain was removed meanwhile.")
    now = timezone.now()
    was_verified = domain.is_verified
    result, detail = lookup.result, lookup.detail
    if lookup.found:
        domain.last_found_at = now
        if not was_verified and not _verify(domain, now):
            result = DomainCheckResult.CLAIMED_ELSEWHERE
            detail = CLAIMED_ELSEWHERE_DETAIL.format(domain=domain.domain)
    elif was_verified and _record_gone_too_long(domain, lookup, now):
        domain.state, domain.verified_at = DomainState.PENDING, None
    domain.last_checked_at = now
    domain.last_check_result, domain.last_check_detail = result, detail[:300]
    domain.save(
        update_fields=[
            "state",
            "verified_at",
            "last_found_at",
            "last_checked_at",
            "last_check_result",
            "last_check_detail",
        ]
    )
    if domain.is_verified and not was_verified:
        action = AuditAction.DOMAIN_VERIFIED
    elif was_verified and not domain.is_verified:
        action = AuditAction.DOMAIN_UNVERIFIED
    else:
        action = AuditAction.DOMAIN_CHECKED
    _audit(
        domain,
        actor=actor,
        action=action,
        changes={"domain": domain.domain, "result": result, "state": domain.state},
    )
    return domain


@transaction.atomic
def domain_remove(*, domain: OrganizationDomain, actor: Actor, acting_user: User | None) -> None:
    """Remove the domain: discovery, just-in-time creation and email matching stop using it."""
    check_may_manage_domains(acting_user, actor, domain.organization)
    locked = OrganizationDomain.objects.select_for_update().filter(pk=domain.pk).first()
    if locked is None:
        return
    _audit(
        domain,
        actor=actor,
        action=AuditAction.DOMAIN_REMOVED,
        changes={"domain": locked.domain, "state": locked.state},
    )
    locked.delete()


DOMAIN_RECHECK_ACTOR = Actor.system("daily domain re-check")


def domains_recheck_verified() -> int:
    """Check every verified domain again (the worker, daily); returns how many."""
    ids = OrganizationDomain.objects.filter(state=DomainState.VERIFIED).values_list(
        "pk", "domain", "verification_token"
    )
    checked = 0
    for pk, name, token in ids.iterator():
        lookup = look_up_record(name, token)
        try:
            domain_check_record(domain_id=pk, lookup=lookup, actor=DOMAIN_RECHECK_ACTOR)
        except InvalidValue:
            continue  # removed while the worker was looking it up
        checked += 1
    return checked
