"""SAML sign-ins and refusals as operators see them in /metrics."""

from config import metrics
from tests.sso.conftest import post_acs


def value(name: str, **labels) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_accepted_sign_in_is_counted(client, organization, saml_idp, idp, member, assertion_for):
    before = value("roster_saml_sign_ins_total")
    response = post_acs(client, organization, idp.response(assertion_for()))
    assert response.status_code == 302
    assert value("roster_saml_sign_ins_total") - before == 1


def test_a_refused_sign_in_is_counted_by_its_reason_not_its_subject(
    client, organization, saml_idp, idp, assertion_for
):
    before = value("roster_saml_refusals_total", reason="unknown_user")
    signed_in = value("roster_saml_sign_ins_total")
    xml = idp.response(assertion_for(name_id="nobody-known@acme.example"))
    assert post_acs(client, organization, xml).status_code == 403
    assert value("roster_saml_refusals_total", reason="unknown_user") - before == 1
    assert value("roster_saml_sign_ins_total") == signed_in
    assert "nobody-known" not in metrics.exposition().decode()


def test_a_post_without_a_response_is_counted_as_no_response(client, organization, saml_idp):
    before = value("roster_saml_refusals_total", reason="no_response")
    response = client.post(f"/sso/{organization.slug}/acs/", {}, secure=True)
    assert response.status_code == 403
    assert value("roster_saml_refusals_total", reason="no_response") - before == 1
