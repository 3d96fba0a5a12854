"""The end-user pages: landing, sign-in by work email or organization, /api/v1/me."""

import pytest

from sso.services import idp_configure

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
    client, organization, saml_idp, member
):
    response = client.post("/signin/", {"email": "someone.new@ACME.example", "next": "/api/v1/me"})

    assert response.status_code == 302
    assert response["Location"] == "/sso/acme/login/?next=%2Fapi%2Fv1%2Fme"


def test_organization_id_sends_the_user_to_its_idp(client, organization, saml_idp):
    response = client.post("/signin/", {"organization": "acme"})
    assert response["Location"] == "/sso/acme/login/"


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


def test_shared_domain_lets_the_user_pick(
    client, organization, other_organization, make_user, saml_idp, idp, system_actor
):
    idp_configure(
        organization=other_organization,
        actor=system_actor,
        entity_id="http://www.okta.com/exkglobex",
        sso_url=idp.sso_url,
        certificates=[idp.certificate_pem],
        enabled=True,
    )
    make_user(organization, "a@shared.example")
    make_user(other_organization, "b@shared.example")

    page = client.post("/signin/", {"email": "c@shared.example"}).content.decode()

    assert 'href="/sso/acme/login/"' in page
    assert 'href="/sso/globex/login/"' in page


def test_external_next_is_dropped(client, organization, saml_idp):
    response = client.post("/signin/", {"organization": "acme", "next": "https://evil.example/"})
    assert response["Location"] == "/sso/acme/login/"


def test_login_for_an_organization_without_sso_is_not_found(client, organization):
    assert client.get("/sso/acme/login/").status_code == 404
