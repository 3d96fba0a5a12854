import base64
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from accounts.models import AuditAction, AuditEvent
from sso.services import idp_configure
from sso.sp import sp_urls
from tests.sso.idp import Assertion, TestIdentityProvider

PUBLIC_BASE_URL = "https://roster.example.com"


@pytest.fixture(autouse=True)
def _public_https(settings):
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.PUBLIC_IS_HTTPS = True


@pytest.fixture(scope="session")
def idp():
    return TestIdentityProvider()


@pytest.fixture(scope="session")
def rogue_idp():
    """Same entity ID, a key the organization never configured."""
    return TestIdentityProvider(common_name="rogue")


@pytest.fixture
def saml_idp(organization, idp, system_actor):
    return idp_configure(
        organization=organization,
        actor=system_actor,
        entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        slo_url=idp.slo_url,
        certificates=[idp.certificate_pem],
        enabled=True,
    )


@pytest.fixture
def member(organization, make_user):
    return make_user(organization, "jane.doe@acme.example", given_name="Jane", family_name="Doe")


@pytest.fixture
def assertion_for(organization):
    def build(name_id="jane.doe@acme.example", org=None, **fields):
        urls = sp_urls(org or organization)
        fields.setdefault("audience", urls["entity_id"])
        fields.setdefault("recipient", urls["acs_url"])
        fields.setdefault("destination", urls["acs_url"])
        return Assertion(name_id=name_id, **fields)

    return build


def acs_path(organization) -> str:
    return f"/sso/{organization.slug}/acs/"


def post_acs(client, organization, xml, relay_state=None):
    data = {"SAMLResponse": TestIdentityProvider.encode(xml)}
    if relay_state is not None:
        data["RelayState"] = relay_state
    return client.post(acs_path(organization), data, secure=True)


def start_login(client, organization, next_path=None):
    """GET the SP-initiated login; returns (redirect response, AuthnRequest element)."""
    url = f"/sso/{organization.slug}/login/"
    response = client.get(url, {"next": next_path} if next_path else None, secure=True)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    return response, etree.fromstring(xml), query


def failures(organization):
    return list(
        AuditEvent.objects.filter(organization=organization, action=AuditAction.SSO_LOGIN_FAILED)
    )


def last_failure_reason(organization):
    events = failures(organization)
    return events[0].changes["reason"] if events else None


def signed_in_user_id(client):
    from django.contrib.auth import SESSION_KEY

    return client.session.get(SESSION_KEY)
