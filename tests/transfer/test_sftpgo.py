"""SFTPGo's external authentication hook, pinned by contract: request bodies as SFTPGo
sends them (docs/external-auth.md; internal/dataprovider getExternalAuthResponse, which
marshals a Go map, so the keys come sorted), and the answers SFTPGo reads back.

SFTPGo itself is not run here: these bodies are what it posts, the answers what its
doExternalAuth accepts (200 and a user, or 200 and an empty username to refuse).
"""

import hashlib
import json
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditAction, AuditEvent
from accounts.services import user_deactivate
from config import metrics
from tests.conftest import use_redis_cache
from tests.transfer.conftest import DecisionClient, new_public_key
from transfer.models import CredentialSource, TransferMode, TransferSignIn
from transfer.services import (
    app_password_create,
    folder_grant_set,
    transfer_key_revoke,
    transfer_policy_set,
)

HOOK = "/transfer/v1/sftpgo/auth"
WRONG_PASSWORD = "rap_AAAAAAAA." + "w" * 43


def recorded(**fields) -> dict:
    """A hook body as SFTPGo posts it: every field a string, empty when unused."""
    body = {
        "ip": "203.0.113.7",
        "keyboard_interactive": "",
        "password": "",
        "protocol": "SSH",
        "public_key": "",
        "tls_cert": "",
        "username": "bob@acme.example",
    }
    body.update(fields)
    return body


def authorized_key(public_key_line: str) -> str:
    """The key as SFTPGo sends it: ssh.MarshalAuthorizedKey, type and base64, a newline."""
    key_type, blob = public_key_line.split()[:2]
    return f"{key_type} {blob}\n"


# The SFTPGo user SFTPGo already holds for Bob, as its newer releases send it in `user`.
EXISTING_USER = {
    "id": 7,
    "status": 1,
    "username": "bob@acme.example",
    "home_dir": "/elsewhere",
    "uid": 0,
    "gid": 0,
    "max_sessions": 0,
    "quota_size": 0,
    "quota_files": 0,
    "permissions": {"/": ["*"], "/etc": ["*"]},
    "password": "$2a$10$Jg2.Ha7Z0UiGq2kDyqBlYeWzH0aGx0h5oT6tT1bWs3y0bVnQbW6a6",
    "public_keys": [],
    "filters": {"external_auth_cache_time": 86400},
    "filesystem": {"provider": 0},
    "last_login": 1700000000000,
}


def hook(server: DecisionClient, body):
    return server.post(HOOK, body)


@pytest.fixture
def finance(bob, make_group, system_actor):
    group = make_group(bob.organization, "Finance", members=[bob])
    folder_grant_set(group=group, path="/Finance", access="write", actor=system_actor)
    return group


READ = ["list", "download"]
WRITE = ["list", "download", "upload", "overwrite", "delete", "rename", "create_dirs", "chtimes"]


def bobs_user(username="bob@acme.example", *, folders=()):
    permissions = {"/": WRITE}
    permissions.update({path: (WRITE if access == "write" else READ) for path, access in folders})
    return {
        "status": 1,
        "username": username,
        "expiration_date": 0,
        "home_dir": "/srv/sftpgo/data/bob@acme.example",
        "uid": 0,
        "gid": 0,
        "max_sessions": 0,
        "quota_size": 0,
        "quota_files": 0,
        "permissions": permissions,
        "filesystem": {"provider": 0},
        "virtual_folders": [],
        "filters": {"external_auth_cache_time": 0, "web_client": ["shares-disabled"]},
    }


def finance_folder():
    digest = hashlib.sha256(b"/Finance").hexdigest()[:16]
    return {
        "name": f"acme-{digest}",
        "mapped_path": "/srv/sftpgo/folders/acme/Finance",
        "filesystem": {"provider": 0},
        "virtual_path": "/Finance",
        "quota_size": 0,
        "quota_files": 0,
    }


def last_sign_in() -> TransferSignIn:
    return TransferSignIn.objects.order_by("-id").first()


