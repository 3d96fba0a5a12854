"""roster-authd answers pure-authd only when Roster allows the FTPS login."""

import json

import pytest

from tests.fileservers.conftest import TRANSFER_KEY, Answer, closed_port_url, run_adapter
from tests.fileservers.conftest import write_config as write_transfer_config

AUTHENTICATE = "/transfer/v1/authenticate"
PASSWORD = "rap_AbCdEfGh.the-app-password-secret-0123456789abcdefghijk"
ALLOWED = {
    "allowed": True,
    "login": "bob@acme.example",
    "uid": 200004,
    "gid": 200004,
    "home": "/bob@acme.example",
}


def authd_env(config, **overrides):
    # pure-authd passes no arguments: the configuration comes from the environment.
    return {
        "ROSTER_TRANSFER_CONF": str(config),
        "AUTHD_ACCOUNT": "Bob@acme.example",
        "AUTHD_PASSWORD": PASSWORD,
        "AUTHD_REMOTE_IP": "203.0.113.7",
        **overrides,
    }


def test_an_allowed_login_gets_pure_authds_answer(fake_roster, config):
    fake_roster.answers[AUTHENTICATE] = Answer(200, body=ALLOWED)

    result = run_adapter("roster-authd", env=authd_env(config))

    assert result.returncode == 0
    assert result.stdout.decode() == (
        "auth_ok:1\nuid:200004\ngid:200004\ndir:/srv/sftp/home/bob@acme.example\nend\n"
    )
    [request] = fake_roster.seen
    assert json.loads(request.body) == {
        "username": "Bob@acme.example",
        "protocol": "ftps",
        "ip": "203.0.113.7",
        "password": PASSWORD,
    }


@pytest.mark.parametrize(
    "answer, logged",
    [
        (
            Answer(403, body={"allowed": False, "reason": "transfer_off"}),
            "Roster refused the login: 'transfer_off'",
        ),
        (Answer(500, "text/html", "boom"), "Roster answered HTTP 500"),
        (Answer(200, "application/json", "]["), "Roster's answer is not JSON"),
        (Answer(200, body={**ALLOWED, "uid": 0}), "Roster's answer has no usable uid or gid"),
        (
            Answer(200, body={**ALLOWED, "gid": "200004"}),
            "Roster's answer has no usable uid or gid",
        ),
        (Answer(200, body={**ALLOWED, "home": "/../etc"}), "Roster's answer has no usable home"),
        (Answer(200, body={**ALLOWED, "home": "/a/b"}), "Roster's answer has no usable home"),
        (
            Answer(200, body={**ALLOWED, "login": "ann@acme.example"}),
            "Roster allowed another login name than the one asked",
        ),
        (Answer(200, body=ALLOWED, delay=3), "no answer within the timeout"),
    ],
    ids=["refused", "500", "garbage", "root", "string-gid", "traversal", "nested", "other", "slow"],
)
def test_any_doubt_prints_nothing_and_exits_1(fake_roster, config, answer, logged):
    fake_roster.answers[AUTHENTICATE] = answer

    result = run_adapter("roster-authd", env=authd_env(config))

    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == (
        f"roster-authd: FTPS login refused for 'Bob@acme.example': {logged}\n"
    )
    assert PASSWORD not in result.stderr.decode()
    assert TRANSFER_KEY not in result.stderr.decode()


def test_roster_unreachable_prints_nothing_and_exits_1(tmp_path):
    config = write_transfer_config(tmp_path, closed_port_url(), home_root="/srv/sftp/home")

    result = run_adapter("roster-authd", env=authd_env(config))

    assert (result.returncode, result.stdout) == (1, b"")
    assert "Roster is unreachable: URLError" in result.stderr.decode()


def test_an_empty_password_asks_nothing(fake_roster, config):
    result = run_adapter("roster-authd", env=authd_env(config, AUTHD_PASSWORD=""))

    assert (result.returncode, result.stdout) == (1, b"")
    assert fake_roster.seen == []
