"""A user deactivated or deleted while signed in through SAML loses every session at once."""

import pytest
from django.contrib.sessions.models import Session

from accounts.services import user_deactivate, user_delete
from tests.sso.conftest import post_acs, signed_in_user_id

pytestmark = pytest.mark.django_db(transaction=True)

DEACTIVATE = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "value": {"active": False}}],
}


@pytest.fixture
def signed_in(client, organization, saml_idp, idp, member, assertion_for):
    assert post_acs(client, organization, idp.response(assertion_for())).status_code == 302
    assert client.get("/api/v1/me").status_code == 200
    return client


def test_scim_deactivation_ends_the_saml_session(signed_in, member, scim_secret):
    from django.test import Client

    from tests.conftest import ScimClient

    # The IdP's SCIM client is a separate HTTP client from the user's browser.
    scim = ScimClient(Client(), scim_secret)
    session_key = signed_in.session.session_key

    response = scim.patch(f"/Users/{member.pk}", DEACTIVATE)

    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    assert not Session.objects.filter(session_key=session_key).exists()
    assert signed_in.get("/api/v1/me").status_code == 403
    assert signed_in_user_id(signed_in) is None


def test_deactivation_service_ends_the_saml_session(signed_in, member, system_actor):
    user_deactivate(user=member, actor=system_actor)

    assert signed_in.get("/api/v1/me").status_code == 403


def test_deletion_ends_the_saml_session(signed_in, member, system_actor):
    user_delete(user=member, actor=system_actor)

    assert signed_in.get("/api/v1/me").status_code == 403
