"""API keys see their own organization only; SCIM tokens and API keys never cross over."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.events.models import ApiKey
from accounts.services.integrations import api_key_revoke
from tests.events.conftest import ApiClient

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_key_of_another_organization_sees_nothing_of_it(
    api, other_api, organization, make_user, make_group
):
    ann = make_user(organization)
    group = make_group(organization, members=[ann])
    assert len(api.follow_events(3)[0]) == 3

    assert other_api.get("/events").json()["data"] == []
    assert other_api.get("/users").json()["data"] == []
    assert other_api.get("/groups").json()["data"] == []
    for path in (f"/users/{ann.pk}", f"/groups/{group.pk}", f"/groups/{group.pk}/members"):
        assert other_api.get(path).status_code == 404


@pytest.mark.parametrize(
    "path", ["/events", "/users", "/groups", "/users/00000000-0000-0000-0000-000000000000"]
)
def test_every_endpoint_needs_a_key(client, path):
    response = client.get("/api/v1" + path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_scim_token_cannot_read_the_api(scim_secret):
    response = ApiClient(scim_secret).get("/users")
    assert response.status_code == 401
    assert response.json() == {"detail": "The API key is missing, unknown or revoked."}


def test_an_api_key_cannot_call_scim(client, organization, make_api_key):
    _, secret = make_api_key(organization)
    response = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_a_revoked_key_gets_401(organization, make_api_key, system_actor):
    key, secret = make_api_key(organization)
    api = ApiClient(secret)
    assert api.get("/users").status_code == 200
    api_key_revoke(key=key, actor=system_actor)
    assert api.get("/users").status_code == 401


def test_an_expired_key_gets_401(organization, make_api_key):
    key, secret = make_api_key(organization)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = ApiClient(secret).get("/users")
    assert response.status_code == 401
    key.refresh_from_db()
    assert key.last_used_at is None


def test_a_wrong_secret_with_a_real_prefix_gets_401(organization, make_api_key):
    _, secret = make_api_key(organization)
    forged = secret[: secret.index(".") + 1] + "x" * 43
    assert ApiClient(forged).get("/users").status_code == 401


def test_use_is_recorded_on_the_key(organization, make_api_key):
    key, secret = make_api_key(organization)
    ApiClient(secret).get("/users")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_the_key_is_throttled_in_the_shared_cache(organization, make_api_key, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/min"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        api = ApiClient(make_api_key(organization)[1])
        assert [api.get("/users").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"api_key": "1200/min"},
        }
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
