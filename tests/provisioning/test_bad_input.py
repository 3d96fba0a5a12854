# ruff: noqa: E501 -- the table below reads one request per line.
"""Bad input gets a 4xx SCIM error (RFC 7644 §3.12), never a 500, and changes nothing.

Each row is one malformed request; each asserts the status, the error body, the
scimType where RFC 7644 §3.12 names one, and that no row or audit event was written.
"""

import json
from urllib.parse import quote

import pytest

from tests.provisioning.idp_payloads import (
    GROUP_SCHEMA,
    PATCH_OP,
    SEARCH_REQUEST,
    USER_SCHEMA,
    assert_scim_error,
    database_state,
)

pytestmark = pytest.mark.django_db

BOGUS_IDS = ["not-a-uuid", "010101001010101011001010101011", "a" * 300, "1' OR '1'='1"]
# RFC 7644 §3.12 names no scimType for some errors; these rows accept either near fit.
SYNTAX_OR_VALUE = {"invalidSyntax", "invalidValue"}


@pytest.fixture
def kim(organization, make_user):
    return make_user(organization, "kim@acme.example", given_name="Kim", family_name="Lee")


@pytest.fixture
def team(organization, make_group, kim):
    return make_group(organization, "Team", members=[kim])


def patch(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# (id, method, path, body, status, scimType). "{user}" and "{group}" are filled in.
# Bodies given as str/bytes are sent as they are.
CASES = [
    # --- POST /Users
    ("user-not-json", "post", "/Users", "{not json", 400, "invalidSyntax"),
    ("user-truncated-json", "post", "/Users", '{"userName": "x"', 400, "invalidSyntax"),
    ("user-json-array", "post", "/Users", [], 400, "invalidSyntax"),
    ("user-json-string", "post", "/Users", '"kim"', 400, "invalidSyntax"),
    ("user-empty-body", "post", "/Users", "", 400, "invalidSyntax"),
    ("user-missing-username", "post", "/Users", {"schemas": [USER_SCHEMA]}, 400, "invalidValue"),
    ("user-empty-username", "post", "/Users", {"userName": "  "}, 400, "invalidValue"),
    ("user-username-number", "post", "/Users", {"userName": 42}, 400, "invalidValue"),
    ("user-username-object", "post", "/Users", {"userName": {"a": 1}}, 400, "invalidValue"),
    ("user-username-too-long", "post", "/Users", {"userName": "x" * 300}, 400, "invalidValue"),
    ("user-active-word", "post", "/Users", {"userName": "n@x", "active": "maybe"}, 400, "invalidValue"),
    ("user-active-number", "post", "/Users", {"userName": "n@x", "active": 2}, 400, "invalidValue"),
    ("user-name-string", "post", "/Users", {"userName": "n@x", "name": "Kim"}, 400, "invalidValue"),
    ("user-emails-string", "post", "/Users", {"userName": "n@x", "emails": "n@x"}, 400, "invalidValue"),
    ("user-emails-items", "post", "/Users", {"userName": "n@x", "emails": ["n@x"]}, 400, "invalidValue"),
    ("user-duplicate", "post", "/Users", {"userName": "KIM@acme.example"}, 409, "uniqueness"),
    # --- PUT /Users/{id}
    ("put-user-missing-username", "put", "/Users/{user}", {"schemas": [USER_SCHEMA]}, 400, "invalidValue"),
    ("put-user-array", "put", "/Users/{user}", [{"userName": "kim@acme.example"}], 400, "invalidSyntax"),
    ("put-user-not-json", "put", "/Users/{user}", "userName=kim", 400, "invalidSyntax"),
    ("put-user-active-word", "put", "/Users/{user}", {"userName": "kim@acme.example", "active": "yes"}, 400, "invalidValue"),
    # --- PATCH /Users/{id}
    ("patch-not-json", "patch", "/Users/{user}", "{", 400, "invalidSyntax"),
    ("patch-no-operations", "patch", "/Users/{user}", {"schemas": [PATCH_OP]}, 400, "invalidSyntax"),
    ("patch-operations-object", "patch", "/Users/{user}", {"schemas": [PATCH_OP], "Operations": {"op": "replace"}}, 400, "invalidSyntax"),
    ("patch-operation-string", "patch", "/Users/{user}", {"schemas": [PATCH_OP], "Operations": ["replace"]}, 400, "invalidSyntax"),
    ("patch-missing-op", "patch", "/Users/{user}", patch({"path": "title", "value": "x"}), 400, "invalidSyntax"),
    ("patch-unknown-op", "patch", "/Users/{user}", patch({"op": "move", "path": "title", "value": "x"}), 400, SYNTAX_OR_VALUE),
    ("patch-unknown-path", "patch", "/Users/{user}", patch({"op": "replace", "path": "favouriteColour", "value": "x"}), 400, "invalidPath"),
    ("patch-malformed-path", "patch", "/Users/{user}", patch({"op": "replace", "path": 'emails[type eq "work"', "value": "x"}), 400, "invalidPath"),
    ("patch-malformed-filter-path", "patch", "/Users/{user}", patch({"op": "replace", "path": "emails[type zz work].value", "value": "x"}), 400, {"invalidPath", "invalidFilter"}),
    ("patch-remove-without-path", "patch", "/Users/{user}", patch({"op": "remove"}), 400, "noTarget"),
    ("patch-active-word", "patch", "/Users/{user}", patch({"op": "replace", "path": "active", "value": "maybe"}), 400, "invalidValue"),
    ("patch-pathless-active-word", "patch", "/Users/{user}", patch({"op": "replace", "value": {"active": "no"}}), 400, "invalidValue"),
    ("patch-pathless-not-object", "patch", "/Users/{user}", patch({"op": "replace", "value": "x"}), 400, SYNTAX_OR_VALUE),
    ("patch-username-number", "patch", "/Users/{user}", patch({"op": "replace", "path": "userName", "value": 7}), 400, "invalidValue"),
    ("patch-username-empty", "patch", "/Users/{user}", patch({"op": "replace", "path": "userName", "value": ""}), 400, "invalidValue"),
    # One good operation then a bad one: the request is atomic.
    ("patch-fails-part-way", "patch", "/Users/{user}", patch({"op": "replace", "path": "title", "value": "CEO"}, {"op": "replace", "path": "active", "value": "maybe"}), 400, "invalidValue"),
    ("patch-fails-part-way-pathless", "patch", "/Users/{user}", patch({"op": "replace", "value": {"displayName": "New", "active": "nope"}}), 400, "invalidValue"),
    # --- POST /Groups
    ("group-not-json", "post", "/Groups", "<group/>", 400, "invalidSyntax"),
    ("group-array", "post", "/Groups", [{"displayName": "x"}], 400, "invalidSyntax"),
    ("group-missing-name", "post", "/Groups", {"schemas": [GROUP_SCHEMA]}, 400, "invalidValue"),
    ("group-name-number", "post", "/Groups", {"displayName": 12}, 400, "invalidValue"),
    ("group-members-object", "post", "/Groups", {"displayName": "G", "members": {"value": "x"}}, 400, "invalidValue"),
    ("group-member-unknown", "post", "/Groups", {"displayName": "G", "members": [{"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}]}, 400, "invalidValue"),
    ("group-member-not-uuid", "post", "/Groups", {"displayName": "G", "members": [{"value": "not-a-uuid"}]}, 400, "invalidValue"),
    ("group-member-no-value", "post", "/Groups", {"displayName": "G", "members": [{"display": "kim"}]}, 400, "invalidValue"),
    ("group-duplicate", "post", "/Groups", {"displayName": "TEAM"}, 409, "uniqueness"),
    # --- PATCH /Groups/{id}
    ("group-add-unknown-member", "patch", "/Groups/{group}", patch({"op": "add", "path": "members", "value": [{"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}]}), 400, "invalidValue"),
    ("group-add-member-not-uuid", "patch", "/Groups/{group}", patch({"op": "add", "path": "members", "value": [{"value": "010101001010101011001010101011"}]}), 400, "invalidValue"),
    ("group-add-members-string", "patch", "/Groups/{group}", patch({"op": "add", "path": "members", "value": "kim"}), 400, "invalidValue"),
    ("group-replace-unknown-member", "patch", "/Groups/{group}", patch({"op": "replace", "path": "members", "value": [{"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}]}), 400, "invalidValue"),
    ("group-rename-number", "patch", "/Groups/{group}", patch({"op": "replace", "path": "displayName", "value": 5}), 400, "invalidValue"),
    ("group-rename-empty", "patch", "/Groups/{group}", patch({"op": "replace", "path": "displayName", "value": ""}), 400, "invalidValue"),
    ("group-unknown-path", "patch", "/Groups/{group}", patch({"op": "replace", "path": "owner", "value": "x"}), 400, "invalidPath"),
    ("group-bad-member-filter", "patch", "/Groups/{group}", patch({"op": "remove", "path": "members[value eq]"}), 400, {"invalidPath", "invalidFilter"}),
    ("group-remove-without-path", "patch", "/Groups/{group}", patch({"op": "remove"}), 400, "noTarget"),
    ("group-atomic", "patch", "/Groups/{group}", patch({"op": "replace", "path": "displayName", "value": "Renamed"}, {"op": "add", "path": "members", "value": [{"value": "nope"}]}), 400, "invalidValue"),
    # --- PUT /Groups/{id}
    ("put-group-missing-name", "put", "/Groups/{group}", {"schemas": [GROUP_SCHEMA], "members": []}, 400, "invalidValue"),
    ("put-group-unknown-member", "put", "/Groups/{group}", {"displayName": "Team", "members": [{"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}]}, 400, "invalidValue"),
    # --- .search
    ("search-not-json", "post", "/Users/.search", "filter=x", 400, "invalidSyntax"),
    ("search-bad-filter", "post", "/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": 'userName eq "x'}, 400, "invalidFilter"),
    ("search-groups-bad-filter", "post", "/Groups/.search", {"schemas": [SEARCH_REQUEST], "filter": "displayName xx 1"}, 400, "invalidFilter"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "scim_type"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_request_is_refused_and_changes_nothing(
    scim, kim, team, method, path, body, status, scim_type
):
    path = path.format(user=kim.id, group=team.id)
    before = database_state()

    response = getattr(scim, method)(path, body)

    assert_scim_error(response, status, scim_type)
    assert database_state() == before


def test_a_body_over_the_size_limit_is_413(scim, kim):
    body = json.dumps({"userName": "big@acme.example", "title": "x" * (3 * 1024 * 1024)})
    before = database_state()

    response = scim.post("/Users", body)

    assert_scim_error(response, 413)
    assert database_state() == before


BAD_FILTERS = [
    "userName eq",
    'userName eq "unterminated',
    '(userName eq "x"',
    'userName eq "x")',
    'userName zz "x"',
    'favouriteColour eq "blue"',
    'userName eq "x" and',
    'and userName eq "x"',
    'emails[type eq "work"',
    "userName eq x y",
    'not userName eq "x"',
    "userName gt",
    '"x" eq userName',
    'meta.created gt "not-a-date"',
    "active eq maybe",
]


@pytest.mark.parametrize("expression", BAD_FILTERS)
def test_malformed_user_filter_is_invalid_filter(scim, kim, expression):
    response = scim.get(f"/Users?filter={quote(expression)}")

    assert_scim_error(response, 400, "invalidFilter")


@pytest.mark.parametrize(
    "expression",
    ['displayName eq "x', 'displayName zz "x"', 'members[value eq "x"', 'userName eq "x" or'],
)
def test_malformed_group_filter_is_invalid_filter(scim, team, expression):
    assert_scim_error(scim.get(f"/Groups?filter={quote(expression)}"), 400, "invalidFilter")


@pytest.mark.parametrize("value", ["%", "_", "\\", "%%"])
def test_like_wildcards_in_filter_values_match_literally(scim, kim, value):
    for operator in ("co", "sw", "ew"):
        expression = f'userName {operator} "{value}"'
        body = scim.get(f"/Users?filter={quote(expression)}").json()
        assert body["totalResults"] == 0, expression


@pytest.mark.parametrize(
    ("params", "scim_types"),
    [
        ("startIndex=abc", SYNTAX_OR_VALUE),
        ("count=abc", SYNTAX_OR_VALUE),
        ("count=1.5", SYNTAX_OR_VALUE),
        ("startIndex=1e3", SYNTAX_OR_VALUE),
        ("startIndex=NaN", SYNTAX_OR_VALUE),
    ],
)
def test_non_integer_paging_values_are_refused(scim, kim, params, scim_types):
    assert_scim_error(scim.get(f"/Users?{params}"), 400, scim_types)


@pytest.mark.parametrize(
    ("params", "start_index", "items"),
    [
        # RFC 7644 §3.4.2.4: startIndex < 1 is treated as 1; a negative count as 0.
        ("startIndex=0&count=10", 1, 1),
        ("startIndex=-5&count=10", 1, 1),
        ("startIndex=1&count=-1", 1, 0),
        ("startIndex=1&count=0", 1, 0),
        ("startIndex=50&count=10", 50, 0),
        ("startIndex=1&count=99999999999999999999", 1, 1),
    ],
)
def test_out_of_range_paging_values_are_interpreted_per_rfc(scim, kim, params, start_index, items):
    response = scim.get(f"/Users?{params}")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (
        1,
        start_index,
        items,
    )


@pytest.mark.parametrize("resource", ["Users", "Groups"])
@pytest.mark.parametrize("bogus", BOGUS_IDS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_malformed_or_unknown_id_is_404(scim, kim, team, resource, bogus, method):
    path = f"/{resource}/{quote(bogus, safe='')}"
    before = database_state()

    if method in ("get", "delete"):
        response = getattr(scim, method)(path)
    elif method == "put":
        body = {"userName": "x@acme.example"} if resource == "Users" else {"displayName": "X"}
        response = scim.put(path, body)
    else:
        response = scim.patch(path, patch({"op": "replace", "path": "displayName", "value": "X"}))

    assert_scim_error(response, 404)
    assert database_state() == before


@pytest.mark.parametrize(
    "path", ["/Nope", "/Users/x/y", "/Schemas/urn:nope", "/ResourceTypes/Nope"]
)
def test_unknown_scim_path_is_404_scim_error(scim, path):
    assert_scim_error(scim.get(path), 404)


def test_missing_token_is_401_and_changes_nothing(client, kim):
    before = database_state()

    response = client.post(
        "/scim/v2/Users",
        data={"userName": "anon@acme.example"},
        content_type="application/scim+json",
    )

    assert_scim_error(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'
    assert database_state() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/Users", {"userName": "nul\u0000@acme.example"}),
        ("post", "/Users", {"userName": "n@acme.example", "name": {"givenName": "K\u0000"}}),
        ("patch", "/Users/{user}", patch({"op": "replace", "path": "title", "value": "a\u0000b"})),
        ("put", "/Users/{user}", {"userName": "kim@acme.example", "displayName": "\u0000"}),
        ("post", "/Groups", {"displayName": "Team\u0000B"}),
        (
            "patch",
            "/Groups/{group}",
            patch({"op": "replace", "path": "displayName", "value": "\u0000"}),
        ),
    ],
    ids=[
        "user-name",
        "given-name",
        "patch-title",
        "put-display-name",
        "group-name",
        "group-rename",
    ],
)
def test_nul_characters_in_values_are_invalid_value(scim, kim, team, method, path, body):
    # PostgreSQL text cannot hold NUL; no identity provider sends one on purpose.
    before = database_state()

    response = getattr(scim, method)(path.format(user=kim.id, group=team.id), body)

    assert_scim_error(response, 400, "invalidValue")
    assert database_state() == before


def test_nul_character_in_a_filter_value_is_refused(scim, kim):
    expression = 'userName eq "kim\u0000@acme.example"'

    response = scim.get(f"/Users?filter={quote(expression)}")

    assert_scim_error(response, 400, {"invalidFilter", "invalidValue"})


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 2000 + 'userName eq "x"' + ")" * 2000,
        "not (" * 1000 + 'userName eq "x"' + ")" * 1000,
    ],
    ids=["nested-parentheses", "nested-not"],
)
def test_absurdly_nested_filter_is_invalid_filter(scim, kim, expression):
    response = scim.get(f"/Users?filter={quote(expression)}")

    assert_scim_error(response, 400, "invalidFilter")


def test_a_filter_with_thousands_of_clauses_is_answered_or_refused_never_a_500(scim, kim):
    expression = " or ".join(f'userName eq "user{i}@acme.example"' for i in range(3000))
    expression += ' or userName eq "kim@acme.example"'

    response = scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": expression})

    if response.status_code == 200:
        assert [r["id"] for r in response.json()["Resources"]] == [str(kim.id)]
    else:
        assert_scim_error(response, 400, "invalidFilter")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_stale_if_match_is_412_and_changes_nothing(scim, kim, method):
    path = f"/Users/{kim.id}"
    stale = {"If-Match": 'W/"999"'}
    before = database_state()

    if method == "delete":
        response = scim.delete(path, headers=stale)
    elif method == "put":
        response = scim.put(path, {"userName": "kim@acme.example", "title": "CEO"}, headers=stale)
    else:
        body = patch({"op": "replace", "path": "title", "value": "CEO"})
        response = scim.patch(path, body, headers=stale)

    assert_scim_error(response, 412)
    assert database_state() == before


def test_a_body_that_is_not_json_by_content_type_is_refused(scim, kim):
    before = database_state()

    response = scim.post(
        "/Users", json.dumps({"userName": "plain@acme.example"}), content_type="text/plain"
    )

    assert 400 <= response.status_code < 500
    assert_scim_error(response, response.status_code)
    assert database_state() == before
