# ruff: noqa: RUF001  (non-ASCII domain names on purpose)
"""Verified domains: the folded name, the DNS TXT proof, and the services around it.

DNS is the `fake_dns` fixture: no test sends a query.
"""

import datetime as dt
import io

import dns.exception
import dns.resolver
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.domain_verification import (
    domain_key,
    email_domain_key,
    look_up_record,
    make_resolver,
    record_name,
    record_value,
)
from accounts.errors import DomainTaken, InvalidValue
from accounts.models import (
    AuditAction,
    AuditEvent,
    DomainCheckResult,
    DomainState,
    OrganizationDomain,
)
from accounts.selectors import email_in_verified_domain, organization_for_verified_domain
from accounts.services import (
    domain_add,
    domain_check,
    domain_remove,
    domains_recheck_verified,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("acme.example", "acme.example"),
        ("ACME.Example.", "acme.example"),
        ("  @acme.example ", "acme.example"),
        ("Bücher.Example", "bücher.example"),
        ("xn--bcher-kva.example", "bücher.example"),
        ("ＡＣＭＥ.example", "acme.example"),
        ("mail.acme.example", "mail.acme.example"),
    ],
)
def test_a_domain_is_stored_folded(typed, stored):
    assert domain_key(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "localhost",
        "acme..example",
        "-acme.example",
        "ac_me.example",
        "ac me.example",
        "10.0.0.1",
        "x" * 64 + ".example",
        "acme.example/path",
    ],
)
def test_what_is_not_a_domain_name_is_refused(typed):
    with pytest.raises(InvalidValue):
        domain_key(typed)


def test_an_email_domain_key_is_blank_for_an_address_without_a_domain():
    assert email_domain_key("Jane@ACME.example") == "acme.example"
    assert (email_domain_key("jdoe"), email_domain_key("@acme.example")) == ("", "")


def test_the_record_lives_under_a_label_of_its_own_in_ascii():
    assert record_name("bücher.example") == "_roster-verification.xn--bcher-kva.example"
    assert record_value("tok") == "roster-verification=tok"


def test_the_resolver_is_bounded_by_the_configured_timeout(settings):
    settings.DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS = 3
    assert make_resolver().lifetime == 3


NAME = "_roster-verification.acme.example"


def test_the_record_is_found_among_other_txt_records(fake_dns):
    fake_dns.publish(NAME, "v=spf1 -all", "roster-verification=tok")
    assert look_up_record("acme.example", "tok").result == DomainCheckResult.FOUND
    assert fake_dns.queries == [(NAME, "TXT")]


def test_a_record_split_into_several_strings_is_found(fake_dns):
    fake_dns.publish(NAME, ("roster-verification=", "tok"))
    assert look_up_record("acme.example", "tok").found


@pytest.mark.parametrize(
    ("setup", "result", "detail"),
    [
        (lambda fake: None, DomainCheckResult.NOT_FOUND, "does not exist in DNS yet"),
        (lambda fake: fake.publish(NAME), DomainCheckResult.NOT_FOUND, "has no TXT record yet"),
        (
            lambda fake: fake.publish(NAME, "roster-verification=someone-elses"),
            DomainCheckResult.NOT_FOUND,
            "none is roster-verification=tok",
        ),
        (
            lambda fake: fake.fail(NAME, dns.resolver.LifetimeTimeout(timeout=5.0, errors=[])),
            DomainCheckResult.TIMEOUT,
            "did not answer",
        ),
        (
            lambda fake: fake.fail(NAME, dns.exception.Timeout()),
            DomainCheckResult.TIMEOUT,
            "did not answer",
        ),
        (
            lambda fake: fake.fail(NAME, dns.resolver.NoNameservers()),
            DomainCheckResult.DNS_ERROR,
            "NoNameservers",
        ),
    ],
    ids=["nxdomain", "no-answer", "other-token", "lifetime-timeout", "timeout", "servfail"],
)
def test_every_dns_failure_is_an_answer(fake_dns, setup, result, detail):
    setup(fake_dns)
    lookup = look_up_record("acme.example", "tok")
    assert lookup.result == result
    assert detail in lookup.detail


@pytest.fixture
def pending(organization, org_owner):
    return domain_add(
        organization=organization,
        domain="Acme.Example",
        actor=Actor.for_user(org_owner),
        acting_user=org_owner,
    )


def _events(action):
    return list(AuditEvent.objects.filter(action=action))


def test_an_owner_adds_a_pending_domain_with_a_fresh_token(pending, org_owner):
    assert (pending.domain, pending.state, pending.added_by) == (
        "acme.example",
        DomainState.PENDING,
        org_owner,
    )
    assert len(pending.verification_token) >= 32
    (event,) = _events(AuditAction.DOMAIN_ADDED)
    assert (event.actor_id, event.target_label, event.changes) == (
        str(org_owner.pk),
        "acme.example",
        {"domain": "acme.example", "record": NAME},
    )


