"""A shared store lost while a SCIM request runs: the answer is a retryable SCIM 503.

Redis (the rate-limit counters) unreachable, or the database connection dropping after
the token was checked, in the middle of the view.
"""

import pytest
from django.db import OperationalError, connection

from tests.load.scim_http import assert_scim_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable_redis(settings):
    # Port 1 on the loopback: nothing listens there, the connection is refused at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }


def test_scim_request_while_redis_is_down_is_a_scim_503(scim, unreachable_redis):
    response = scim.get("/Users")

    assert_scim_error(response, 503)
    assert response["Content-Type"] == "application/scim+json"
    assert response["Retry-After"] == "5"


def drop_connection_at_user_queries(execute, sql, params, many, context):
    """The database goes away after authentication, at the view's first user query."""
    if '"accounts_user"' in sql:
        raise OperationalError("server closed the connection unexpectedly")
    return execute(sql, params, many, context)


@pytest.mark.parametrize("request_kind", ["list", "read", "create", "patch"])
def test_connection_lost_inside_a_scim_view_is_a_scim_503(
    scim, organization, make_user, request_kind
):
    user = make_user(organization, "present@example.com")
    deactivate = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }

    with connection.execute_wrapper(drop_connection_at_user_queries):
        response = {
            "list": lambda: scim.get("/Users"),
            "read": lambda: scim.get(f"/Users/{user.pk}"),
            "create": lambda: scim.post("/Users", {"userName": "late@example.com"}),
            "patch": lambda: scim.patch(f"/Users/{user.pk}", deactivate),
        }[request_kind]()

    assert_scim_error(response, 503)
    assert response["Retry-After"] == "5"
