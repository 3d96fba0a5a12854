"""Two app instances on one PostgreSQL, requests alternating between them.

Nothing an instance needs lives in its own memory: users, groups and SAML replay
records are rows, and rate-limit counters are shared (in Redis when REDIS_URL is set,
rows of the counters table otherwise).
"""

import httpx
import pytest
from django.core.cache.backends.redis import RedisCache

from accounts.models import AuditAction, AuditEvent, Membership, RateLimitCounter, User
from config.ratelimit import Rate
from sso.models import SamlAssertionUse
from sso.services import idp_configure
from sso.sp import sp_urls
from tests.load.conftest import PUBLIC_BASE_URL, requires_postgresql
from tests.load.scim_http import (
    all_at_once,
    assert_scim_error,
    client,
    headers,
    patch_body,
    user_body,
)
from tests.sso.idp import Assertion, TestIdentityProvider

pytestmark = [requires_postgresql, pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def instances(live_server_a, live_server_b, scim_secret):
    opened = [client(live_server_a, scim_secret), client(live_server_b, scim_secret)]
    yield opened
    for http in opened:
        http.close()


def alternate(instances, index):
    return instances[index % 2]


def test_okta_push_then_import_alternating_between_instances(organization, instances):
    created = {}
    for index in range(10):
        name = f"pushed{index}@example.com"
        # Okta's push: look the user up by userName, then create it.
        lookup = alternate(instances, index).get(
            "/Users", params={"filter": f'userName eq "{name}"'}
        )
        assert lookup.status_code == 200
        assert lookup.json()["totalResults"] == 0
        response = alternate(instances, index + 1).post("/Users", content=user_body(name))
        assert response.status_code == 201, response.text
        created[response.json()["id"]] = name

    again = instances[0].post("/Users", content=user_body("PUSHED3@example.com"))
    assert_scim_error(again, 409)

    # Okta's import: pages of a few users, each page from the other instance.
    seen, start, total = {}, 1, None
    for page in range(10):
        body = (
            alternate(instances, page)
            .get("/Users", params={"startIndex": start, "count": 3})
            .json()
        )
        total = body["totalResults"]
        seen.update({user["id"]: user["userName"] for user in body["Resources"]})
        start += len(body["Resources"])
        if start > total:
            break
    assert total == 10
    assert seen == created
    assert User.objects.filter(organization=organization).count() == 10


def test_updates_on_one_instance_are_read_back_on_the_other(organization, instances):
    created = instances[0].post("/Users", content=user_body("mover@example.com")).json()
    user_url = f"/Users/{created['id']}"

    deactivate = patch_body({"op": "replace", "value": {"active": False}})
    assert instances[1].patch(user_url, content=deactivate).status_code == 200
    assert instances[0].get(user_url).json()["active"] is False

    replaced = instances[0].put(user_url, content=user_body("mover@example.com", title="Lead"))
    assert replaced.status_code == 200
    assert instances[1].get(user_url).json()["title"] == "Lead"

    assert instances[1].delete(user_url).status_code == 204
    assert_scim_error(instances[0].get(user_url), 404)


def test_group_push_alternating_between_instances(organization, instances, make_user):
    users = [make_user(organization, f"crew{i}@example.com") for i in range(3)]
    group = instances[0].post(
        "/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Crew",
            "members": [{"value": str(users[0].pk)}, {"value": str(users[1].pk)}],
        },
    )
    assert group.status_code == 201, group.text
    group_url = f"/Groups/{group.json()['id']}"

    add = patch_body({"op": "add", "path": "members", "value": [{"value": str(users[2].pk)}]})
    assert instances[1].patch(group_url, content=add).status_code == 204
    remove = patch_body({"op": "remove", "path": f'members[value eq "{users[0].pk}"]'})
    assert instances[0].patch(group_url, content=remove).status_code == 204

    members = {member["value"] for member in instances[1].get(group_url).json()["members"]}
    assert members == {str(users[1].pk), str(users[2].pk)}
    stored = Membership.objects.filter(group_id=group.json()["id"]).values_list(
        "user_id", flat=True
    )
    assert set(stored) == {users[1].pk, users[2].pk}


