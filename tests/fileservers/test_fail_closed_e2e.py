"""A real sshd refuses the login when Roster is unreachable, slow, failing or talking
garbage, and its log says why without a secret; the same sshd lets Bob in when the
(fake) Roster answers yes, so each refusal is the adapters' doing."""

import pytest

from tests.fileservers.conftest import (
    TRANSFER_KEY,
    Answer,
    Person,
    closed_port_url,
    sftp_with_key,
    sftp_with_password,
    ssh_keypair,
)

PASSWORD = "rap_AbCdEfGh.the-app-password-secret-0123456789abcdefghijk"
BOB = "bob@acme.example"
UID = 299001


@pytest.fixture
def fake_host(system_nss, fake_roster):
    from tests.fileservers import servers

    host = servers.Host()
    try:
        host.configure(fake_roster.url, TRANSFER_KEY, timeout=1)
        yield host
    finally:
        host.close()


@pytest.fixture
def fake_sshd(fake_host):
    from tests.fileservers import servers

    server = servers.Sshd(fake_host)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def bob(fake_host, fake_roster):
    """Bob in NSS (through roster-sync), and a fake Roster that lets him in."""
    key, public_key = ssh_keypair(fake_host.root, "bob")
    account = {
        "login": BOB,
        "user": {"id": "u-1", "displayName": "Bob"},
        "uid": UID,
        "gid": UID,
        "home": f"/{BOB}",
        "groups": [],
        "folders": [],
    }
    fake_roster.answers["/transfer/v1/accounts"] = Answer(
        body={"data": [account], "next_cursor": "1", "has_more": False}
    )
    fake_host.sync_once()
    key_line = "restrict " + " ".join(public_key.split()[:2]) + " roster:key_1\n"
    fake_roster.answers["/transfer/v1/authorized_keys"] = Answer(200, "text/plain", key_line)
    fake_roster.answers["/transfer/v1/authenticate"] = Answer(
        200, body={"allowed": True, "login": BOB, "uid": UID, "gid": UID, "home": f"/{BOB}"}
    )
    return Person("u-1", BOB, key, public_key, UID)


def logins(sshd, host, bob) -> tuple[int, int]:
    by_key = sftp_with_key(sshd.port, bob, "ls\n", workdir=host.root)
    by_password = sftp_with_password(sshd.port, BOB, PASSWORD, "ls\n", workdir=host.root)
    return by_key.returncode, by_password.returncode


def test_a_yes_from_roster_lets_bob_in(fake_sshd, fake_host, bob):
    assert logins(fake_sshd, fake_host, bob) == (0, 0)


BROKEN = {
    "500": (Answer(500, "text/html", "<h1>Server Error</h1>"), "Roster answered HTTP 500"),
    "garbage": (Answer(200, "text/plain", "restrict rm -rf /\n"), "not a restricted key"),
    "slow": (Answer(200, "text/plain", "", delay=2.5), "no answer within the timeout"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_roster_refuses_every_login(fake_sshd, fake_host, fake_roster, bob, case):
    answer, logged = BROKEN[case]
    fake_roster.answers["/transfer/v1/authorized_keys"] = answer
    password_answer = Answer(200, "application/json", "{garbage") if case == "garbage" else answer
    fake_roster.answers["/transfer/v1/authenticate"] = password_answer

    assert logins(fake_sshd, fake_host, bob) == (255, 255)

    log = fake_sshd.log.read_text()
    assert f"roster-authorized-keys: no keys for '{BOB}': " in log
    assert logged in log
    assert TRANSFER_KEY not in log
    assert PASSWORD not in log


def test_roster_unreachable_refuses_every_login(fake_sshd, fake_host, bob):
    fake_host.configure(closed_port_url(), TRANSFER_KEY, timeout=1)

    assert logins(fake_sshd, fake_host, bob) == (255, 255)

    log = fake_sshd.log.read_text()
    assert f"roster-authorized-keys: no keys for '{BOB}': Roster is unreachable" in log
    assert TRANSFER_KEY not in log