# -- Allowed ---------------------------------------------------------------------------


def test_a_password_login_over_ftp_answers_the_whole_sftpgo_user(
    server, bob, bob_password, finance, transfer_on
):
    response = hook(server, recorded(protocol="FTP", password=bob_password[1]))

    assert response.status_code == 200
    expected = bobs_user(folders=[("/Finance", "write")])
    expected["virtual_folders"] = [finance_folder()]
    assert response.json() == expected
    row = last_sign_in()
    assert (row.allowed, row.protocol, row.credential_kind, row.ip) == (
        True,
        "ftps",
        "app_password",
        "203.0.113.7",
    )


def test_a_public_key_login_over_ssh_is_the_key_as_sftpgo_marshals_it(
    server, bob, bob_key, transfer_on
):
    body = recorded(public_key=authorized_key(bob_key[1]))

    response = hook(server, body)

    assert (response.status_code, response.json()) == (200, bobs_user())
    row = last_sign_in()
    assert (row.allowed, row.protocol, row.credential_id) == (True, "sftp", f"key_{bob_key[0].pk}")


@pytest.mark.parametrize(
    ("sftpgo_protocol", "protocol"),
    [("SSH", "sftp"), ("FTP", "ftps"), ("DAV", "webdav"), ("HTTP", "webdav")],
)
def test_sftpgo_protocols_are_decided_and_logged_as_roster_protocols(
    server, bob, bob_password, transfer_on, sftpgo_protocol, protocol
):
    counted = metrics.TRANSFER_DECISIONS.labels(result="allowed", reason="-", protocol=protocol)
    before = counted._value.get()

    response = hook(server, recorded(protocol=sftpgo_protocol, password=bob_password[1]))

    assert (response.status_code, response.json()["username"]) == (200, "bob@acme.example")
    assert last_sign_in().protocol == protocol
    assert counted._value.get() == before + 1


def test_the_user_sftpgo_already_holds_changes_nothing_in_either_form(
    server, bob, bob_password, transfer_on
):
    as_object = recorded(password=bob_password[1], user=EXISTING_USER)
    # Older releases send the user as a JSON string.
    as_string = recorded(password=bob_password[1], user=json.dumps(EXISTING_USER))

    answers = [hook(server, body) for body in (as_object, as_string)]

    assert [(a.status_code, a.json()) for a in answers] == [(200, bobs_user())] * 2


def test_the_answer_names_the_account_as_sftpgo_asked_and_the_home_as_roster_names_it(
    server, bob, bob_password, transfer_on
):
    response = hook(server, recorded(username="BOB@Acme.Example", password=bob_password[1]))

    assert response.json() == bobs_user("BOB@Acme.Example")


def test_nested_grants_mount_the_outer_folder_and_permit_each_path(
    server, bob, bob_password, finance, make_group, transfer_on, system_actor
):
    readers = make_group(bob.organization, "Report readers", members=[bob])
    folder_grant_set(group=readers, path="/Finance/Reports", access="read", actor=system_actor)
    folder_grant_set(group=readers, path="/Legal", access="read", actor=system_actor)

    body = hook(server, recorded(password=bob_password[1])).json()

    assert body["permissions"] == {
        "/": WRITE,
        "/Finance": WRITE,
        "/Finance/Reports": READ,
        "/Legal": READ,
    }
    assert [(f["virtual_path"], f["mapped_path"]) for f in body["virtual_folders"]] == [
        ("/Finance", "/srv/sftpgo/folders/acme/Finance"),
        ("/Legal", "/srv/sftpgo/folders/acme/Legal"),
    ]


