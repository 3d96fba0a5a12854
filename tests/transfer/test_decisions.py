"""The decision API's answers, table-driven: who may log in, with what, and why not."""

import datetime
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import (
    group_create,
    group_members_remove,
    user_deactivate,
    user_delete,
    user_reactivate,
)
from tests.transfer.conftest import new_public_key
from transfer.models import TRANSFER_KEY, CredentialSource, TransferMode, TransferSignIn
from transfer.services import (
    app_password_create,
    app_password_revoke,
    folder_grant_set,
    ssh_key_revoke,
    transfer_key_revoke,
    transfer_policy_set,
)

PROTOCOLS = ["sftp", "scp", "ftps", "webdav"]


def by_key(text):
    return {"public_key": text}


def by_password(secret):
    return {"password": secret}


@pytest.fixture(params=["ssh_key", "app_password"])
def credential(request, bob_key, bob_password):
    """Bob's credential of each kind, as the server sends it."""
    if request.param == "ssh_key":
        return request.param, by_key(bob_key[1]), bob_key[0]
    return request.param, by_password(bob_password[1]), bob_password[0]


def test_an_allowed_key_login_answers_who_ids_home_groups_and_folders(
    server, bob, bob_key, transfer_on, make_group, system_actor
):
    finance = make_group(bob.organization, "Finance", members=[bob])
    folder_grant_set(group=finance, path="/Finance", access="write", actor=system_actor)

    response = server.authenticate("Bob@Acme.example", **by_key(bob_key[1]))

    assert response.status_code == 200
    body = response.json()
    uid = body["uid"]
    assert body == {
        "allowed": True,
        "login": "bob@acme.example",
        "user": {
            "id": str(bob.pk),
            "userName": "bob@acme.example",
            "displayName": "Bob Builder",
            "email": "bob@acme.example",
            "organization": "acme",
        },
        "credential": {
            "id": f"key_{bob_key[0].pk}",
            "kind": "ssh_key",
            "label": "bob-laptop",
            "fingerprint": bob_key[0].fingerprint,
        },
        "uid": uid,
        "gid": uid,
        "home": "/bob@acme.example",
        "groups": [
            {
                "id": str(finance.pk),
                "displayName": "Finance",
                "name": f"g{body['groups'][0]['gid']}-finance",
                "gid": body["groups"][0]["gid"],
            }
        ],
        "folders": [{"path": "/Finance", "access": "write"}],
    }
    assert uid >= 200000 and body["groups"][0]["gid"] >= 200000


