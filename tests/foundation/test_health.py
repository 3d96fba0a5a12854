"""Load balancer probes: /healthz never touches the database, /readyz does."""

import pytest
from django.db import OperationalError, connections


def test_healthz_answers_without_the_database(client):
    # No `db` fixture: pytest-django fails the test on any database access.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_healthz_answers_a_probe_by_ip_outside_allowed_hosts(client, settings):
    settings.ALLOWED_HOSTS = ["roster.example.com"]
    assert client.get("/healthz", headers={"host": "10.0.3.17:8000"}).status_code == 200
    # The same Host is refused elsewhere, so the probe really bypassed the check.
    assert client.get("/console/login/", headers={"host": "10.0.3.17:8000"}).status_code == 400


def test_healthz_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz_answers_200_when_the_database_answers(client):
    response = client.get("/readyz", headers={"host": "10.0.3.17"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(type(connections["default"]), "cursor", unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_server_is_down(client, monkeypatch):
    """A real connection attempt to a closed port, not a patched cursor."""
    default = connections["default"]
    if default.vendor != "postgresql":
        pytest.skip("needs a database reached over the network")
    closed_port = {**default.settings_dict, "HOST": "127.0.0.1", "PORT": "9"}
    closed_port["OPTIONS"] = {**closed_port.get("OPTIONS", {}), "connect_timeout": 2}
    unreachable = type(default)(closed_port, alias="unreachable")
    monkeypatch.setattr("config.middleware.connection", unreachable)
    try:
        response = client.get("/readyz")
    finally:
        unreachable.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}
