"""Property-based bad input: generated filters, PATCH operations and bodies.

Whatever arrives, the answer is 2xx or a 4xx SCIM error, never a 500, and a refused
request leaves the database exactly as it was.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent, Group, Membership, User
from tests.load.scim_http import ERROR_SCHEMA

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ATTRIBUTE_PATHS = [
    "userName",
    "UserName",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "displayName",
    "title",
    "externalId",
    "active",
    "id",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    'emails[type eq "work"].value',
    "members",
    "members.value",
    "meta.created",
    "meta.lastModified",
    "meta.resourceType",
    f"{CORE_USER}:userName",
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:manager.value",
    "groups",
    "nonexistent",
    "name.",
    ".value",
    "emails[",
    "emails[value co]",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "EQ", "xx", ""]
junk = st.text(max_size=30)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["2024-01-01T00:00:00Z", "not-a-date", "00000000-0000-0000-0000-000000000000"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["value", "display", "type", "primary", "givenName", "$ref", "x"])
            | junk,
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
filter_literals = st.one_of(
    st.text(max_size=20).map(json.dumps),
    st.sampled_from(["true", "false", "null", "42", "-1.5", "unquoted", '"', '"\\"', "'x'"]),
)
attribute_paths = st.one_of(st.sampled_from(ATTRIBUTE_PATHS), junk)


@st.composite
def comparisons(draw):
    path = draw(attribute_paths)
    operator = draw(st.sampled_from(OPERATORS))
    if operator == "pr":
        return f"{path} pr"
    return f"{path} {operator} {draw(filter_literals)}"


filters = st.one_of(
    junk,
    st.recursive(
        comparisons(),
        lambda children: st.one_of(
            st.tuples(children, st.sampled_from(["and", "or", "AND", "xor"]), children).map(
                " ".join
            ),
            children.map(lambda inner: f"not ({inner})"),
            children.map(lambda inner: f"({inner}"),
            st.tuples(st.sampled_from(["emails", "members", "x"]), children).map(
                lambda pair: f"{pair[0]}[{pair[1]}]"
            ),
        ),
        max_leaves=5,
    ),
)
patch_operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Add", "REPLACE", "move", ""]) | junk},
    optional={
        "path": st.one_of(
            attribute_paths,
            st.sampled_from(
                [
                    'members[value eq "00000000-0000-0000-0000-000000000000"]',
                    'members[value eq "not-a-uuid"]',
                    'emails[type eq "work"]',
                    'emails[type eq "work"].value',
                    "members[",
                ]
            ),
        ),
        "value": json_values,
    },
)
patch_bodies = st.one_of(
    st.fixed_dictionaries(
        {"schemas": st.just(["urn:ietf:params:scim:api:messages:2.0:PatchOp"])},
        optional={"Operations": st.one_of(st.lists(patch_operations, max_size=4), json_values)},
    ),
    json_values,
)
user_bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "schemas": st.one_of(st.just([CORE_USER]), json_values),
            "userName": st.one_of(st.text(max_size=300), json_values),
            "name": json_values,
            "emails": json_values,
            "active": json_values,
            "externalId": json_values,
            ENTERPRISE: json_values,
        },
    ),
    json_values,
)
raw_bodies = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode))


def snapshot() -> tuple:
    return (
        sorted(
            User.objects.values_list(
                "id",
                "username",
                "email",
                "given_name",
                "family_name",
                "display_name",
                "external_id",
                "title",
                "is_active",
                "enterprise",
                "version",
            ),
            key=str,
        ),
        sorted(Group.objects.values_list("id", "display_name", "external_id", "version"), key=str),
        sorted(Membership.objects.values_list("group_id", "user_id"), key=str),
        AuditEvent.objects.count(),
    )


def assert_answered_well(response, before: tuple) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert body["schemas"] == [ERROR_SCHEMA]
        assert body["status"] == str(response.status_code)
        assert snapshot() == before


@pytest.fixture
def population(organization, make_user, make_group):
    users = [make_user(organization, f"person{i}@example.com", title="Engineer") for i in range(3)]
    group = make_group(organization, "Everyone", members=users[:2])
    return users, group


@pytest.fixture(autouse=True)
def _no_token_rate_limit(settings):
    # Hundreds of requests per test from one token; this test is about input, not rates.
    settings.SCIM_TOKEN_RATE = "1000000/m"


@EXAMPLES
@given(expression=filters, resource=st.sampled_from(["Users", "Groups"]))
def test_generated_filters_answer_200_or_a_scim_400(scim, population, expression, resource):
    before = snapshot()

    response = scim.get(f"/{resource}", filter=expression)

    assert response.status_code in (200, 400), response.content[:500]
    assert_answered_well(response, before)


@EXAMPLES
@given(body=patch_bodies, target=st.sampled_from(["user", "group"]))
def test_generated_patches_never_fail_the_server_or_half_apply(scim, population, body, target):
    users, group = population
    path = f"/Users/{users[0].pk}" if target == "user" else f"/Groups/{group.pk}"
    before = snapshot()

    response = scim.patch(path, body)

    assert_answered_well(response, before)


@EXAMPLES
@given(body=user_bodies, method=st.sampled_from(["post", "put"]))
def test_generated_user_bodies_never_fail_the_server(scim, population, body, method):
    users, _ = population
    before = snapshot()

    if method == "post":
        response = scim.post("/Users", body)
    else:
        response = scim.put(f"/Users/{users[1].pk}", body)

    assert_answered_well(response, before)


@EXAMPLES
@given(raw=raw_bodies, method=st.sampled_from(["post", "put", "patch"]))
def test_undecodable_bodies_are_a_scim_400(scim, population, raw, method):
    users, _ = population
    path = "/Users" if method == "post" else f"/Users/{users[2].pk}"
    before = snapshot()

    response = getattr(scim, method)(path, raw)

    assert_answered_well(response, before)
