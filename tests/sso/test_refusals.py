"""Every refusal at the ACS: a 403 page that echoes nothing, an audit event, no session."""

import copy
import datetime as dt

import pytest
from lxml import etree

from accounts.services import user_deactivate, user_reactivate
from sso.services import idp_configure
from tests.sso.conftest import (
    failures,
    last_failure_reason,
    post_acs,
    signed_in_user_id,
    start_login,
)
from tests.sso.idp import NS, SAML, SAMLP

pytestmark = pytest.mark.django_db


def assert_refused(response, client, organization, reason):
    assert response.status_code == 403
    assert b"couldn" in response.content
    assert signed_in_user_id(client) is None
    assert client.get("/api/v1/me").status_code == 403
    assert last_failure_reason(organization) == reason


def _name_id(element):
    return element.find(".//saml2:NameID", NS)


def test_refusal_page_does_not_echo_the_assertion(
    client, organization, saml_idp, idp, assertion_for
):
    a = assertion_for(name_id="nobody-known@acme.example")

    response = post_acs(client, organization, idp.response(a))

    assert_refused(response, client, organization, "unknown_user")
    assert b"nobody-known" not in response.content
    assert a.assertion_id.encode() not in response.content


def test_unsigned_response_is_refused(client, organization, saml_idp, idp, member, assertion_for):
    xml = idp.response(assertion_for(), sign_assertion=False, sign_response=False)
    assert_refused(post_acs(client, organization, xml), client, organization, "assertion_unsigned")


def test_signed_response_without_signed_assertion_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    xml = idp.response(assertion_for(), sign_assertion=False, sign_response=True)
    assert_refused(post_acs(client, organization, xml), client, organization, "assertion_unsigned")


def test_signature_by_an_unknown_key_is_refused(
    client, organization, saml_idp, idp, rogue_idp, member, assertion_for
):
    xml = idp.response(assertion_for(), signing_idp=rogue_idp)
    assert_refused(post_acs(client, organization, xml), client, organization, "bad_signature")


def test_wrong_audience_is_refused(client, organization, saml_idp, idp, member, assertion_for):
    xml = idp.response(assertion_for(audience="https://other-sp.example/metadata"))
    assert_refused(post_acs(client, organization, xml), client, organization, "wrong_audience")


def test_response_for_another_organization_is_refused_at_this_acs(
    client, organization, other_organization, saml_idp, idp, member, assertion_for, system_actor
):
    idp_configure(
        organization=other_organization,
        actor=system_actor,
        entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        certificates=[idp.certificate_pem],
        enabled=True,
    )
    # Destination, Recipient and Audience name globex; it is posted to acme's ACS.
    xml = idp.response(assertion_for(org=other_organization))
    assert_refused(post_acs(client, organization, xml), client, organization, "wrong_destination")


def test_wrong_destination_alone_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    a = assertion_for(destination="https://roster.example.com/sso/acme/acs/extra")
    assert_refused(
        post_acs(client, organization, idp.response(a)), client, organization, "wrong_destination"
    )


def test_wrong_recipient_is_refused(client, organization, saml_idp, idp, member, assertion_for):
    a = assertion_for(recipient="https://roster.example.com/sso/acme/acs/../../globex/acs/")
    assert_refused(
        post_acs(client, organization, idp.response(a)), client, organization, "wrong_recipient"
    )


def test_expired_assertion_is_refused(client, organization, saml_idp, idp, member, assertion_for):
    a = assertion_for(
        not_before=dt.timedelta(minutes=-20),
        not_on_or_after=dt.timedelta(minutes=-3),
        confirmation_not_on_or_after=dt.timedelta(minutes=5),
    )
    assert_refused(post_acs(client, organization, idp.response(a)), client, organization, "expired")


def test_not_yet_valid_assertion_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    a = assertion_for(not_before=dt.timedelta(minutes=3), not_on_or_after=dt.timedelta(minutes=10))
    assert_refused(
        post_acs(client, organization, idp.response(a)), client, organization, "not_yet_valid"
    )


