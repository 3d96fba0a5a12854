"""roster-pam-password says yes (exit 0) only when Roster allows the app password."""

import json

import pytest

from tests.fileservers.conftest import (
    TRANSFER_KEY,
    Answer,
    closed_port_url,
    run_adapter,
    write_config,
)

AUTHENTICATE = "/transfer/v1/authenticate"
PASSWORD = "rap_AbCdEfGh.the-app-password-secret-0123456789abcdefghijk"
ALLOWED = {"allowed": True, "login": "bob@acme.example", "uid": 200004, "gid": 200004}
PAM_ENV = {"PAM_TYPE": "auth", "PAM_USER": "bob@acme.example", "PAM_RHOST": "203.0.113.7"}


def pam_login(config, *, env=PAM_ENV, password=PASSWORD):
    # pam_exec's expose_authtok writes the password and a NUL byte.
    return run_adapter(
        "roster-pam-password",
        "--config",
        str(config),
        env=env,
        stdin=password.encode() + b"\0",
    )


def test_an_allowed_app_password_is_a_yes(fake_roster, config):
    fake_roster.answers[AUTHENTICATE] = Answer(200, body=ALLOWED)

    result = pam_login(config)

    assert (result.returncode, result.stdout) == (0, b"")
    [request] = fake_roster.seen
    assert (request.method, request.path) == ("POST", AUTHENTICATE)
    assert json.loads(request.body) == {
        "username": "bob@acme.example",
        "protocol": "sftp",
        "ip": "203.0.113.7",
        "password": PASSWORD,
    }
    assert request.headers["Authorization"] == f"Bearer {TRANSFER_KEY}"


def test_a_host_name_in_pam_rhost_is_sent_as_no_ip(fake_roster, config):
    fake_roster.answers[AUTHENTICATE] = Answer(200, body=ALLOWED)

    result = pam_login(config, env={**PAM_ENV, "PAM_RHOST": "client.example.net"})

    assert result.returncode == 0
    assert json.loads(fake_roster.seen[0].body)["ip"] is None


def test_a_refusal_is_a_no_that_logs_the_reason(fake_roster, config):
    fake_roster.answers[AUTHENTICATE] = Answer(403, body={"allowed": False, "reason": "inactive"})

    result = pam_login(config)

    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == (
        "roster-pam-password: password login refused for 'bob@acme.example': "
        "Roster refused the login: 'inactive'\n"
    )


@pytest.mark.parametrize(
    "answer, logged",
    [
        (Answer(500, "text/html", "boom"), "Roster answered HTTP 500"),
        (Answer(429, body={"error": "slow down"}), "Roster answered HTTP 429"),
        (Answer(200, "application/json", "{not json"), "Roster's answer is not JSON"),
        (Answer(200, "text/plain", "yes"), "Roster answered text/plain, not JSON"),
        (Answer(200, body=[ALLOWED]), "Roster's answer is not a JSON object"),
        (Answer(200, body={"allowed": "true"}), "Roster's answer is not an allowed login"),
        (
            Answer(200, body={**ALLOWED, "login": "ann@acme.example"}),
            "Roster allowed another login name than the one asked",
        ),
        (Answer(200, body=ALLOWED, delay=3), "no answer within the timeout"),
    ],
    ids=["500", "429", "garbage", "text", "list", "string-true", "other-login", "slow"],
)
def test_any_doubt_is_a_no(fake_roster, config, answer, logged):
    fake_roster.answers[AUTHENTICATE] = answer

    result = pam_login(config)

    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == (
        f"roster-pam-password: password login refused for 'bob@acme.example': {logged}\n"
    )
    assert PASSWORD not in result.stderr.decode()
    assert TRANSFER_KEY not in result.stderr.decode()


def test_roster_unreachable_is_a_no(tmp_path):
    result = pam_login(write_config(tmp_path, closed_port_url()))

    assert (result.returncode, result.stdout) == (1, b"")
    assert "Roster is unreachable: URLError" in result.stderr.decode()


def test_outside_the_auth_stack_it_asks_nothing_and_says_no(fake_roster, config):
    result = pam_login(config, env={**PAM_ENV, "PAM_TYPE": "account"})

    assert result.returncode == 1
    assert fake_roster.seen == []


def test_no_password_on_stdin_is_a_no(fake_roster, config):
    result = pam_login(config, password="")

    assert result.returncode == 1
    assert "no password on standard input" in result.stderr.decode()
    assert fake_roster.seen == []
