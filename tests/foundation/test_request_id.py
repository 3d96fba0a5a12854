"""Every response names its request id; a load balancer's id is kept when it looks like one."""

import pytest

from config.request_context import current_request_id


@pytest.mark.django_db
def test_each_response_gets_a_fresh_request_id(client):
    response = client.get("/console/login/")
    other = client.get("/console/login/")
    assert len(response["X-Request-ID"]) == 32
    assert response["X-Request-ID"] != other["X-Request-ID"]


@pytest.mark.django_db
def test_a_well_formed_incoming_request_id_is_kept(client):
    response = client.get("/console/login/", headers={"x-request-id": "lb-7f3a9c21-0001"})
    assert response["X-Request-ID"] == "lb-7f3a9c21-0001"


@pytest.mark.django_db
@pytest.mark.parametrize("incoming", ["short", "has spaces in it", "x" * 65, "evil\\nline-break"])
def test_a_malformed_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/console/login/", headers={"x-request-id": incoming})
    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_the_request_id_is_unbound_after_the_response(client):
    client.get("/console/login/")
    assert current_request_id() == ""


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_refuse_framing(client):
    response = client.get("/console/login/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