def test_expired_subject_confirmation_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    a = assertion_for(confirmation_not_on_or_after=dt.timedelta(seconds=-1))
    response = post_acs(client, organization, idp.response(a))
    assert_refused(response, client, organization, "subject_confirmation")


def test_name_id_tampered_after_signing_is_refused(
    client, organization, saml_idp, idp, member, make_user, assertion_for
):
    make_user(organization, "admin@acme.example")
    response_element = idp.response_element(assertion_for())
    _name_id(response_element).text = "admin@acme.example"

    response = post_acs(client, organization, etree.tostring(response_element))

    assert_refused(response, client, organization, "bad_signature")


def test_attribute_tampered_after_signing_is_refused(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    idp_configure(organization=organization, actor=system_actor, email_attribute="email")
    response_element = idp.response_element(
        assertion_for(attributes={"email": "jane.doe@acme.example"})
    )
    value = response_element.find(".//saml2:AttributeValue", NS)
    value.text = "admin@acme.example"

    response = post_acs(client, organization, etree.tostring(response_element))

    assert_refused(response, client, organization, "bad_signature")


def _evil_assertion(idp, assertion_for, **fields):
    evil = idp.assertion_element(assertion_for(name_id="admin@acme.example", **fields), sign=False)
    return evil


def test_xsw_extra_unsigned_assertion_before_the_signed_one_is_refused(
    client, organization, saml_idp, idp, member, make_user, assertion_for
):
    make_user(organization, "admin@acme.example")
    response_element = idp.response_element(assertion_for(), sign_response=False)
    signed = response_element.find("saml2:Assertion", NS)
    signed.addprevious(_evil_assertion(idp, assertion_for))

    response = post_acs(client, organization, etree.tostring(response_element))

    assert_refused(response, client, organization, "assertion_count")


def test_xsw_extra_unsigned_assertion_after_the_signed_one_is_refused(
    client, organization, saml_idp, idp, member, make_user, assertion_for
):
    make_user(organization, "admin@acme.example")
    response_element = idp.response_element(assertion_for())
    response_element.append(_evil_assertion(idp, assertion_for))

    response = post_acs(client, organization, etree.tostring(response_element))

    assert_refused(response, client, organization, "assertion_count")


def test_xsw_signed_assertion_moved_into_a_wrapper_is_refused(
    client, organization, saml_idp, idp, member, make_user, assertion_for
):
    """The evil assertion takes the signed one's ID; the signed one hides in Extensions."""
    make_user(organization, "admin@acme.example")
    a = assertion_for()
    response_element = idp.response_element(a, sign_response=False)
    signed = response_element.find("saml2:Assertion", NS)
    evil = _evil_assertion(idp, assertion_for, assertion_id=a.assertion_id)
    evil.insert(1, copy.deepcopy(signed.find("ds:Signature", NS)))
    signed.getparent().replace(signed, evil)
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    extensions.append(signed)
    response_element.find("saml2p:Status", NS).addprevious(extensions)

    response = post_acs(client, organization, etree.tostring(response_element))

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert last_failure_reason(organization) == "assertion_count"


def test_xsw_signed_assertion_moved_into_the_evil_assertion_is_refused(
    client, organization, saml_idp, idp, member, make_user, assertion_for
):
    """XSW-7 style: the signed assertion sits inside the evil one's Advice."""
    make_user(organization, "admin@acme.example")
    a = assertion_for()
    response_element = idp.response_element(a, sign_response=False)
    signed = response_element.find("saml2:Assertion", NS)
    evil = _evil_assertion(idp, assertion_for)
    advice = etree.SubElement(evil, f"{{{SAML}}}Advice")
    evil.find("saml2:Conditions", NS).addnext(advice)
    signed.getparent().replace(signed, evil)
    advice.append(signed)

    response = post_acs(client, organization, etree.tostring(response_element))

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert last_failure_reason(organization) == "assertion_count"


def test_xsw_signed_response_wrapped_in_an_evil_response_is_refused(
    client, organization, saml_idp, idp, member, make_user, assertion_for
):
    """XSW-1/2 style: a new unsigned Response carries the original signed one inside."""
    make_user(organization, "admin@acme.example")
    original = idp.response_element(assertion_for())
    evil_response = idp.response_element(
        assertion_for(name_id="admin@acme.example"), sign_assertion=False, sign_response=False
    )
    evil_response.find("saml2p:Status", NS).addprevious(etree.Element(f"{{{SAMLP}}}Extensions"))
    evil_response.find("saml2p:Extensions", NS).append(original)

    response = post_acs(client, organization, etree.tostring(evil_response))

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    assert last_failure_reason(organization) == "assertion_count"


def test_replayed_assertion_is_refused(client, organization, saml_idp, idp, member, assertion_for):
    xml = idp.response(assertion_for())
    assert post_acs(client, organization, xml).status_code == 302
    client.logout()

    assert_refused(post_acs(client, organization, xml), client, organization, "replayed")


def test_in_response_to_of_another_request_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    start_login(client, organization)
    xml = idp.response(assertion_for(in_response_to="id-of-a-request-this-browser-never-sent"))
    assert_refused(
        post_acs(client, organization, xml), client, organization, "in_response_to_mismatch"
    )


def test_in_response_to_without_any_pending_request_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    xml = idp.response(assertion_for(in_response_to="id0123456789abcdef"))
    assert_refused(
        post_acs(client, organization, xml), client, organization, "in_response_to_mismatch"
    )


def test_another_browsers_request_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    from django.test import Client

    _, other_request, _ = start_login(Client(), organization)
    start_login(client, organization)
    xml = idp.response(assertion_for(in_response_to=other_request.get("ID")))
    assert_refused(
        post_acs(client, organization, xml), client, organization, "in_response_to_mismatch"
    )


def test_unsolicited_response_is_refused_when_idp_initiated_is_off(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    idp_configure(organization=organization, actor=system_actor, allow_idp_initiated=False)
    xml = idp.response(assertion_for())
    assert_refused(post_acs(client, organization, xml), client, organization, "unsolicited_refused")


def test_sha1_signature_is_refused(client, organization, saml_idp, idp, member, assertion_for):
    xml = idp.response(assertion_for(), algorithm="sha1")
    assert_refused(
        post_acs(client, organization, xml), client, organization, "deprecated_algorithm"
    )


def test_deactivated_user_is_refused(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    user_deactivate(user=member, actor=system_actor)
    xml = idp.response(assertion_for())
    assert_refused(post_acs(client, organization, xml), client, organization, "user_deactivated")


def test_unknown_user_is_refused_without_jit(client, organization, saml_idp, idp, assertion_for):
    xml = idp.response(assertion_for(name_id="stranger@acme.example"))
    assert_refused(post_acs(client, organization, xml), client, organization, "unknown_user")


def test_user_of_another_organization_is_unknown_here(
    client, organization, other_organization, saml_idp, idp, make_user, assertion_for
):
    make_user(other_organization, "visitor@globex.example")
    xml = idp.response(assertion_for(name_id="visitor@globex.example"))
    assert_refused(post_acs(client, organization, xml), client, organization, "unknown_user")


def test_xml_with_a_dtd_and_entity_is_refused(
    client, organization, saml_idp, idp, member, assertion_for
):
    xml = idp.response(assertion_for()).decode()
    xml = '<!DOCTYPE r [<!ENTITY who "jane.doe@acme.example">]>' + xml
    assert_refused(post_acs(client, organization, xml), client, organization, "dtd_or_entity")


def test_name_id_with_an_xml_comment_never_signs_in_as_the_truncated_name(
    client, organization, saml_idp, idp, member, assertion_for
):
    """CVE-2017-11427: the IdP signed `jane.doe@acme.example.evil.test` for the attacker;
    a comment after `jane.doe@acme.example` keeps the signature valid (c14n drops comments)
    and fools parsers that read only the first text node."""
    response_element = idp.response_element(
        assertion_for(name_id="jane.doe@acme.example.evil.test")
    )
    signed = etree.tostring(response_element).decode()
    tampered = signed.replace(
        "jane.doe@acme.example.evil.test", "jane.doe@acme.example<!---->.evil.test"
    )
    assert tampered != signed

    response = post_acs(client, organization, tampered)

    assert response.status_code == 403
    assert signed_in_user_id(client) is None
    # The whole text is read: the attacker's own (unknown) name, never Jane's.
    assert last_failure_reason(organization) == "unknown_user"
    assert failures(organization)[0].changes["subject"] == "jane.doe@acme.example.evil.test"


def test_response_larger_than_the_cap_is_refused(
    client, organization, saml_idp, settings, member, assertion_for, idp
):
    settings.SAML_MAX_RESPONSE_BYTES = 1000
    xml = idp.response(assertion_for())
    assert_refused(post_acs(client, organization, xml), client, organization, "response_too_large")


def test_garbage_is_refused(client, organization, saml_idp):
    response = client.post("/sso/acme/acs/", {"SAMLResponse": "not base64 at all!"}, secure=True)
    assert_refused(response, client, organization, "malformed")


def test_disabled_idp_refuses_sign_in(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    idp_configure(organization=organization, actor=system_actor, enabled=False)
    xml = idp.response(assertion_for())
    assert_refused(post_acs(client, organization, xml), client, organization, "sso_not_enabled")


def test_wrong_issuer_is_refused(client, organization, saml_idp, idp, member, assertion_for):
    xml = idp.response(assertion_for(issuer="http://www.okta.com/exkSomeoneElse"))
    assert_refused(post_acs(client, organization, xml), client, organization, "wrong_issuer")


def test_refused_sign_in_leaves_an_existing_session_of_another_user_untouched(
    client, organization, saml_idp, idp, member, make_user, assertion_for
):
    post_acs(client, organization, idp.response(assertion_for()))
    make_user(organization, "admin@acme.example")
    xml = idp.response(assertion_for(name_id="admin@acme.example"), algorithm="sha1")

    assert post_acs(client, organization, xml).status_code == 403
    assert signed_in_user_id(client) == str(member.pk)


def test_transient_name_id_is_refused_even_with_jit(
    client, organization, saml_idp, idp, assertion_for, system_actor
):
    idp_configure(organization=organization, actor=system_actor, jit_provisioning=True)
    a = assertion_for(
        name_id="_7f3a9c0e1b", name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    )
    assert_refused(
        post_acs(client, organization, idp.response(a)), client, organization, "transient_name_id"
    )


def test_missing_configured_attribute_is_refused(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    idp_configure(organization=organization, actor=system_actor, email_attribute="email")
    xml = idp.response(assertion_for(attributes={"firstName": "Jane"}))
    assert_refused(post_acs(client, organization, xml), client, organization, "missing_attribute")


def test_forged_pending_request_cookie_is_ignored(
    client, organization, saml_idp, idp, member, assertion_for
):
    _, request, _ = start_login(client, organization)
    client.cookies["roster_saml_pending"] = "forged-value-without-a-valid-signature"
    xml = idp.response(assertion_for(in_response_to=request.get("ID")))
    assert_refused(
        post_acs(client, organization, xml), client, organization, "in_response_to_mismatch"
    )


def test_a_refused_sign_in_spends_its_assertion_all_the_same(
    client, organization, saml_idp, idp, member, assertion_for, system_actor
):
    user_deactivate(user=member, actor=system_actor)
    xml = idp.response(assertion_for())
    assert_refused(post_acs(client, organization, xml), client, organization, "user_deactivated")
    # The refusal rolled the sign-in back but kept the id: the same response, once the
    # user is active again, is a replay, not a sign-in.
    user_reactivate(user=member, actor=system_actor)
    assert_refused(post_acs(client, organization, xml), client, organization, "replayed")