def test_the_roots_come_from_the_settings(
    server, bob, bob_password, finance, transfer_on, settings
):
    settings.TRANSFER_SFTPGO_HOME_ROOT = "/data/homes/"
    settings.TRANSFER_SFTPGO_FOLDERS_ROOT = "/data/shared"

    body = hook(server, recorded(password=bob_password[1])).json()

    assert body["home_dir"] == "/data/homes/bob@acme.example"
    assert body["virtual_folders"][0]["mapped_path"] == "/data/shared/acme/Finance"


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the budgets are PostgreSQL's")
def test_a_hook_decision_costs_the_statements_of_an_authenticate_decision(
    server, bob, bob_password, finance, transfer_on, settings
):
    use_redis_cache(settings)  # rate limits in Redis, as in production

    def statements(call):
        call()  # the first decision allocates POSIX ids and records the first use
        with CaptureQueriesContext(connection) as queries:
            assert call().status_code == 200
        return len(queries)

    by_hook = statements(lambda: hook(server, recorded(password=bob_password[1])))
    by_api = statements(lambda: server.authenticate("bob@acme.example", password=bob_password[1]))

    assert by_hook == by_api <= 4


# -- Refused: 200 and an empty username, through the same decision, log and audit -------


REFUSED = {"username": ""}


def refusal(response) -> str:
    """The reason the decision gave, from the sign-in log: SFTPGo is told no more."""
    assert (response.status_code, response.json()) == (200, REFUSED)
    row = last_sign_in()
    assert row.allowed is False
    return row.reason


def test_keyboard_interactive_is_refused_as_a_wrong_credential(
    server, bob, bob_password, transfer_on
):
    # SFTPGo asks with the username alone, then would run its own prompts against the
    # password it stored at an earlier login: Roster cannot decide that, so it refuses.
    body = recorded(keyboard_interactive="1", user=EXISTING_USER)

    assert refusal(hook(server, body)) == "bad_credential"
    audited = AuditEvent.objects.get(action=AuditAction.TRANSFER_LOGIN_REFUSED)
    assert audited.changes == {"reason": "bad_credential", "protocol": "sftp", "ip": "203.0.113.7"}


def test_a_tls_certificate_alone_is_refused(server, bob, transfer_on):
    certificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    assert refusal(hook(server, recorded(protocol="FTP", tls_cert=certificate))) == (
        "bad_credential"
    )


def test_refusals_for_wrong_credentials_and_unknown_people(server, bob, bob_key, transfer_on):
    assert refusal(hook(server, recorded(password=WRONG_PASSWORD))) == "bad_credential"
    assert refusal(hook(server, recorded(public_key=new_public_key()))) == "bad_credential"
    # An SSH certificate, or anything else that is no plain key: a wrong credential.
    certificate = recorded(public_key="ssh-ed25519-cert-v01@openssh.com AAAA\n")
    assert refusal(hook(server, certificate)) == "bad_credential"
    nobody = recorded(username="nobody@acme.example", public_key=authorized_key(bob_key[1]))
    assert refusal(hook(server, nobody)) == "unknown_user"


def test_a_deactivated_person_is_refused_with_their_own_credential(
    server, bob, bob_password, transfer_on, system_actor
):
    body = recorded(password=bob_password[1], user=EXISTING_USER)
    assert hook(server, body).json()["username"] == "bob@acme.example"

    user_deactivate(user=bob, actor=system_actor)

    assert refusal(hook(server, body)) == "inactive"


def test_transfer_off_and_out_of_scope_are_refused(
    server, bob, bob_password, organization, make_group, system_actor
):
    body = recorded(protocol="DAV", password=bob_password[1])
    assert refusal(hook(server, body)) == "transfer_off"

    scope = make_group(organization, "SFTP users")
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[scope], actor=system_actor
    )
    assert refusal(hook(server, body)) == "not_in_scope"


def test_an_organization_key_never_authenticates_another_organizations_people(
    server, platform_server, other_organization, make_user, make_verified_domain, system_actor
):
    make_verified_domain(other_organization, "globex.example")
    ann = make_user(other_organization, "ann@globex.example")
    transfer_policy_set(
        organization=other_organization, mode=TransferMode.EVERYONE, actor=system_actor
    )
    _, secret = app_password_create(
        user=ann, label="x", source=CredentialSource.PERSONAL, actor=system_actor
    )

    for username in ("ann@globex.example", "globex+ann@globex.example"):
        assert refusal(hook(server, recorded(username=username, password=secret))) == (
            "unknown_user"
        )
    # The platform's own key decides for every organization.
    answer = hook(platform_server, recorded(username="ann@globex.example", password=secret))
    assert answer.json()["home_dir"] == "/srv/sftpgo/data/ann@globex.example"


