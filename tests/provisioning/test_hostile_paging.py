"""startIndex, count and filter as an attacker or a buggy client sends them: a 200 or a
SCIM 400, never a 5xx (RFC 7644 §3.4.2.4, §3.12)."""

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.provisioning.idp_payloads import ERROR_SCHEMA, LIST_RESPONSE, assert_list_response

pytestmark = pytest.mark.django_db

HUGE = "9" * 30


@pytest.fixture
def three_users(organization, make_user):
    return [make_user(organization, f"u{i}@acme.example") for i in range(3)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bigint OFFSET on PostgreSQL")
@pytest.mark.parametrize("resource", ["/Users", "/Groups"])
def test_a_thirty_digit_start_index_is_an_empty_page_not_bigint_out_of_range(
    scim, three_users, resource
):
    response = scim.get(resource, startIndex=HUGE)

    assert response.status_code == 200, response.content
    body = response.json()
    total = 3 if resource == "/Users" else 0
    assert body == {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": 0,
        "startIndex": int(HUGE),
        "Resources": [],
    }


def test_a_start_index_just_past_the_deepest_offset_is_an_empty_page(scim, three_users):
    response = scim.get("/Users", startIndex=str(2**62 + 2), count="5")

    assert response.status_code == 200, response.content
    assert_list_response(response.json(), total=3, start_index=2**62 + 2, items=0)


def test_count_zero_answers_the_total_without_resources(scim, three_users):
    response = scim.get("/Users", count="0")

    assert response.status_code == 200, response.content
    assert_list_response(response.json(), total=3, start_index=1, items=0)


def test_count_zero_with_a_filter(scim, three_users):
    response = scim.get("/Users", count="0", filter='userName sw "u"')

    assert response.status_code == 200, response.content
    assert_list_response(response.json(), total=3, start_index=1, items=0)


# Each value with what it means: an integer (200) or None (400 invalidValue).
PAGING_CORPUS = [
    ("1", 1),
    ("+2", 2),
    (" 3 ", 3),
    ("0", 0),
    ("-1", -1),
    ("-" + HUGE, -int(HUGE)),
    (HUGE, int(HUGE)),
    ("9" * 5000, None),
    ("1.5", None),
    ("1.0", None),
    ("1e3", None),
    ("0x10", None),
    ("1_000", None),
    ("\u0661", None),  # an Arabic-Indic digit, which int() would read
    ("abc", None),
    ("NaN", None),
    ("Infinity", None),
    ("--1", None),
    ("1 2", None),
    ("\x00", None),
]


def expected_page(start, count, total=3, limit=None):
    from django.conf import settings as django_settings

    limit = limit or django_settings.SCIM_MAX_PAGE_SIZE
    start_index = max(start, 1)
    count = min(max(count, 0), limit)
    offset = start_index - 1
    items = max(0, min(count, total - offset)) if offset < total else 0
    return start_index, items


@pytest.mark.parametrize("raw, value", PAGING_CORPUS, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize("name", ["startIndex", "count"])
def test_paging_corpus(scim, three_users, name, raw, value):
    response = scim.get("/Users", **{name: raw})

    if value is None:
        assert response.status_code == 400, response.content
        body = response.json()
        assert (body["schemas"], body["status"], body["scimType"]) == (
            [ERROR_SCHEMA],
            "400",
            "invalidValue",
        )
        return
    assert response.status_code == 200, response.content
    start, count = (value, 100) if name == "startIndex" else (1, value)
    start_index, items = expected_page(start, count)
    assert_list_response(response.json(), total=3, start_index=start_index, items=items)


@pytest.mark.parametrize(
    "body_value, status",
    [(2, 200), (int(HUGE), 200), (1.5, 400), (True, 400), ("2", 200), ([1], 400)],
)
def test_search_body_start_index(scim, three_users, body_value, status):
    response = scim.post(
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "startIndex": body_value,
        },
    )

    assert response.status_code == status, response.content


integers_as_text = st.integers(min_value=-(10**40), max_value=10**40).map(str)
junk = st.one_of(
    integers_as_text,
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=40),
    st.just(""),
)
filters = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda attr, op, value: f"{attr} {op} {value}",
        st.sampled_from(
            [
                "userName",
                "emails",
                "emails.value",
                "phoneNumbers",
                "meta.created",
                "externalId",
                'emails[type eq "work"].value',
                "active",
                "members",
                "id",
                "name.familyName",
            ]
        ),
        st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "Eq", "xx"]),
        st.one_of(st.text(max_size=30), integers_as_text, st.just("true"), st.just("null")),
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(start=junk, count=junk, query=filters, resource=st.sampled_from(["/Users", "/Groups"]))
def test_hostile_paging_and_filters_never_answer_5xx(
    scim, three_users, start, count, query, resource
):
    response = scim.get(resource, startIndex=start, count=count, filter=query)

    assert response.status_code < 500, (start, count, query, response.content)
    body = response.json()
    if response.status_code == 200:
        assert body["schemas"] == [LIST_RESPONSE]
    else:
        assert response.status_code == 400, response.content
        assert body["schemas"] == [ERROR_SCHEMA]
        assert body["scimType"] in ("invalidValue", "invalidFilter")