def reset_counters(redis_url: str) -> None:
    """Empties the servers' rate-limit counters: Redis, or the counters table."""
    if redis_url:
        RedisCache(redis_url, {"KEY_PREFIX": "roster"}).clear()
    RateLimitCounter.objects.all().delete()


def servers_for(backend, live_env, start_server, **env):
    """Two instances sharing their counters in Redis or (without REDIS_URL) the database."""
    if backend == "redis":
        if not live_env["REDIS_URL"]:
            pytest.skip("Redis does not answer on 127.0.0.1:6379")
        return [start_server(**env), start_server(**env)]
    return [start_server(REDIS_URL="", **env), start_server(REDIS_URL="", **env)]


@pytest.mark.parametrize("backend", ["redis", "database"])
def test_failed_authentication_is_throttled_across_both_instances(
    backend, live_env, live_server_a, live_server_b, start_server
):
    if backend == "redis":
        if not live_env["REDIS_URL"]:
            pytest.skip("Redis does not answer on 127.0.0.1:6379")
        servers = [live_server_a, live_server_b]
    else:
        # Without REDIS_URL the counters are rows of the counters table.
        servers = [start_server(REDIS_URL=""), start_server(REDIS_URL="")]
    reset_counters(live_env["REDIS_URL"] if backend == "redis" else "")
    limit = Rate.parse(live_env["SCIM_AUTH_FAILURE_RATE"]).limit
    bad = headers("not-a-real-token")

    statuses = [
        httpx.get(f"{servers[i % 2].base_url}/scim/v2/Users", headers=bad, timeout=10).status_code
        for i in range(limit + 2)
    ]

    # One counter for both instances: the limit is reached after `limit` failures in
    # total, not `limit` on each.
    assert statuses == [401] * limit + [429, 429]


@pytest.mark.parametrize("backend", ["redis", "database"])
def test_token_rate_is_exact_under_concurrent_requests_to_both_instances(
    backend, live_env, start_server, scim_secret
):
    # An hourly window, so that no window ends in the middle of the burst.
    servers = servers_for(backend, live_env, start_server, SCIM_TOKEN_RATE="24/h")
    reset_counters(live_env["REDIS_URL"] if backend == "redis" else "")
    calls = [
        lambda server=servers[i % 2]: httpx.get(
            f"{server.base_url}/scim/v2/ServiceProviderConfig",
            headers=headers(scim_secret),
            timeout=20,
        )
        for i in range(36)
    ]

    responses = all_at_once(calls)

    statuses = sorted(response.status_code for response in responses)
    # Every request counted exactly once across both instances, none lost in a race.
    assert statuses == [200] * 24 + [429] * 12
    refused = [response for response in responses if response.status_code == 429]
    assert all(0 < int(response.headers["Retry-After"]) <= 3600 for response in refused)


def test_saml_assertion_accepted_by_one_instance_is_a_replay_on_the_other(
    settings, organization, make_user, system_actor, live_server_a, live_server_b
):
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    idp = TestIdentityProvider()
    idp_configure(
        organization=organization,
        actor=system_actor,
        entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        certificates=[idp.certificate_pem],
        allow_idp_initiated=True,
        enabled=True,
    )
    make_user(organization, "jane.doe@acme.example")
    urls = sp_urls(organization)
    signed = idp.response(
        Assertion(
            name_id="jane.doe@acme.example",
            audience=urls["entity_id"],
            recipient=urls["acs_url"],
            destination=urls["acs_url"],
        )
    )
    form = {"SAMLResponse": idp.encode(signed)}
    acs = f"/sso/{organization.slug}/acs/"

    accepted = httpx.post(live_server_a.base_url + acs, data=form, timeout=10)
    replayed = httpx.post(live_server_b.base_url + acs, data=form, timeout=10)

    assert accepted.status_code == 302, accepted.text
    assert "sessionid" in accepted.cookies
    assert replayed.status_code == 403
    assert "sessionid" not in replayed.cookies
    assert SamlAssertionUse.objects.filter(organization=organization).count() == 1
    refusal = AuditEvent.objects.filter(
        organization=organization, action=AuditAction.SSO_LOGIN_FAILED
    ).get()
    assert refusal.changes["reason"] == "replayed"