def test_groups_and_folders_come_whole_from_several_groups_or_none(
    server, bob, bob_key, transfer_on, make_group, system_actor
):
    def answer():
        response = server.authenticate("bob@acme.example", **by_key(bob_key[1]))
        assert response.status_code == 200
        return response.json()

    alone = answer()
    assert (alone["groups"], alone["folders"]) == ([], [])

    organization = bob.organization
    finance = make_group(organization, "Finance", members=[bob])
    sales = make_group(organization, "Sales", members=[bob])
    make_group(organization, "Readers", members=[bob])  # a group with no folder
    for group, path, access in [
        (finance, "/Shared", "read"),
        (finance, "/Finance", "write"),
        (sales, "/Shared", "write"),
        (sales, "/Sales", "read"),
    ]:
        folder_grant_set(group=group, path=path, access=access, actor=system_actor)

    body = answer()
    assert [group["displayName"] for group in body["groups"]] == ["Finance", "Readers", "Sales"]
    assert len({group["gid"] for group in body["groups"]}) == 3
    # One entry per path, write winning.
    assert body["folders"] == [
        {"path": "/Finance", "access": "write"},
        {"path": "/Sales", "access": "read"},
        {"path": "/Shared", "access": "write"},
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_app_password_logs_in_over_every_protocol(
    server, bob, bob_password, transfer_on, protocol
):
    response = server.authenticate(
        "bob@acme.example", protocol=protocol, **by_password(bob_password[1])
    )

    assert response.status_code == 200
    assert response.json()["credential"] == {
        "id": f"pw_{bob_password[0].pk}",
        "kind": "app_password",
        "label": "FileZilla",
    }


def refused(response) -> str:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["allowed"] is False
    assert set(body) == {"allowed", "reason"}
    return body["reason"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_refusal_reason_for_both_credential_kinds(
    server, bob, credential, transfer_on, organization, make_group, system_actor, protocol
):
    kind, sent, stored = credential

    def ask(login="bob@acme.example", **override):
        return refused(server.authenticate(login, protocol=protocol, **(override or sent)))

    assert ask("nobody@acme.example") == "unknown_user"
    wrong = (
        by_key(new_public_key()) if kind == "ssh_key" else by_password("rap_AAAAAAAA." + "x" * 43)
    )
    assert ask(**wrong) == "bad_credential"

    transfer_policy_set(organization=organization, mode=TransferMode.OFF, actor=system_actor)
    assert ask() == "transfer_off"
    scope = make_group(organization, "SFTP users")
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[scope], actor=system_actor
    )
    assert ask() == "not_in_scope"
    transfer_policy_set(organization=organization, mode=TransferMode.EVERYONE, actor=system_actor)

    user_deactivate(user=bob, actor=system_actor)
    assert ask() == "inactive"
    user_reactivate(user=bob, actor=system_actor)

    type(stored).objects.filter(pk=stored.pk).update(expires_at=timezone.now() - timedelta(1))
    assert ask() == "expired_credential"
    type(stored).objects.filter(pk=stored.pk).update(expires_at=None)

    if kind == "ssh_key":
        ssh_key_revoke(key=stored, actor=system_actor)
    else:
        app_password_revoke(password=stored, actor=system_actor)
    assert ask() == "bad_credential"

    user_delete(user=bob, actor=system_actor)
    assert ask() == "unknown_user"


def test_another_organizations_user_is_unknown_to_an_organization_key(
    server, other_organization, make_user, make_verified_domain, transfer_on, system_actor
):
    make_verified_domain(other_organization, "globex.example")
    ann = make_user(other_organization, "ann@globex.example")
    transfer_policy_set(
        organization=other_organization, mode=TransferMode.EVERYONE, actor=system_actor
    )
    _, secret = app_password_create(
        user=ann, label="x", source=CredentialSource.PERSONAL, actor=system_actor
    )

    assert refused(server.authenticate("ann@globex.example", password=secret)) == "unknown_user"
    assert refused(server.authenticate("globex+ann@globex.example", password=secret)) == (
        "unknown_user"
    )


def test_a_platform_key_decides_for_verified_and_qualified_login_names(
    platform_server, organization, bob, bob_password, transfer_on, make_user, system_actor
):
    gmail = make_user(organization, "carol@gmail.example")
    _, carol_secret = app_password_create(
        user=gmail, label="x", source=CredentialSource.PERSONAL, actor=system_actor
    )

    bob_answer = platform_server.authenticate("bob@acme.example", password=bob_password[1])
    carol_answer = platform_server.authenticate("acme+carol@gmail.example", password=carol_secret)

    assert (bob_answer.status_code, bob_answer.json()["login"]) == (200, "bob@acme.example")
    assert (carol_answer.status_code, carol_answer.json()["login"]) == (
        200,
        "acme+carol@gmail.example",
    )
    assert carol_answer.json()["home"] == "/acme+carol@gmail.example"
    # A person has one login name: the other form is nobody's.
    assert refused(platform_server.authenticate("carol@gmail.example", password=carol_secret)) == (
        "unknown_user"
    )
    assert (
        refused(platform_server.authenticate("acme+bob@acme.example", password=bob_password[1]))
        == "unknown_user"
    )


def test_a_revoked_transfer_key_is_refused_on_the_next_request(
    server, org_key, bob, bob_password, transfer_on, system_actor
):
    assert server.authenticate("bob@acme.example", password=bob_password[1]).status_code == 200

    transfer_key_revoke(key=org_key[0], actor=system_actor)

    response = server.authenticate("bob@acme.example", password=bob_password[1])
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="transfer"'


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer rtk_nothing.x", "Basic abc"])
def test_a_missing_or_wrong_transfer_key_is_401(client, db, header):
    response = client.post(
        "/transfer/v1/authenticate",
        "{}",
        content_type="application/json",
        headers={"Authorization": header} if header else {},
    )
    assert response.status_code == 401


@pytest.mark.parametrize("revoked", [False, True], ids=["forged secret", "revoked key"])
def test_a_key_read_with_the_person_is_refused_before_anything_about_them_is_used(
    client, org_key, bob, bob_key, bob_password, transfer_on, system_actor, revoked
):
    """The transfer key and the person are one statement: a request whose key is not
    right gets a 401 and nothing of what was read about the person, from every
    endpoint, and nothing is logged or counted as used."""
    from tests.transfer.conftest import DecisionClient
    from tests.transfer.test_sftpgo import recorded

    key, secret = org_key
    if revoked:
        transfer_key_revoke(key=key, actor=system_actor)
    else:
        # The key's own prefix, so that the statement finds the key and the person.
        half = len(secret) // 2
        secret = secret[:half] + "x" * (len(secret) - half)
        assert TRANSFER_KEY.prefix_of(secret) == key.prefix
    caller = DecisionClient(client, secret)

    answers = [
        caller.authenticate("bob@acme.example", password=bob_password[1]),
        caller.authenticate("bob@acme.example", public_key=bob_key[1]),
        caller.post("/transfer/v1/sftpgo/auth", recorded(password=bob_password[1])),
        caller.authorized_keys("bob@acme.example"),
    ]

    assert [answer.status_code for answer in answers] == [401] * 4
    assert all(b"bob" not in answer.content for answer in answers)
    assert not TransferSignIn.objects.exists()
    key.refresh_from_db()
    bob_key[0].refresh_from_db()
    assert (key.last_used_at, bob_key[0].last_used_at) == (None, None)


def test_group_removal_and_key_removal_refuse_at_the_very_next_login(
    server, organization, bob, bob_key, bob_password, system_actor
):
    scope = group_create(
        organization=organization, display_name="SFTP", members=[bob], actor=system_actor
    )
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[scope], actor=system_actor
    )
    assert server.authenticate("bob@acme.example", **by_key(bob_key[1])).status_code == 200

    group_members_remove(group=scope, users=[bob], actor=system_actor)
    assert refused(server.authenticate("bob@acme.example", **by_key(bob_key[1]))) == "not_in_scope"

    transfer_policy_set(organization=organization, mode=TransferMode.EVERYONE, actor=system_actor)
    ssh_key_revoke(key=bob_key[0], actor=system_actor)
    assert refused(server.authenticate("bob@acme.example", **by_key(bob_key[1]))) == (
        "bad_credential"
    )
    assert server.authenticate("bob@acme.example", password=bob_password[1]).status_code == 200


