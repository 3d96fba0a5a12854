"""Redis holding the rate-limit counters is unreachable: SCIM answers a retryable 503."""

import pytest
from django.core.cache.backends.redis import RedisCache

from config import ratelimit
from tests.load.scim_http import assert_scim_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_redis(monkeypatch):
    # Port 1 on the loopback: nothing listens there, the connection is refused at once.
    monkeypatch.setattr(ratelimit, "cache", RedisCache("redis://127.0.0.1:1/0", {}))


def test_scim_request_while_redis_is_down_is_a_scim_503(scim, unreachable_redis):
    response = scim.get("/Users")

    assert_scim_error(response, 503)
    assert response["Content-Type"] == "application/scim+json"
    assert response["Retry-After"] == "5"
