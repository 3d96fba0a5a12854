"""A property over SCIM bodies written as raw JSON text, hostile parts included.

Non-finite numbers (NaN, Infinity, 1e400), nesting far past any resource's shape and
lone UTF-16 surrogates are spliced into otherwise ordinary bodies. Whatever arrives,
the answer is 2xx or a 4xx SCIM error, never a 500, and a refused request leaves the
database exactly as it was.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.provisioning.idp_payloads import database_state

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EXAMPLES = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Each renders as JSON text a stock encoder never writes (or writes only with allow_nan).
hostile_literals = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        '"\\ud800"',
        '"tail\\udfff"',
        '"\\ud83d"',
        "9" * 5000,
        "[" * 5000 + "]" * 5000,
        '{"a":' * 200 + "1" + "}" * 200,
        '"\\ud83d\\ude00"',  # a valid pair: an ordinary character
    ]
)
ordinary = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=20),
).map(json.dumps)
literals = st.one_of(hostile_literals, ordinary)
keys = st.sampled_from(
    [
        "userName",
        "active",
        "displayName",
        "count",
        "startIndex",
        "attributes",
        "filter",
        "members",
        "value",
        "op",
        "path",
        "name",
        "emails",
    ]
)


@st.composite
def objects(draw, depth=0):
    """A JSON object as text, its values ordinary or hostile, nested a little."""
    items = []
    for key in draw(st.lists(keys, max_size=4, unique=True)):
        if depth < 2 and draw(st.booleans()):
            value = draw(objects(depth + 1))
        elif draw(st.booleans()):
            value = "[" + ",".join(draw(st.lists(literals, max_size=3))) + "]"
        else:
            value = draw(literals)
        items.append(f"{json.dumps(key)}: {value}")
    return "{" + ", ".join(items) + "}"


@st.composite
def requests(draw, user_id, group_id):
    body = draw(objects())
    kind = draw(st.sampled_from(["create", "replace", "patch-user", "patch-group", "search"]))
    if kind == "create":
        return "post", "/Users", body
    if kind == "replace":
        return "put", f"/Users/{user_id}", body
    if kind == "search":
        return "post", "/Users/.search", body
    operation = body
    path = f"/Users/{user_id}" if kind == "patch-user" else f"/Groups/{group_id}"
    return "patch", path, f'{{"schemas": ["{PATCH_OP}"], "Operations": [{operation}]}}'


@pytest.fixture
def population(organization, make_user, make_group):
    user = make_user(organization, "ada@example.com")
    group = make_group(organization, "Everyone", members=[user])
    return user, group


@pytest.fixture(autouse=True)
def _no_token_rate_limit(settings):
    settings.SCIM_TOKEN_RATE = "1000000/m"


@pytest.mark.django_db
def test_hostile_json_bodies_are_never_500_and_refusals_change_nothing(scim, population):
    user, group = population

    @EXAMPLES
    @given(request=requests(str(user.pk), str(group.pk)))
    def check(request):
        method, path, body = request
        before = database_state()
        response = getattr(scim, method)(path, body.encode("utf-8"))
        assert response.status_code < 500, (body[:300], response.content[:300])
        if response.status_code >= 400:
            error = response.json()
            assert error["schemas"] == [ERROR_SCHEMA]
            assert error["status"] == str(response.status_code)
            assert database_state() == before

    check()