def test_every_decision_is_logged_with_its_reason(server, bob, bob_password, transfer_on):
    server.authenticate("bob@acme.example", password=bob_password[1], protocol="ftps")
    server.authenticate("bob@acme.example", password="rap_AAAAAAAA." + "y" * 43)

    rows = list(
        TransferSignIn.objects.order_by("at", "id").values_list(
            "login", "protocol", "allowed", "reason", "credential_kind", "user_id"
        )
    )
    assert rows == [
        ("bob@acme.example", "ftps", True, "", "app_password", bob.pk),
        ("bob@acme.example", "sftp", False, "bad_credential", "app_password", bob.pk),
    ]


def test_authorized_keys_prints_restricted_lines_for_an_allowed_person(
    server, bob, bob_key, transfer_on, system_actor
):
    from transfer.services import ssh_key_add

    expiring = ssh_key_add(
        user=bob,
        public_key=new_public_key("old"),
        source=CredentialSource.PERSONAL,
        actor=system_actor,
        expires_at=datetime.datetime(2031, 5, 4, 3, 2, tzinfo=datetime.UTC),
    )

    response = server.authorized_keys("bob@acme.example")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().splitlines() == [
        f"restrict {bob_key[0].public_key} roster:key_{bob_key[0].pk}",
        f'restrict,expiry-time="203105040302Z" {expiring.public_key} roster:key_{expiring.pk}',
    ]


def test_authorized_keys_is_empty_for_who_may_not_log_in(
    server, bob, bob_key, transfer_on, system_actor
):
    user_deactivate(user=bob, actor=system_actor)

    for username in ("bob@acme.example", "nobody@acme.example", "x" * 400):
        response = server.authorized_keys(username)
        assert (response.status_code, response.content) == (200, b"")


