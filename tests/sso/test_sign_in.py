"""Valid sign-ins through the real views: SP- and IdP-initiated, and what they leave."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditAction, AuditEvent, Role, Source, User
from sso.services import idp_configure
from tests.sso.conftest import last_failure_reason, post_acs, signed_in_user_id, start_login
from tests.sso.idp import TestIdentityProvider

UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


def test_sp_initiated_sign_in_lands_signed_in(
    client, organization, saml_idp, idp, member, assertion_for
):
    _, request, _ = start_login(client, organization, next_path="/api/v1/me")
    xml = idp.response(assertion_for(in_response_to=request.get("ID")))

    response = post_acs(client, organization, xml, relay_state="/api/v1/me")

    assert response.status_code == 302
    assert response["Location"] == "/api/v1/me"
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json() == {
        "userName": "jane.doe@acme.example",
        "email": "jane.doe@acme.example",
        "displayName": "Jane Doe",
        "organization": {"slug": "acme", "name": "Acme Inc."},
        "groups": [],
    }


def test_authn_request_goes_to_the_idp_for_this_organization(client, organization, saml_idp, idp):
    response, request, query = start_login(client, organization, next_path="/")
    assert response["Location"].startswith(idp.sso_url + "?")
    assert request.get("AssertionConsumerServiceURL") == "https://roster.example.com/sso/acme/acs/"
    assert request.get("Destination") == idp.sso_url
    assert query["RelayState"] == ["/"]
    cookie = response.cookies["roster_saml_pending"]
    assert cookie["samesite"] == "None"
    assert cookie["secure"]
    assert cookie["httponly"]
    assert cookie["path"] == "/sso/acme/acs/"


def test_idp_initiated_sign_in_lands_on_the_landing_page(
    client, organization, saml_idp, idp, member, assertion_for
):
    response = post_acs(client, organization, idp.response(assertion_for()))

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(member.pk)
    landing = client.get("/")
    assert landing.status_code == 200
    assert b"Acme Inc." in landing.content


def test_relay_state_to_an_external_site_is_not_followed(
    client, organization, saml_idp, idp, member, assertion_for
):
    for relay_state in ("https://evil.example/phish", "//evil.example/", "/\\evil.example"):
        client.logout()
        response = post_acs(
            client, organization, idp.response(assertion_for()), relay_state=relay_state
        )
        assert response.status_code == 302
        assert response["Location"] == "/"


def test_sign_in_rotates_the_session_and_records_the_saml_session(
    client, organization, saml_idp, idp, member, assertion_for
):
    client.get("/signin/")
    client.session.save()
    before = client.session.session_key
    a = assertion_for()

    post_acs(client, organization, idp.response(a))

    session = client.session
    assert session.session_key != before
    assert session[SESSION_KEY] == str(member.pk)
    assert session["saml"] == {
        "organization": "acme",
        "name_id": "jane.doe@acme.example",
        "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "name_qualifier": "",
        "sp_name_qualifier": "",
        "session_index": a.session_index,
    }
    assert member.sessions.filter(session_key=session.session_key).exists()


def test_sign_in_is_audited(client, organization, saml_idp, idp, member, assertion_for):
    post_acs(client, organization, idp.response(assertion_for()))

    event = AuditEvent.objects.get(organization=organization, action=AuditAction.SSO_LOGIN)
    assert event.target_id == str(member.pk)
    assert event.changes == {"idp_initiated": True, "created": False}


def test_user_is_found_case_insensitively_by_username(
    client, organization, saml_idp, idp, make_user, assertion_for
):
    user = make_user(organization, "jdoe", email="Jane.Doe@Acme.Example")

    post_acs(
        client,
        organization,
        idp.response(assertion_for(name_id="JDOE", name_id_format=UNSPECIFIED)),
    )
    assert signed_in_user_id(client) == str(user.pk)


def test_a_name_id_is_never_matched_to_an_email(
    client, organization, saml_idp, idp, make_user, assertion_for
):
    # Subject binding: without an email attribute the NameID names a username only.
    make_user(organization, "jdoe", email="Jane.Doe@Acme.Example")

    response = post_acs(
        client, organization, idp.response(assertion_for(name_id="JANE.DOE@acme.example"))
    )

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert last_failure_reason(organization) == "unknown_user"


def test_entra_email_claim_is_used_when_configured(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    claim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    idp_configure(organization=organization, actor=system_actor, email_attribute=claim)
    # Entra ID's default NameID is the user principal name, not the email.
    a = assertion_for(
        name_id="jdoe@acmecorp.onmicrosoft.example", attributes={claim: "jane.doe@acme.example"}
    )

    post_acs(client, organization, idp.response(a))

    assert signed_in_user_id(client) == str(member.pk)


def test_groups_in_the_assertion_never_grant_console_roles(
    client, organization, saml_idp, idp, member, assertion_for
):
    a = assertion_for(attributes={"groups": ["Admins", "Owners"], "role": "owner"})

    post_acs(client, organization, idp.response(a))

    member.refresh_from_db()
    assert signed_in_user_id(client) == str(member.pk)
    assert member.role == Role.MEMBER
    assert client.get("/console/").status_code == 403


def test_jit_creates_an_unknown_user_through_the_services(
    client, organization, saml_idp, idp, assertion_for, system_actor, acme_domain
):
    idp_configure(
        organization=organization,
        actor=system_actor,
        jit_provisioning=True,
        given_name_attribute="firstName",
        family_name_attribute="lastName",
    )
    a = assertion_for(
        name_id="new.person@acme.example", attributes={"firstName": "New", "lastName": "Person"}
    )

    post_acs(client, organization, idp.response(a))

    user = User.objects.get(organization=organization, username="new.person@acme.example")
    assert (user.source, user.given_name, user.family_name, user.role) == (
        Source.SSO_JIT,
        "New",
        "Person",
        Role.MEMBER,
    )
    assert signed_in_user_id(client) == str(user.pk)
    assert AuditEvent.objects.filter(
        action=AuditAction.USER_CREATED, target_id=str(user.pk)
    ).exists()


def test_certificate_rollover_accepts_each_configured_certificate(
    client, organization, idp, member, assertion_for, system_actor
):
    next_idp = TestIdentityProvider(common_name="okta-next")
    idp_configure(
        organization=organization,
        actor=system_actor,
        entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        certificates=[idp.certificate_pem, next_idp.certificate_pem],
        enabled=True,
    )

    for signer in (idp, next_idp):
        client.logout()
        response = post_acs(client, organization, idp.response(assertion_for(), signing_idp=signer))
        assert response.status_code == 302
        assert signed_in_user_id(client) == str(member.pk)


def test_assertion_within_the_clock_skew_is_accepted(
    client, organization, saml_idp, idp, member, assertion_for
):
    import datetime as dt

    # Conditions ended 60 s ago: inside the default 120 s allowance.
    a = assertion_for(
        not_on_or_after=dt.timedelta(seconds=-60),
        confirmation_not_on_or_after=dt.timedelta(minutes=5),
    )

    response = post_acs(client, organization, idp.response(a))

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(member.pk)


def test_authn_request_is_signed_when_the_idp_wants_it(
    client, organization, saml_idp, system_actor
):
    idp_configure(organization=organization, actor=system_actor, sign_authn_requests=True)

    _, _, query = start_login(client, organization)

    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    assert query["Signature"]


def test_okta_response_without_attribute_statements_is_accepted(
    client, organization, saml_idp, idp, member, assertion_for
):
    """Okta sends no AttributeStatement unless the app defines attribute statements."""
    xml = idp.response(assertion_for(attributes={}))
    assert b"AttributeStatement" not in xml

    assert post_acs(client, organization, xml).status_code == 302
    assert signed_in_user_id(client) == str(member.pk)


def test_sp_initiated_sign_in_works_when_idp_initiated_is_off(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    idp_configure(organization=organization, actor=system_actor, allow_idp_initiated=False)
    _, request, _ = start_login(client, organization)

    response = post_acs(
        client, organization, idp.response(assertion_for(in_response_to=request.get("ID")))
    )

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(member.pk)
    # The pending request is spent: the cookie is cleared with the sign-in.
    assert response.cookies["roster_saml_pending"].value == ""


# What a fresh IdP-initiated sign-in costs on each production cache: the IdP with its
# organization, (the ACS rate counter on the database,) the SP keys; then one transaction
# with the spent assertion id, the user, its last SSO sign-in time, the audit event, the
# user's session record, last_login and the session itself, which the session
# middleware does not write again.
ACS_BUDGET = {"database": 12, "redis": 11}


@pytest.mark.django_db(transaction=True)
def test_a_fresh_idp_initiated_sign_in_is_one_transaction(
    client, organization, saml_idp, idp, member, assertion_for, shared_cache
):
    # Spent ids are purged now and then, not on every sign-in: this one pays for it.
    post_acs(Client(), organization, idp.response(assertion_for()))
    with CaptureQueriesContext(connection) as context:
        response = post_acs(client, organization, idp.response(assertion_for()))
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(member.pk)
    statements = [q["sql"] for q in context.captured_queries]
    assert len(statements) <= ACS_BUDGET[shared_cache]
    commands = [sql for sql in statements if sql in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert commands == ["BEGIN", "COMMIT"]
    # The session row commits with the sign-in, written once, with no savepoint.
    session_writes = [
        sql
        for sql in statements
        if sql.startswith(("INSERT", "UPDATE")) and '"django_session"' in sql.split("(", 1)[0]
    ]
    assert len(session_writes) == 1
    assert (
        statements.index("BEGIN") < statements.index(session_writes[0]) < statements.index("COMMIT")
    )
    assert not [sql for sql in statements if sql.startswith("SAVEPOINT")]
