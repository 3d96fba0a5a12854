"""What file servers read ahead of a login: the allowed accounts and the event stream."""

import pytest

from accounts.services import user_deactivate
from tests.events.conftest import ApiClient
from transfer.models import TransferMode
from transfer.services import folder_grant_set, transfer_policy_set


def accounts(server, **params):
    return server.client.get("/transfer/v1/accounts", params, headers=server.headers())


def test_accounts_lists_every_allowed_login_in_the_read_apis_envelope(
    server, organization, bob, make_user, make_group, transfer_on, system_actor
):
    carol = make_user(organization, "carol@gmail.example", display_name="Carol")
    gone = make_user(organization, "gone@acme.example")
    user_deactivate(user=gone, actor=system_actor)
    finance = make_group(organization, "Finance", members=[bob])
    folder_grant_set(group=finance, path="/Finance", access="read", actor=system_actor)

    body = accounts(server).json()

    assert set(body) == {"data", "next_cursor", "has_more"}
    assert body["has_more"] is False
    listed = {item["login"]: item for item in body["data"]}
    assert set(listed) == {"bob@acme.example", "acme+carol@gmail.example"}
    assert listed["bob@acme.example"]["folders"] == [{"path": "/Finance", "access": "read"}]
    assert listed["bob@acme.example"]["home"] == "/bob@acme.example"
    assert "credential" not in listed["bob@acme.example"]
    assert "allowed" not in listed["bob@acme.example"]
    assert listed["acme+carol@gmail.example"]["user"]["id"] == str(carol.pk)


@pytest.mark.parametrize(
    ("username", "login", "home"),
    [
        ("..", "acme+..", "/acme+.."),
        (".profile@acme.example", ".profile@acme.example", None),
        ("x/../../etc@acme.example", "x/../../etc@acme.example", None),
        ("-oX@acme.example", "-oX@acme.example", None),
    ],
)
def test_a_home_is_one_path_segment_whatever_the_login_name(
    server, organization, acme_domain, make_user, transfer_on, username, login, home
):
    """Joined with a file server's root of homes, no login name reaches outside it: one
    that is no system account name gets the person's uid as its home (None below)."""
    make_user(organization, username)
    [item] = accounts(server).json()["data"]
    assert (item["login"], item["home"]) == (login, home or f"/{item['uid']}")


def test_accounts_pages_with_limit_and_after(server, organization, make_user, transfer_on):
    for n in range(5):
        make_user(organization, f"p{n}@gmail.example")

    first = accounts(server, limit=2).json()
    second = accounts(server, limit=2, after=first["next_cursor"]).json()

    assert (len(first["data"]), first["has_more"]) == (2, True)
    assert not {i["login"] for i in first["data"]} & {i["login"] for i in second["data"]}
    assert accounts(server, limit="x").status_code == 400


def test_accounts_follows_the_scope_and_the_setting(
    server, organization, bob, make_user, make_group, transfer_on, system_actor
):
    make_user(organization, "out@gmail.example")
    scope = make_group(organization, "SFTP", members=[bob])
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[scope], actor=system_actor
    )
    assert [i["login"] for i in accounts(server).json()["data"]] == ["bob@acme.example"]

    transfer_policy_set(organization=organization, mode=TransferMode.OFF, actor=system_actor)
    assert accounts(server).json()["data"] == []


def test_accounts_costs_the_same_statements_for_many_people(
    server, organization, make_user, make_group, transfer_on, django_assert_max_num_queries
):
    group = make_group(organization, "All")
    for n in range(30):
        person = make_user(organization, f"q{n}@gmail.example")
        group.memberships.create(user=person)
    accounts(server)  # allocates the POSIX ids once

    with django_assert_max_num_queries(10):
        body = accounts(server, limit=50).json()
    assert len(body["data"]) == 30


def test_an_organization_key_sees_only_its_organization(
    server, other_organization, make_user, transfer_on, system_actor
):
    make_user(other_organization, "x@gmail.example")
    transfer_policy_set(
        organization=other_organization, mode=TransferMode.EVERYONE, actor=system_actor
    )

    assert accounts(server).json()["data"] == []


def test_a_platform_key_lists_every_organization(
    platform_server, organization, other_organization, bob, make_user, transfer_on, system_actor
):
    make_user(other_organization, "x@gmail.example")
    transfer_policy_set(
        organization=other_organization, mode=TransferMode.EVERYONE, actor=system_actor
    )

    logins = {i["login"] for i in accounts(platform_server).json()["data"]}

    assert logins == {"bob@acme.example", "globex+x@gmail.example"}


@pytest.mark.parametrize("path", ["/transfer/v1/accounts", "/api/v1/events"])
def test_a_wrong_transfer_key_is_401(client, db, path):
    response = client.get(path, headers={"Authorization": "Bearer rtk_AAAAAAAA.wrong-secret-x"})
    assert response.status_code == 401


# The stream serves committed events only, once every older transaction on the cluster
# has ended (accounts.events.stream): the consumer polls, as tests/events does.
@pytest.mark.django_db(transaction=True)
def test_transfer_keys_read_the_events_api_of_their_scope(
    org_key, platform_key, organization, other_organization, make_user
):
    make_user(organization, "a@gmail.example")
    make_user(other_organization, "b@gmail.example")

    def usernames(secret, expected):
        events, _ = ApiClient(secret).follow_events(expected)
        return {event["data"]["user"]["username"] for event in events}

    assert usernames(org_key[1], 1) == {"a@gmail.example"}
    assert usernames(platform_key[1], 2) == {"a@gmail.example", "b@gmail.example"}


@pytest.mark.django_db(transaction=True)
def test_an_api_key_reads_the_events_api_as_before(organization, make_user, system_actor):
    from accounts.services.integrations import api_key_create

    make_user(organization, "a@gmail.example")
    _, secret = api_key_create(organization=organization, label="svc", actor=system_actor)

    events, _ = ApiClient(secret).follow_events(1)

    assert [event["data"]["user"]["username"] for event in events] == ["a@gmail.example"]


def test_a_transfer_key_opens_no_other_read_api(server):
    response = server.client.get("/api/v1/users", headers=server.headers())
    # The read API takes organization API keys only: a transfer key is no API key.
    assert response.status_code == 401
