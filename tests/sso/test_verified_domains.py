"""Single sign-on trusts an address only in a domain the organization verified.

Just-in-time creation and email matching of the subject both need the address's domain
verified by the organization whose IdP vouches for it (docs/security.md).
"""

import pytest

from accounts.models import AuditAction, AuditEvent, Source, User
from accounts.services import domain_add
from sso.services import idp_configure
from tests.sso.conftest import last_failure_reason, post_acs, signed_in_user_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def jit(organization, saml_idp, system_actor):
    return idp_configure(organization=organization, actor=system_actor, jit_provisioning=True)


def test_jit_creates_a_user_at_a_verified_domain(
    client, organization, jit, idp, assertion_for, acme_domain
):
    post_acs(client, organization, idp.response(assertion_for(name_id="New.Person@ACME.example")))

    user = User.objects.get(organization=organization, source=Source.SSO_JIT)
    assert signed_in_user_id(client) == str(user.pk)


@pytest.mark.parametrize(
    "name_id",
    ["new.person@victimcorp.example", "new.person@mail.acme.example", "jdoe"],
    ids=["other-domain", "subdomain", "no-address"],
)
def test_jit_refuses_an_address_outside_the_verified_domains(
    client, organization, jit, idp, assertion_for, acme_domain, name_id
):
    response = post_acs(client, organization, idp.response(assertion_for(name_id=name_id)))

    assert response.status_code == 403
    assert "not in a domain your organization has verified" in response.content.decode()
    assert signed_in_user_id(client) is None
    assert not User.objects.filter(organization=organization).exists()
    event = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN_FAILED)
    assert event.changes == {"reason": "email_not_in_verified_domain", "subject": name_id}


def test_jit_refuses_a_domain_that_is_only_pending(
    client, organization, jit, idp, assertion_for, system_actor
):
    domain_add(
        organization=organization, domain="acme.example", actor=system_actor, acting_user=None
    )

    post_acs(client, organization, idp.response(assertion_for(name_id="new@acme.example")))

    assert last_failure_reason(organization) == "email_not_in_verified_domain"
    assert not User.objects.filter(organization=organization).exists()


def test_jit_refuses_a_domain_another_organization_verified(
    client, organization, other_organization, jit, idp, assertion_for, make_verified_domain
):
    make_verified_domain(other_organization, "acme.example")

    post_acs(client, organization, idp.response(assertion_for(name_id="new@acme.example")))

    assert last_failure_reason(organization) == "email_not_in_verified_domain"


@pytest.fixture
def email_attribute(organization, saml_idp, system_actor):
    return idp_configure(organization=organization, actor=system_actor, email_attribute="email")


@pytest.fixture
def jdoe(organization, make_user):
    """Provisioned with a userName that is not the address the IdP sends."""
    return make_user(organization, "jdoe", email="Jane.Doe@acme.example")


def test_the_email_attribute_names_a_user_at_a_verified_domain(
    client, organization, email_attribute, idp, assertion_for, jdoe, acme_domain
):
    a = assertion_for(name_id="jdoe", attributes={"email": "JANE.DOE@acme.example"})

    post_acs(client, organization, idp.response(a))

    assert signed_in_user_id(client) == str(jdoe.pk)


def test_the_email_attribute_names_nobody_outside_the_verified_domains(
    client, organization, email_attribute, idp, assertion_for, jdoe, system_actor
):
    domain_add(
        organization=organization, domain="acme.example", actor=system_actor, acting_user=None
    )
    a = assertion_for(name_id="jdoe", attributes={"email": "jane.doe@acme.example"})

    response = post_acs(client, organization, idp.response(a))

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert last_failure_reason(organization) == "unknown_user"


def test_a_username_still_matches_without_a_verified_domain(
    client, organization, saml_idp, idp, assertion_for, member
):
    # The NameID names the username SCIM provisioned: no domain needs verifying.
    post_acs(client, organization, idp.response(assertion_for(name_id=member.username)))

    assert signed_in_user_id(client) == str(member.pk)