def test_adding_a_domain_twice_in_any_case_is_refused(pending, organization, org_owner):
    with pytest.raises(DomainTaken, match="already one of this organization's domains"):
        domain_add(
            organization=organization,
            domain="ACME.EXAMPLE.",
            actor=Actor.for_user(org_owner),
            acting_user=org_owner,
        )
    assert OrganizationDomain.objects.count() == 1


def test_an_invalid_domain_is_refused_and_nothing_is_written(organization, org_owner):
    with pytest.raises(InvalidValue):
        domain_add(
            organization=organization,
            domain="not a domain",
            actor=Actor.for_user(org_owner),
            acting_user=org_owner,
        )
    assert not OrganizationDomain.objects.exists()
    assert not _events(AuditAction.DOMAIN_ADDED)


def _check(domain, user):
    return domain_check(domain=domain, actor=Actor.for_user(user), acting_user=user)


def test_a_check_that_finds_the_record_verifies_the_domain(pending, org_owner, fake_dns):
    fake_dns.publish(NAME, record_value(pending.verification_token))

    checked = _check(pending, org_owner)

    assert checked.state == DomainState.VERIFIED
    assert checked.verified_at is not None
    assert checked.last_check_result == DomainCheckResult.FOUND
    (event,) = _events(AuditAction.DOMAIN_VERIFIED)
    assert event.changes == {"domain": "acme.example", "result": "found", "state": "verified"}


def test_a_check_that_finds_nothing_keeps_the_domain_pending_and_says_why(
    pending, org_owner, fake_dns
):
    checked = _check(pending, org_owner)

    assert (checked.state, checked.last_check_result) == (
        DomainState.PENDING,
        DomainCheckResult.NOT_FOUND,
    )
    assert checked.last_checked_at is not None
    assert f"{NAME} does not exist in DNS yet." == checked.last_check_detail
    (event,) = _events(AuditAction.DOMAIN_CHECKED)
    assert event.changes["result"] == "not_found"


def test_a_dns_timeout_keeps_the_domain_pending(pending, org_owner, fake_dns):
    fake_dns.fail(NAME, dns.resolver.LifetimeTimeout(timeout=5.0, errors=[]))
    checked = _check(pending, org_owner)
    assert (checked.state, checked.last_check_result) == ("pending", "timeout")


def test_several_organizations_may_have_a_domain_pending(pending, other_organization, system_actor):
    other = domain_add(
        organization=other_organization,
        domain="acme.example",
        actor=system_actor,
        acting_user=None,
    )
    assert other.verification_token != pending.verification_token


def test_a_domain_verified_elsewhere_cannot_be_verified_here(
    pending, org_owner, other_organization, make_verified_domain, fake_dns
):
    make_verified_domain(other_organization, "acme.example")
    fake_dns.publish(NAME, record_value(pending.verification_token))

    checked = _check(pending, org_owner)

    assert checked.state == DomainState.PENDING
    assert checked.last_check_result == DomainCheckResult.CLAIMED_ELSEWHERE
    assert "verified by another organization" in checked.last_check_detail
    assert other_organization.name not in checked.last_check_detail
    assert organization_for_verified_domain("acme.example") == other_organization


