"""The end-user pages: landing, sign-in by work email or organization, /api/v1/me."""

import pytest

from accounts.services import domain_add
from sso.services import idp_configure
from tests.sso.discovery import discovery_target

pytestmark = pytest.mark.django_db


def test_anonymous_landing_goes_to_the_sign_in_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/signin/"


def test_landing_shows_who_the_member_is(client, organization, member, make_group):
    make_group(organization, "Engineering", members=[member])
    make_group(organization, "Hidden from Jane")
    client.force_login(member, backend="sso.backends.SamlBackend")

    page = client.get("/").content.decode()

    assert "Jane Doe" in page
    assert "jane.doe@acme.example" in page
    assert "Acme Inc." in page
    assert "Engineering" in page
    assert "Hidden from Jane" not in page
    assert 'action="/sso/acme/slo/"' in page


def test_me_lists_groups(client, organization, member, make_group):
    group = make_group(organization, "Engineering", members=[member])
    client.force_login(member, backend="sso.backends.SamlBackend")

    assert client.get("/api/v1/me").json()["groups"] == [
        {"id": str(group.pk), "displayName": "Engineering"}
    ]


def test_me_refuses_anonymous(client, db):
    assert client.get("/api/v1/me").status_code == 403


def test_me_refuses_platform_operators(client, db):
    from accounts.services import operator_create

    operator = operator_create(username="ops", password="a-long-operator-password")
    client.force_login(operator, backend="accounts.backends.OperatorBackend")

    assert client.get("/api/v1/me").status_code == 403


def test_me_query_count_does_not_grow_with_groups(
    client, organization, member, make_group, django_assert_max_num_queries
):
    # Session, user, organization, groups, then the session save (with its savepoint).
    for index in range(5):
        make_group(organization, f"Group {index}", members=[member])
    client.force_login(member, backend="sso.backends.SamlBackend")

    with django_assert_max_num_queries(7):
        assert client.get("/api/v1/me").status_code == 200


def test_work_email_sends_the_user_to_their_organizations_idp(
    client, organization, saml_idp, acme_domain
):
    response = client.post("/signin/", {"email": "someone.new@ACME.example", "next": "/api/v1/me"})

    assert discovery_target(response) == "/sso/acme/login/?next=%2Fapi%2Fv1%2Fme"


def test_organization_id_sends_the_user_to_its_idp(client, organization, saml_idp):
    response = client.post("/signin/", {"organization": "acme"})
    assert discovery_target(response) == "/sso/acme/login/"


def test_unknown_email_domain_says_so_without_detail(client, organization, saml_idp, member):
    response = client.post("/signin/", {"email": "someone@unknown.example"})
    assert response.status_code == 404
    assert b"couldn" in response.content


def test_organization_without_sso_is_not_offered(
    client, organization, other_organization, make_user, saml_idp, system_actor
):
    make_user(other_organization, "x@globex.example")
    assert client.post("/signin/", {"organization": "globex"}).status_code == 404
    idp_configure(organization=organization, actor=system_actor, enabled=False)
    assert client.post("/signin/", {"organization": "acme"}).status_code == 404


@pytest.fixture
def globex_idp(other_organization, idp, system_actor):
    return idp_configure(
        organization=other_organization,
        actor=system_actor,
        entity_id="http://www.okta.com/exkglobex",
        sso_url=idp.sso_url,
        certificates=[idp.certificate_pem],
        enabled=True,
    )


def test_a_domain_pending_in_several_organizations_sends_nobody_anywhere(
    client, organization, other_organization, saml_idp, globex_idp, system_actor
):
    for org in (organization, other_organization):
        domain_add(organization=org, domain="shared.example", actor=system_actor, acting_user=None)

    response = client.post("/signin/", {"email": "c@shared.example"})

    assert response.status_code == 404


def test_only_the_organization_holding_the_domain_verified_is_offered(
    client,
    organization,
    other_organization,
    saml_idp,
    globex_idp,
    system_actor,
    make_verified_domain,
):
    domain_add(
        organization=organization, domain="shared.example", actor=system_actor, acting_user=None
    )
    make_verified_domain(other_organization, "Shared.Example")

    response = client.post("/signin/", {"email": "c@SHARED.example"})

    assert discovery_target(response) == "/sso/globex/login/"


def test_a_verified_domain_without_sso_on_is_not_offered(
    client, organization, saml_idp, acme_domain, system_actor
):
    idp_configure(organization=organization, actor=system_actor, enabled=False)

    assert client.post("/signin/", {"email": "jane@acme.example"}).status_code == 404


def test_an_unknown_and_a_known_person_at_a_verified_domain_get_the_same_answer(
    client, organization, saml_idp, acme_domain, member
):
    known = client.post("/signin/", {"email": member.email})
    unknown = client.post("/signin/", {"email": "nobody.here@acme.example"})

    assert known.content == unknown.content
    assert discovery_target(known) == "/sso/acme/login/"


def test_discovery_by_email_is_two_queries(
    client, organization, saml_idp, acme_domain, django_assert_num_queries
):
    # The address's miss counter (read, not written, on a hit) and the verified-domain
    # lookup; the session is untouched (no save) on the continuing page.
    with django_assert_num_queries(2):
        response = client.post("/signin/", {"email": "someone@acme.example"})
    assert discovery_target(response) == "/sso/acme/login/"


def test_external_next_is_dropped(client, organization, saml_idp):
    response = client.post("/signin/", {"organization": "acme", "next": "https://evil.example/"})
    assert discovery_target(response) == "/sso/acme/login/"


def test_login_for_an_organization_without_sso_is_not_found(client, organization):
    assert client.get("/sso/acme/login/").status_code == 404
