"""The decision API under attack: brute force, probing for who exists, hostile input."""

import json
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import derived_keys
from accounts.models import AuditAction, AuditEvent

WRONG_PASSWORD = "rap_AAAAAAAA." + "w" * 43


def test_failed_logins_per_login_name_are_throttled_and_audited(
    server, bob, bob_password, transfer_on, settings
):
    settings.TRANSFER_FAILURE_RATE = "3/5m"

    answers = [server.authenticate("bob@acme.example", password=WRONG_PASSWORD) for _ in range(4)]

    assert [a.status_code for a in answers] == [403, 403, 403, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 300
    # Even the right password waits for the window: the guesser cannot tell.
    assert server.authenticate("bob@acme.example", password=bob_password[1]).status_code == 429
    audited = AuditEvent.objects.filter(action=AuditAction.TRANSFER_LOGIN_REFUSED)
    assert [event.changes["reason"] for event in audited] == ["bad_credential"] * 3
    # Another login name is not affected.
    assert server.authenticate("nobody@acme.example", password=WRONG_PASSWORD).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_get_no_more_answers_than_the_limit(
    org_key, bob, bob_password, transfer_on, settings
):
    """Each answer waits for its own atomic count: however many guesses arrive at once,
    only the limit's worth are answered and the rest wait, and a right password sent
    among them is not counted as a failure."""
    import threading

    from django.db import connection as thread_connection
    from django.test import Client

    from tests.conftest import use_redis_cache
    from tests.transfer.conftest import DecisionClient

    use_redis_cache(settings)
    settings.TRANSFER_FAILURE_RATE = "3/5m"
    guesses = 12
    barrier = threading.Barrier(guesses + 1)
    statuses: list[int] = []

    def guess(password: str) -> None:
        caller = DecisionClient(Client(), org_key[1])
        try:
            barrier.wait()
            statuses.append(caller.authenticate("bob@acme.example", password=password).status_code)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=guess, args=(WRONG_PASSWORD,)) for _ in range(guesses)]
    threads.append(threading.Thread(target=guess, args=(bob_password[1],)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses.count(403) == 3
    assert statuses.count(429) + statuses.count(200) == guesses + 1 - 3
    assert statuses.count(200) <= 1


def test_the_login_name_throttle_folds_case(server, bob, transfer_on, settings):
    settings.TRANSFER_FAILURE_RATE = "1/5m"
    server.authenticate("bob@acme.example", password=WRONG_PASSWORD)

    assert server.authenticate("BOB@ACME.EXAMPLE", password=WRONG_PASSWORD).status_code == 429


def test_a_transfer_key_past_its_rate_waits_and_costs_the_login_name_nothing(
    server, bob, bob_password, transfer_on, settings
):
    settings.TRANSFER_KEY_RATE = "2/1m"
    settings.TRANSFER_FAILURE_RATE = "1/5m"
    assert server.authenticate("bob@acme.example", password=bob_password[1]).status_code == 200
    assert server.authorized_keys("bob@acme.example").status_code == 200

    throttled = [
        server.authenticate("bob@acme.example", password=WRONG_PASSWORD),
        server.post("/transfer/v1/authenticate", "not json"),
        server.authorized_keys("bob@acme.example"),
    ]

    assert [answer.status_code for answer in throttled] == [429, 429, 429]
    for answer in throttled:
        assert answer.json() == {"error": "Too many requests for this transfer key; retry later."}
        assert 0 < int(answer["Retry-After"]) <= 60
    # The wrong password the key's limit turned away was not counted against the name.
    settings.TRANSFER_KEY_RATE = "100/1m"
    assert server.authenticate("bob@acme.example", password=WRONG_PASSWORD).status_code == 403
    assert server.authenticate("bob@acme.example", password=WRONG_PASSWORD).status_code == 429


def _work(server, monkeypatch, username, **credential):
    """(statements, digest computations) of one decision."""
    digests = []
    real = derived_keys._hmac

    def counting(key, message):
        digests.append(1)
        return real(key, message)

    monkeypatch.setattr(derived_keys, "_hmac", counting)
    server.authenticate(username, **credential)  # warm: the key's last use, prepared plans
    digests.clear()
    with CaptureQueriesContext(connection) as queries:
        response = server.authenticate(username, **credential)
    assert response.status_code == 403
    return len(queries), len(digests)


@pytest.mark.parametrize("kind", ["password", "public_key"])
def test_an_unknown_user_costs_the_same_work_as_a_wrong_credential(
    server, bob, bob_password, transfer_on, monkeypatch, settings, kind
):
    from tests.transfer.conftest import new_public_key

    settings.TRANSFER_FAILURE_RATE = "100/5m"
    settings.TRANSFER_REFUSAL_AUDIT_RATE = "0/10m"
    credential = {kind: WRONG_PASSWORD if kind == "password" else new_public_key()}

    unknown = _work(server, monkeypatch, "nobody@acme.example", **credential)
    wrong = _work(server, monkeypatch, "bob@acme.example", **credential)

    assert unknown == wrong
    if kind == "password":
        # The transfer key's digest, and one for the presented password.
        assert unknown[1] == 2


HOSTILE_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    b'"a string"',
    b"1e999999",
    b"[" * 5000 + b"]" * 5000,
    {"username": None, "protocol": "sftp", "password": "x"},
    {"username": 7, "protocol": "sftp", "password": "x"},
    {"username": ["bob@acme.example"], "protocol": "sftp", "password": "x"},
    {"username": {"$ne": ""}, "protocol": "sftp", "password": "x"},
    {"username": "bob@acme.example", "protocol": "gopher", "password": "x"},
    {"username": "bob@acme.example", "protocol": ["sftp"], "password": "x"},
    {"username": "bob@acme.example", "protocol": "sftp"},
    {"username": "bob@acme.example", "protocol": "sftp", "password": "x", "public_key": "y"},
    {"username": "bob@acme.example", "protocol": "sftp", "password": 12},
    {"username": "bob@acme.example", "protocol": "sftp", "password": {"a": 1}},
    {"username": "bob\x00@acme.example", "protocol": "sftp", "password": "x"},
    {"username": "bob@acme.example", "protocol": "sftp", "password": "x\x00y"},
    {"username": "b" * 100_000, "protocol": "sftp", "password": "x"},
    {"username": "bob@acme.example", "protocol": "sftp", "password": "p" * 100_000},
    {"username": "bob@acme.example", "protocol": "sftp", "public_key": "k" * 20_000},
    {"username": "bob@acme.example", "protocol": "sftp", "password": "x", "ip": "999.1.1.1"},
    {"username": "bob@acme.example", "protocol": "sftp", "password": "x", "ip": 12},
    {"username": "\u202ebob@acme.example", "protocol": "sftp", "password": "x"},
    {"username": "acme+", "protocol": "sftp", "password": "x"},
    {"username": "+bob", "protocol": "sftp", "password": "x"},
    {"username": "@", "protocol": "sftp", "password": "x"},
    {"username": "bob@acme.example", "protocol": "sftp", "public_key": "ssh-dss AAAA x"},
    {"username": "bob@acme.example", "protocol": "sftp", "public_key": "ssh-ed25519 !!!"},
    {"username": "bob@acme.example", "protocol": "sftp", "password": "rap_\x01\x02.zz"},
]


# The last six are well-formed requests that name nobody or carry no usable credential:
# refused like any wrong login (403), not malformed.
REFUSED = 6


@pytest.mark.parametrize("index", range(len(HOSTILE_BODIES)))
def test_hostile_bodies_get_a_4xx_never_a_5xx(server, bob, bob_password, transfer_on, index):
    response = server.post("/transfer/v1/authenticate", HOSTILE_BODIES[index])

    if index < len(HOSTILE_BODIES) - REFUSED:
        assert response.status_code == 400, response.content[:200]
        assert set(response.json()) == {"error"}
    else:
        assert response.status_code == 403, response.content[:200]
        assert response.json()["allowed"] is False


PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def test_a_private_key_or_a_password_never_reaches_the_logs(
    server, bob, bob_password, transfer_on, caplog
):
    caplog.set_level(logging.DEBUG)
    server.authenticate("bob@acme.example", public_key=PRIVATE_KEY)
    server.authenticate("bob@acme.example", password=bob_password[1])
    server.authenticate("bob@acme.example", password=WRONG_PASSWORD)

    logged = caplog.text
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in logged
    assert bob_password[1] not in logged
    assert WRONG_PASSWORD not in logged
    assert server.secret not in logged


@pytest.mark.parametrize(
    "username", ["", "x" * 5000, "bob\x00@acme.example", "acme+", "a" * 320 + "@b.c"]
)
def test_authorized_keys_answers_empty_for_hostile_names(
    server, bob, bob_key, transfer_on, username
):
    response = server.client.get(
        "/transfer/v1/authorized_keys", {"username": username}, headers=server.headers()
    )

    assert (response.status_code, response.content) == (200, b"")


def test_methods_other_than_the_documented_ones_are_405(server, transfer_on):
    assert (
        server.client.get("/transfer/v1/authenticate", headers=server.headers()).status_code == 405
    )
    response = server.client.post(
        "/transfer/v1/authorized_keys",
        json.dumps({}),
        content_type="application/json",
        headers=server.headers(),
    )
    assert response.status_code == 405


def test_no_answer_may_be_kept_by_a_cache(server, client, bob, bob_password, transfer_on, settings):
    settings.TRANSFER_FAILURE_RATE = "1/5m"
    answers = {
        "allowed": server.authenticate("bob@acme.example", password=bob_password[1]),
        "refused": server.authenticate("bob@acme.example", password=WRONG_PASSWORD),
        "throttled": server.authenticate("bob@acme.example", password=WRONG_PASSWORD),
        "malformed": server.post("/transfer/v1/authenticate", "[]"),
        "keys": server.authorized_keys("bob@acme.example"),
        "hook": server.post("/transfer/v1/sftpgo/auth", {"username": "bob@acme.example"}),
        "no key": client.get("/transfer/v1/authorized_keys", {"username": "bob@acme.example"}),
    }

    assert {name: answer.status_code for name, answer in answers.items()} == {
        "allowed": 200,
        "refused": 403,
        "throttled": 429,
        "malformed": 400,
        "keys": 200,
        "hook": 400,
        "no key": 401,
    }
    assert {answer["Cache-Control"] for answer in answers.values()} == {"no-store"}