def test_refused_logins_per_login_name_are_throttled(
    server, bob, bob_password, transfer_on, settings
):
    settings.TRANSFER_FAILURE_RATE = "2/5m"

    statuses = [hook(server, recorded(password=WRONG_PASSWORD)).status_code for _ in range(3)]
    with_the_right_password = hook(server, recorded(password=bob_password[1]))

    assert statuses == [200, 200, 429]
    assert with_the_right_password.status_code == 429
    assert 0 < int(with_the_right_password["Retry-After"]) <= 300


# -- The transfer key ------------------------------------------------------------------


def test_a_missing_wrong_or_revoked_transfer_key_is_401(
    client, server, org_key, bob, bob_password, transfer_on, system_actor
):
    body = json.dumps(recorded(password=bob_password[1]))

    def status(headers):
        return client.post(HOOK, body, content_type="application/json", headers=headers).status_code

    assert status({}) == 401
    assert status({"Authorization": "Bearer rtk_AAAAAAAA." + "x" * 43}) == 401
    assert status({"Authorization": f"Basic {org_key[1]}"}) == 401
    transfer_key_revoke(key=org_key[0], actor=system_actor)
    assert status(server.headers()) == 401
    assert TransferSignIn.objects.count() == 0


def test_only_post_is_served(server, transfer_on):
    response = server.client.get(HOOK, headers=server.headers())

    assert response.status_code == 405


# -- Malformed bodies: 400 with a JSON error that names the field, never a 500 ---------


MALFORMED = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    b"[" * 5000 + b"]" * 5000,
    recorded(username=""),
    recorded(username=None),
    recorded(username=7, password="x"),
    recorded(username=["bob@acme.example"], password="x"),
    recorded(username="bob\x00@acme.example", password="x"),
    recorded(username="b" * 100_000, password="x"),
    recorded(username="../../@acme.example", password="x"),
    recorded(username="acme+bob/../eve", password="x"),
    recorded(protocol="SFTP", password="x"),
    recorded(protocol="ssh", password="x"),
    recorded(protocol="", password="x"),
    recorded(protocol=["SSH"], password="x"),
    recorded(password=12),
    recorded(password="p" * 100_000),
    recorded(password="x\x00y"),
    recorded(public_key="k" * 20_000),
    recorded(keyboard_interactive=True),
    recorded(ip="999.1.1.1", password="x"),
    recorded(ip=12, password="x"),
    recorded(password="x", user=12),
    recorded(password="x", user=["bob"]),
    recorded(),
]


@pytest.mark.parametrize("index", range(len(MALFORMED)))
def test_malformed_bodies_are_400_with_a_json_error(server, bob, transfer_on, index):
    response = hook(server, MALFORMED[index])

    assert response.status_code == 400, response.content[:200]
    assert set(response.json()) == {"error"}
    assert TransferSignIn.objects.count() == 0


def test_no_secret_reaches_the_logs_or_the_answers(
    server, bob, bob_password, bob_key, transfer_on, caplog
):
    caplog.set_level(logging.DEBUG)
    answers = [
        hook(server, recorded(password=bob_password[1], user=EXISTING_USER)),
        hook(server, recorded(password=WRONG_PASSWORD)),
        hook(server, recorded(public_key=authorized_key(bob_key[1]))),
        hook(server, recorded(password="x\x00" + bob_password[1])),
    ]

    shown = caplog.text + "".join(answer.content.decode() for answer in answers)
    for secret in (bob_password[1], WRONG_PASSWORD, server.secret, EXISTING_USER["password"]):
        assert secret not in shown
    assert bob_key[1].split()[1] not in shown
