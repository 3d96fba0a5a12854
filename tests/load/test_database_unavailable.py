"""A lost database connection answers 503 with Retry-After, never a 500."""

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from django.test import override_settings
from django.urls import path
from redis.exceptions import ConnectionError as RedisConnectionError


def _raise(exception):
    def view(request):
        raise exception

    return view


urlpatterns = [
    path("scim/v2/Users", _raise(OperationalError("connection refused"))),
    path("console/", _raise(InterfaceError("connection already closed"))),
    path("scim/v2/Groups", _raise(IntegrityError("duplicate key"))),
    path("scim/v2/Schemas", _raise(RedisConnectionError("Error 111 connecting"))),
]

pytestmark = pytest.mark.urls(__name__)


def test_scim_path_gets_a_scim_error_body_with_retry_after(client):
    response = client.get("/scim/v2/Users")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/scim+json"
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "503",
        "detail": "The service is temporarily unavailable; retry later.",
    }


def test_other_paths_get_a_short_page(client):
    response = client.get("/console/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"temporarily unavailable" in response.content


def test_json_clients_get_json(client):
    response = client.get("/console/", headers={"Accept": "application/json"})

    assert response.status_code == 503
    assert response.json()["status"] == 503


def test_errors_other_than_a_lost_connection_are_not_disguised(client):
    client.raise_request_exception = False

    response = client.get("/scim/v2/Groups")

    assert response.status_code == 500


@override_settings(DEBUG=False)
def test_no_database_detail_reaches_the_client(client):
    response = client.get("/scim/v2/Users")

    assert b"connection refused" not in response.content


def test_an_unreachable_redis_cache_is_a_503_too(client):
    response = client.get("/scim/v2/Schemas")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["status"] == "503"