def test_only_owners_change_an_owners_credentials(organization, org_owner, org_admin, system_actor):
    from accounts.errors import PrivilegeRefused
    from transfer.services import ssh_key_add

    def add(user, acting_user):
        return ssh_key_add(
            user=user,
            public_key=new_public_key(),
            source=CredentialSource.ADMIN,
            actor=system_actor,
            acting_user=acting_user,
        )

    with pytest.raises(PrivilegeRefused, match="Only owners"):
        add(org_owner, org_admin)
    owners_key = add(org_owner, org_owner)
    with pytest.raises(PrivilegeRefused, match="Only owners"):
        ssh_key_revoke(key=owners_key, actor=system_actor, acting_user=org_admin)
    assert add(org_admin, org_owner).source == CredentialSource.ADMIN


@pytest.mark.parametrize("named", ["ssh-rsa", "ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com"])
def test_a_key_line_naming_another_type_than_the_registered_key_is_a_wrong_credential(
    server, bob, bob_key, transfer_on, named
):
    """A key is found by its fingerprint without being loaded; the type its line names
    must still be the registered key's, as loading it would have checked."""
    _, blob, comment = bob_key[1].split(" ", 2)

    response = server.authenticate("bob@acme.example", **by_key(f"{named} {blob} {comment}"))

    assert response.status_code == 403
    assert response.json() == {"allowed": False, "reason": "bad_credential"}
    assert server.authenticate("bob@acme.example", **by_key(bob_key[1])).status_code == 200


def test_no_decision_reads_a_column_its_statement_left_out(
    server, organization, bob, bob_key, bob_password, transfer_on, system_actor, monkeypatch
):
    """The decision's statement reads only the person's columns a decision uses; any
    other would be loaded by a query of its own (a deferred field). Every outcome, every
    endpoint."""
    from django.db.models import Model

    from tests.transfer.test_sftpgo import recorded

    def refuse(instance, *args, **kwargs):
        raise AssertionError(f"{type(instance).__name__} loaded a deferred column")

    expiring, expiring_secret = app_password_create(
        user=bob, label="old", source=CredentialSource.PERSONAL, actor=system_actor
    )
    type(expiring).objects.filter(pk=expiring.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    outside = group_create(organization=organization, display_name="Outside", actor=system_actor)

    def all_answers():
        return [
            server.authenticate("bob@acme.example", **by_key(bob_key[1])),
            server.authenticate("bob@acme.example", **by_password(bob_password[1])),
            server.post("/transfer/v1/sftpgo/auth", recorded(password=bob_password[1])),
            server.authorized_keys("bob@acme.example"),
            server.authenticate("bob@acme.example", **by_key(new_public_key())),
            server.authenticate("bob@acme.example", **by_password(expiring_secret)),
            server.authenticate("nobody@acme.example", **by_password(bob_password[1])),
        ]

    monkeypatch.setattr(Model, "refresh_from_db", refuse)
    answers = all_answers()
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 403, 403, 403]
    assert [answer.json()["reason"] for answer in answers[4:]] == [
        "bad_credential",
        "expired_credential",
        "unknown_user",
    ]

    monkeypatch.undo()
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[outside], actor=system_actor
    )
    monkeypatch.setattr(Model, "refresh_from_db", refuse)
    assert server.authenticate("bob@acme.example", **by_key(bob_key[1])).json()["reason"] == (
        "not_in_scope"
    )
    assert server.authorized_keys("bob@acme.example").content == b""

    monkeypatch.undo()
    transfer_policy_set(organization=organization, mode=TransferMode.OFF, actor=system_actor)
    monkeypatch.setattr(Model, "refresh_from_db", refuse)
    assert server.authenticate("bob@acme.example", **by_key(bob_key[1])).json()["reason"] == (
        "transfer_off"
    )

    monkeypatch.undo()
    transfer_policy_set(organization=organization, mode=TransferMode.EVERYONE, actor=system_actor)
    user_deactivate(user=bob, actor=system_actor)
    monkeypatch.setattr(Model, "refresh_from_db", refuse)
    assert server.authenticate("bob@acme.example", **by_key(bob_key[1])).json()["reason"] == (
        "inactive"
    )
