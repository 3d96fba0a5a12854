"""Sign-out: always local, and SP-initiated SLO at the IdP when it has an SLO URL."""

import base64
import datetime as dt
import uuid
import zlib
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import load_pem_x509_certificate
from lxml import etree

from sso.services import idp_configure
from sso.sp import sp_certificate_pem
from tests.sso.conftest import post_acs, signed_in_user_id
from tests.sso.discovery import discovery_target
from tests.sso.idp import NS

pytestmark = pytest.mark.django_db
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


@pytest.fixture
def saml_session(client, organization, saml_idp, idp, member, assertion_for):
    a = assertion_for()
    assert post_acs(client, organization, idp.response(a)).status_code == 302
    return a


def test_local_sign_out_without_idp_slo(client, organization, saml_session, saml_idp, system_actor):
    idp_configure(organization=organization, actor=system_actor, slo_url="")

    response = client.post("/sso/acme/slo/", secure=True)

    assert response.status_code == 302
    assert response["Location"] == "/sso/acme/slo/"
    assert signed_in_user_id(client) is None
    page = client.get(response["Location"], secure=True)
    assert b"signed out" in page.content


def test_sp_initiated_slo_redirects_to_the_idp_with_a_signed_logout_request(
    client, organization, saml_session, idp, member
):
    response = client.post("/sso/acme/slo/", secure=True)

    assert signed_in_user_id(client) is None
    # A page that continues to the IdP: a 302 from the form's POST would be blocked by
    # the CSP's form-action 'self'.
    target = discovery_target(response)
    location = urlsplit(target)
    assert f"{location.scheme}://{location.netloc}{location.path}" == idp.slo_url
    query = parse_qs(location.query)
    request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15))
    assert request.find("saml2:NameID", NS).text == member.username
    assert request.find("{urn:oasis:names:tc:SAML:2.0:protocol}SessionIndex").text == (
        saml_session.session_index
    )
    assert request.get("Destination") == idp.slo_url
    assert query["SigAlg"] == [RSA_SHA256]
    # HTTP-Redirect binding (SAMLBind §3.4.4.1): the signature covers the raw query.
    raw = dict(part.split("=", 1) for part in location.query.split("&"))
    signed = (
        f"SAMLRequest={raw['SAMLRequest']}&RelayState={raw['RelayState']}&SigAlg={raw['SigAlg']}"
    )
    certificate = load_pem_x509_certificate(sp_certificate_pem(organization).encode())
    certificate.public_key().verify(
        base64.b64decode(query["Signature"][0]),
        signed.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_sign_out_needs_the_csrf_token(organization, saml_idp, idp, member, assertion_for):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    post_acs(browser, organization, idp.response(assertion_for()))

    assert browser.post("/sso/acme/slo/", secure=True).status_code == 403
    assert signed_in_user_id(browser) == str(member.pk)


def idp_logout_request(
    idp, name_id, *, slug="acme", sign=True, request_id=None, issued=None, session_index=None
):
    """The URL an IdP's browser redirect brings: a LogoutRequest, signed by `idp`'s key."""
    issued = issued or dt.datetime.now(dt.UTC)
    index = f"<samlp:SessionIndex>{session_index}</samlp:SessionIndex>" if session_index else ""
    xml = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{request_id or "id" + uuid.uuid4().hex}" Version="2.0" '
        f'IssueInstant="{issued.strftime("%Y-%m-%dT%H:%M:%SZ")}" '
        f'Destination="https://roster.example.com/sso/{slug}/slo/">'
        f"<saml:Issuer>{idp.entity_id}</saml:Issuer>"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
        f"{name_id}</saml:NameID>{index}</samlp:LogoutRequest>"
    )
    deflated = zlib.compress(xml.encode())[2:-4]
    params = {"SAMLRequest": base64.b64encode(deflated).decode(), "SigAlg": RSA_SHA256}
    if sign:
        signed = f"SAMLRequest={quote_plus(params['SAMLRequest'])}&SigAlg={quote_plus(RSA_SHA256)}"
        key = serialization.load_pem_private_key(idp.key_pem, password=None)
        signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        params["Signature"] = base64.b64encode(signature).decode()
    return f"/sso/{slug}/slo/?" + urlencode(params)


def _idp_logout_request(idp, member, *, sign=True):
    return idp_logout_request(idp, member.username, sign=sign)


def test_idp_initiated_logout_request_ends_the_session_and_answers(
    client, organization, saml_session, idp, member
):
    response = client.get(_idp_logout_request(idp, member), secure=True)

    assert response.status_code == 302
    assert response["Location"].startswith(idp.slo_url + "?SAMLResponse=")
    assert signed_in_user_id(client) is None


def test_unsigned_idp_logout_request_is_refused(client, organization, saml_session, idp, member):
    response = client.get(_idp_logout_request(idp, member, sign=False), secure=True)

    assert response.status_code == 400
    assert signed_in_user_id(client) == str(member.pk)


def test_logout_request_signed_by_another_key_is_refused(
    client, organization, saml_session, idp, rogue_idp, member
):
    # The rogue IdP uses the same entity ID as the real one, with its own key.
    response = client.get(_idp_logout_request(rogue_idp, member), secure=True)

    assert response.status_code == 400
    assert signed_in_user_id(client) == str(member.pk)
