"""HTTP-level SCIM rules: media types, JSON bodies, size limit, ETags, unknown paths, logging."""

import json
import logging

import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_error(response, status, scim_type=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    assert body.get("scimType") == scim_type


@pytest.mark.parametrize(
    "content_type",
    [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
        "application/json; charset=UTF-8",
    ],
)
def test_accepted_request_media_types(scim, content_type):
    response = scim.post("/Users", {"userName": "a@example.com"}, content_type=content_type)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/scim+json"


def test_other_media_types_are_415(scim, organization):
    assert_error(scim.post("/Users", {"userName": "a@example.com"}, content_type="text/plain"), 415)
    assert not User.objects.filter(organization=organization).exists()


@pytest.mark.parametrize("body", ["{", "not json", "[1, 2]", '"a string"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400(scim, organization, body):
    assert_error(scim.post("/Users", body), 400, "invalidSyntax")
    assert not User.objects.filter(organization=organization).exists()


def test_a_body_over_the_limit_is_413(scim, settings, organization):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"userName": "a@example.com", "title": "x" * 2000}
    assert_error(scim.post("/Users", body), 413)
    assert not User.objects.filter(organization=organization).exists()


def test_etag_header_matches_meta_version(scim, organization, make_user):
    user = make_user(organization)
    response = scim.get(f"/Users/{user.pk}")
    assert response["ETag"] == response.json()["meta"]["version"] == f'W/"{user.version}"'


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_stale_if_match_is_412_and_changes_nothing(scim, organization, make_user, method):
    user = make_user(organization, "e@example.com", title="Before")
    headers = {"If-Match": 'W/"999"'}
    path = f"/Users/{user.pk}"
    if method == "put":
        response = scim.put(path, {"userName": "e@example.com", "title": "After"}, headers=headers)
    elif method == "patch":
        response = scim.patch(
            path,
            {"Operations": [{"op": "replace", "path": "title", "value": "After"}]},
            headers=headers,
        )
    else:
        response = scim.delete(path, headers=headers)
    assert_error(response, 412)
    user.refresh_from_db()
    assert user.title == "Before"


@pytest.mark.parametrize("if_match", ['W/"{v}"', '"{v}"', "*", 'W/"0", W/"{v}"'])
def test_matching_if_match_is_accepted(scim, organization, make_user, if_match):
    user = make_user(organization, "e@example.com")
    headers = {"If-Match": if_match.format(v=user.version)}
    response = scim.patch(
        f"/Users/{user.pk}",
        {"Operations": [{"op": "replace", "path": "title", "value": "After"}]},
        headers=headers,
    )
    assert response.status_code == 200
    assert response["ETag"] == f'W/"{user.version + 1}"'


def test_group_if_match(scim, organization, make_group):
    group = make_group(organization)
    assert_error(scim.delete(f"/Groups/{group.pk}", headers={"If-Match": 'W/"7"'}), 412)
    assert (
        scim.delete(f"/Groups/{group.pk}", headers={"If-Match": f'W/"{group.version}"'}).status_code
        == 204
    )


@pytest.mark.parametrize("path", ["/Nope", "/Users/abc/def", "/v1/Users", "/Groups/x/members"])
def test_unknown_paths_are_404_with_a_scim_body(scim, path):
    assert_error(scim.get(path), 404)


def test_unknown_paths_still_need_a_token(client):
    assert client.get("/scim/v2/Nope").status_code == 401


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/Users/00000000-0000-0000-0000-000000000000"),
        ("put", "/Users"),
        ("patch", "/Groups"),
        ("delete", "/Users"),
        ("get", "/Users/.search"),
    ],
)
def test_wrong_methods_are_405_with_a_scim_body(scim, method, path):
    call = getattr(scim, method)
    response = call(path) if method in ("get", "delete") else call(path, {})
    assert_error(response, 405)


def test_trailing_slashes_are_accepted(scim):
    assert scim.get("/Users/").status_code == 200
    assert scim.get("/ServiceProviderConfig/").status_code == 200


def test_unexpected_errors_are_500_with_a_scim_body_and_roll_back(scim, organization, monkeypatch):
    from provisioning.adapters import ScimUserAdapter

    def explode(self):
        User.objects.filter(organization=organization).update(title="half-written")
        raise RuntimeError("boom")

    monkeypatch.setattr(ScimUserAdapter, "to_dict", explode)
    response = scim.post("/Users", {"userName": "a@example.com"})
    assert_error(response, 500)
    assert "boom" not in response.json()["detail"]
    assert not User.objects.filter(organization=organization).exists()


def test_a_refused_write_answered_as_a_success_is_a_500(scim, organization, make_user, monkeypatch):
    """Services join the request's transaction without savepoints, so a refusal that an
    adapter caught leaves the transaction to roll back: never acknowledge that."""
    from accounts.errors import UsernameTaken
    from provisioning.adapters import ScimUserAdapter
    from provisioning.selectors import with_user_groups

    ada = make_user(organization, "ada@example.com")
    # Loaded whole beforehand, so that answering with it needs no query.
    existing = with_user_groups(User.objects.filter(pk=ada.pk)).get()
    save = ScimUserAdapter.save

    def save_and_swallow_the_refusal(self):
        try:
            save(self)
        except UsernameTaken:
            self.obj = existing

    monkeypatch.setattr(ScimUserAdapter, "save", save_and_swallow_the_refusal)
    response = scim.post("/Users", {"userName": "ADA@example.com"})
    assert_error(response, 500)
    assert list(User.objects.filter(organization=organization)) == [ada]


def test_every_request_is_logged_with_the_token_prefix_only(scim, caplog):
    with caplog.at_level(logging.INFO, logger="provisioning.requests"):
        scim.get("/Users")
        scim.client.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong.secret"})
    records = [r for r in caplog.records if r.name == "provisioning.requests"]
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/scim/v2/Users", 200),
        ("GET", "/scim/v2/Users", 401),
    ]
    prefix = scim.secret.split(".")[0]
    assert records[0].token_prefix == prefix and records[1].token_prefix == "-"
    assert all(isinstance(r.duration_ms, float) for r in records)
    logged = json.dumps(
        [r.getMessage() for r in records] + [vars(r).get("token_prefix") for r in records]
    )
    assert scim.secret not in logged and "wrong.secret" not in logged


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/Users", {"userName": "nul\u0000@example.com"}),
        ("post", "/Groups", {"displayName": "nul\u0000"}),
        ("post", "/Groups", {"displayName": "ok", "externalId": "e\u0000"}),
        ("post", "/Users/.search", {"filter": 'userName eq "a\u0000"'}),
    ],
)
def test_nul_characters_are_400_not_a_database_error(scim, organization, method, path, body):
    # PostgreSQL refuses NUL in text; the request must fail as bad input, not as a 500.
    response = getattr(scim, method)(path, body)
    assert response.status_code == 400
    assert response.json()["status"] == "400"
    assert not User.objects.filter(organization=organization).exists()


def test_a_token_with_an_impossible_prefix_is_401(client):
    response = client.get("/scim/v2/Users", headers={"Authorization": "Bearer a%00b.secret"})
    assert response.status_code == 401


def test_if_none_match_with_the_current_etag_is_304(scim, organization, make_user):
    user = make_user(organization)
    etag = f'W/"{user.version}"'
    response = scim.get(f"/Users/{user.pk}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response["ETag"] == etag and response.content == b""
    assert scim.get(f"/Users/{user.pk}", headers={"If-None-Match": 'W/"0"'}).status_code == 200
