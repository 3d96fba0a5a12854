"""The Verified domains page: the record to publish, the state, Check now, Remove.

Owners manage domains; admins see them read-only (docs/console.md). DNS is faked.
"""

import pytest
from django.urls import reverse

from accounts.domain_verification import record_value
from accounts.models import AuditAction, AuditEvent, DomainState, OrganizationDomain
from accounts.services import domains_recheck_verified

NAME = "_roster-verification.acme.example"


@pytest.fixture
def pending(owner_client, organization):
    owner_client.post(reverse("console:domain_add"), {"domain": "Acme.Example"})
    return OrganizationDomain.objects.get(organization=organization)


def test_an_owner_adds_a_domain_and_sees_the_record_to_publish(owner_client, pending, org_owner):
    page = owner_client.get(reverse("console:domains")).content.decode()

    assert pending.domain == "acme.example"
    assert f'value="{NAME}"' in page
    assert f'value="{record_value(pending.verification_token)}"' in page
    assert "Pending" in page
    assert "Not checked yet." in page
    assert f"Added by {org_owner.email}." in page
    event = AuditEvent.objects.get(action=AuditAction.DOMAIN_ADDED)
    assert event.actor_id == str(org_owner.pk)


def test_an_invalid_domain_is_a_form_error(owner_client, organization):
    response = owner_client.post(reverse("console:domain_add"), {"domain": "not a domain"})

    assert response.status_code == 400
    assert "is not a domain name such as example.com" in response.content.decode()
    assert not OrganizationDomain.objects.exists()


def test_a_domain_added_twice_is_a_form_error(owner_client, pending):
    response = owner_client.post(reverse("console:domain_add"), {"domain": "ACME.example"})

    assert response.status_code == 400
    assert "already one of this organization&#x27;s domains" in response.content.decode()


def test_check_now_verifies_a_domain_whose_record_is_published(owner_client, pending, fake_dns):
    fake_dns.publish(NAME, record_value(pending.verification_token))

    response = owner_client.post(reverse("console:domain_check", args=[pending.pk]), follow=True)

    page = response.content.decode()
    assert "acme.example is verified." in page
    assert '<span class="badge badge-ok">Verified</span>' in page
    assert "Record found" in page
    pending.refresh_from_db()
    assert pending.state == DomainState.VERIFIED


def test_check_now_says_the_record_is_not_found_yet(owner_client, pending, fake_dns):
    response = owner_client.post(reverse("console:domain_check", args=[pending.pk]), follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert f"acme.example is not verified: {NAME} does not exist in DNS yet." in page
    assert "Record not found yet" in page


def test_a_domain_verified_by_another_organization_is_explained(
    owner_client, pending, other_organization, make_verified_domain, fake_dns
):
    make_verified_domain(other_organization, "acme.example")
    fake_dns.publish(NAME, record_value(pending.verification_token))

    page = owner_client.post(
        reverse("console:domain_check", args=[pending.pk]), follow=True
    ).content.decode()

    assert "is verified by another organization" in page
    assert other_organization.name not in page


def test_an_owner_removes_a_domain(owner_client, pending):
    url = reverse("console:domain_remove", args=[pending.pk])
    confirm = owner_client.get(url).content.decode()
    assert "Remove acme.example?" in confirm
    assert OrganizationDomain.objects.exists()  # asking is not removing

    response = owner_client.post(url, follow=True)

    assert "acme.example removed." in response.content.decode()
    assert not OrganizationDomain.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.DOMAIN_REMOVED).exists()


def test_an_admin_sees_the_domains_read_only(admin_client, organization, make_verified_domain):
    make_verified_domain(organization, "acme.example")

    page = admin_client.get(reverse("console:domains")).content.decode()

    assert "acme.example" in page
    assert "You see them read-only." in page
    assert "Check now" not in page
    assert "Add a domain" not in page


@pytest.mark.parametrize("action", ["add", "check", "remove"])
def test_an_admin_cannot_change_domains(
    admin_client, organization, make_verified_domain, fake_dns, action
):
    domain = make_verified_domain(organization, "acme.example")
    url, data = {
        "add": (reverse("console:domain_add"), {"domain": "globex.example"}),
        "check": (reverse("console:domain_check", args=[domain.pk]), {}),
        "remove": (reverse("console:domain_remove", args=[domain.pk]), {}),
    }[action]
    before = AuditEvent.objects.count()

    response = admin_client.post(url, data)

    assert response.status_code == 403
    assert "Only owners can change verified domains." in response.content.decode()
    assert AuditEvent.objects.count() == before
    assert list(OrganizationDomain.objects.values_list("domain", flat=True)) == ["acme.example"]
    assert fake_dns.queries == []


def test_removing_a_verified_domain_says_what_stops_working(
    owner_client, admin_client, organization, make_verified_domain
):
    domain = make_verified_domain(organization, "acme.example")
    url = reverse("console:domain_remove", args=[domain.pk])

    page = owner_client.get(url).content.decode()
    assert "will no longer be sent to your identity provider" in page

    refused = admin_client.get(url)
    assert refused.status_code == 403
    assert "Only owners can change verified domains." in refused.content.decode()


def test_another_organizations_domain_is_not_found(
    owner_client, other_organization, make_verified_domain
):
    theirs = make_verified_domain(other_organization, "globex.example")

    for name in ("console:domain_check", "console:domain_remove"):
        assert owner_client.post(reverse(name, args=[theirs.pk])).status_code == 404
    assert OrganizationDomain.objects.filter(pk=theirs.pk).exists()


def test_a_verified_domain_whose_last_check_failed_is_flagged(
    owner_client, organization, make_verified_domain, fake_dns
):
    make_verified_domain(organization, "acme.example")

    domains_recheck_verified()

    page = owner_client.get(reverse("console:domains")).content.decode()
    assert "Verified, last check failed" in page
    assert "goes back to pending" in page


def test_the_sso_page_lists_the_verified_domains(owner_client, organization, make_verified_domain):
    make_verified_domain(organization, "acme.example")

    page = owner_client.get(reverse("console:sso")).content.decode()

    assert "Verified: <code>acme.example</code>." in page
    assert reverse("console:domains") in page


def test_a_member_has_no_domains_page(member_client):
    assert member_client.get(reverse("console:domains")).status_code == 403