def test_the_database_holds_one_verified_row_per_domain(
    organization, other_organization, make_verified_domain, system_actor
):
    make_verified_domain(organization, "acme.example")
    pending = domain_add(
        organization=other_organization, domain="acme.example", actor=system_actor, acting_user=None
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganizationDomain.objects.filter(pk=pending.pk).update(state=DomainState.VERIFIED)


def test_removing_a_domain_is_audited_and_stops_it_counting(
    organization, org_owner, make_verified_domain
):
    verified = make_verified_domain(organization, "acme.example")

    domain_remove(domain=verified, actor=Actor.for_user(org_owner), acting_user=org_owner)

    assert not OrganizationDomain.objects.exists()
    assert not email_in_verified_domain(organization, "jane@acme.example")
    (event,) = _events(AuditAction.DOMAIN_REMOVED)
    assert event.changes == {"domain": "acme.example", "state": "verified"}


def test_an_email_counts_only_in_the_organizations_own_verified_domains(
    organization, other_organization, make_verified_domain, pending
):
    make_verified_domain(other_organization, "globex.example")
    assert not email_in_verified_domain(organization, "jane@acme.example")  # pending only
    assert not email_in_verified_domain(organization, "jane@globex.example")
    assert email_in_verified_domain(other_organization, "Jane@GLOBEX.example")
    assert not email_in_verified_domain(other_organization, "jane@mail.globex.example")


def _age_last_success(domain, days):
    then = timezone.now() - dt.timedelta(days=days)
    OrganizationDomain.objects.filter(pk=domain.pk).update(last_found_at=then, verified_at=then)


def test_a_recheck_that_finds_the_record_keeps_the_domain_verified(
    organization, make_verified_domain, fake_dns
):
    verified = make_verified_domain(organization, "acme.example")
    fake_dns.publish(NAME, record_value(verified.verification_token))

    assert domains_recheck_verified() == 1

    verified.refresh_from_db()
    assert (verified.state, verified.last_check_result) == ("verified", "found")
    assert not verified.last_check_failed_while_verified


def test_a_verified_domain_whose_record_disappeared_is_flagged_not_dropped(
    organization, make_verified_domain, fake_dns, settings
):
    settings.DOMAIN_RECHECK_GRACE_DAYS = 7
    verified = make_verified_domain(organization, "acme.example")
    _age_last_success(verified, 6)

    domains_recheck_verified()

    verified.refresh_from_db()
    assert verified.state == DomainState.VERIFIED
    assert verified.last_check_failed_while_verified
    checked = AuditEvent.objects.filter(action=AuditAction.DOMAIN_CHECKED).first()
    assert (checked.actor_label, checked.changes["result"]) == (
        "daily domain re-check",
        "not_found",
    )


def test_a_verified_domain_whose_record_stays_away_past_the_grace_goes_back_to_pending(
    organization, make_verified_domain, fake_dns, settings
):
    settings.DOMAIN_RECHECK_GRACE_DAYS = 7
    verified = make_verified_domain(organization, "acme.example")
    _age_last_success(verified, 8)

    domains_recheck_verified()

    verified.refresh_from_db()
    assert (verified.state, verified.verified_at) == (DomainState.PENDING, None)
    assert organization_for_verified_domain("acme.example") is None
    (event,) = _events(AuditAction.DOMAIN_UNVERIFIED)
    assert event.changes == {"domain": "acme.example", "result": "not_found", "state": "pending"}


def test_dns_timeouts_past_the_grace_never_unverify(
    organization, make_verified_domain, fake_dns, settings
):
    verified = make_verified_domain(organization, "acme.example")
    _age_last_success(verified, settings.DOMAIN_RECHECK_GRACE_DAYS + 30)
    fake_dns.fail(NAME, dns.resolver.LifetimeTimeout(timeout=5.0, errors=[]))

    domains_recheck_verified()

    verified.refresh_from_db()
    assert verified.state == DomainState.VERIFIED
    assert verified.last_check_result == DomainCheckResult.TIMEOUT


def test_the_recheck_is_a_daily_job_of_the_worker():
    from procrastinate.contrib.django import app

    import accounts.tasks  # noqa: F401  (registers the tasks)

    periodic = app.periodic_registry.periodic_tasks[("domains.recheck", "domains.recheck")]
    assert (periodic.cron, periodic.task.queue) == ("29 4 * * *", "maintenance")


def _run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_domains_command_adds_and_prints_the_record_to_publish(organization):
    output = _run("domains", "acme", "--add", "Acme.Example")

    domain = OrganizationDomain.objects.get(organization=organization)
    assert "Added acme.example" in output
    assert f"TXT record  {NAME}" in output
    assert f"value       roster-verification={domain.verification_token}" in output
    assert "pending, never checked" in output
    event = AuditEvent.objects.get(action=AuditAction.DOMAIN_ADDED)
    assert (event.actor_type, event.actor_label) == ("system", "manage.py domains")


def test_the_domains_command_removes_a_domain(organization, make_verified_domain):
    make_verified_domain(organization, "acme.example")
    assert "Removed acme.example." in _run("domains", "acme", "--remove", "ACME.example")
    assert not OrganizationDomain.objects.exists()


def test_the_domains_command_refuses_an_unknown_organization(db):
    with pytest.raises(CommandError, match="No organization"):
        _run("domains", "nope")


def test_verify_domain_verifies_and_prints_the_last_check(organization, pending, fake_dns):
    fake_dns.publish(NAME, record_value(pending.verification_token))

    output = _run("verify_domain", "acme", "acme.example")

    assert "acme.example: verified, last checked" in output
    assert "Record found" in output
    pending.refresh_from_db()
    assert pending.is_verified


def test_verify_domain_says_what_is_missing_and_fails(organization, pending, fake_dns):
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"acme\.example is not verified"):
        call_command("verify_domain", "acme", "acme.example", stdout=out)
    assert "Record not found yet" in out.getvalue()
    assert "does not exist in DNS yet" in out.getvalue()
    assert f"value       roster-verification={pending.verification_token}" in out.getvalue()


def test_verify_domain_refuses_a_domain_the_organization_did_not_add(organization):
    with pytest.raises(CommandError, match="add it first"):
        _run("verify_domain", "acme", "acme.example")
