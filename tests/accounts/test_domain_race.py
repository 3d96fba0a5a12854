"""Two organizations verifying the same domain at the same moment: exactly one wins.

Both checks pass the "verified elsewhere?" read before either writes; the partial
unique constraint `domain_verified_by_one_org` then decides, and the loser's check is
answered as "verified by another organization", not an error.
"""

import threading

import pytest
from django.db import connection

from accounts.domain_verification import Lookup
from accounts.models import DomainCheckResult, DomainState, OrganizationDomain
from accounts.services import domain_add, domain_check_record
from accounts.services import domains as domain_services

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: concurrent writers"
    ),
]


def test_two_organizations_verifying_one_domain_at_once_leave_exactly_one_verified(
    organization, other_organization, system_actor, monkeypatch
):
    pending = [
        domain_add(organization=org, domain="acme.example", actor=system_actor, acting_user=None)
        for org in (organization, other_organization)
    ]
    both_read = threading.Barrier(2, timeout=20)
    read_verified_elsewhere = domain_services._verified_elsewhere

    def read_then_wait(domain):
        answer = read_verified_elsewhere(domain)
        both_read.wait()  # neither has written: both saw the domain free
        return answer

    monkeypatch.setattr(domain_services, "_verified_elsewhere", read_then_wait)
    results, errors = {}, []

    def check(domain):
        try:
            found = Lookup(DomainCheckResult.FOUND, "found")
            checked = domain_check_record(domain_id=domain.pk, lookup=found, actor=system_actor)
            results[domain.organization_id] = checked.last_check_result
        except Exception as error:  # asserted below, in the test thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=check, args=(domain,)) for domain in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results.values()) == [
        DomainCheckResult.CLAIMED_ELSEWHERE,
        DomainCheckResult.FOUND,
    ]
    verified = OrganizationDomain.objects.filter(domain="acme.example", state=DomainState.VERIFIED)
    assert verified.count() == 1
    winner = next(org for org, result in results.items() if result == DomainCheckResult.FOUND)
    assert verified.get().organization_id == winner
