"""roster-authorized-keys prints what Roster answers, or nothing and exits 1."""

import pytest

from tests.fileservers.conftest import (
    TRANSFER_KEY,
    Answer,
    closed_port_url,
    run_adapter,
    write_config,
)

KEYS_PATH = "/transfer/v1/authorized_keys"
LINES = (
    "restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPq0cN4mH0 roster:key_12\n"
    'restrict,expiry-time="203105040302Z" ecdsa-sha2-nistp256 AAAAE2VjZHNh+/= roster:key_13\n'
)


def test_prints_rosters_key_lines_for_the_user(fake_roster, config):
    fake_roster.answers[KEYS_PATH] = Answer(200, "text/plain", LINES)

    result = run_adapter("roster-authorized-keys", "--config", str(config), "bob@acme.example")

    assert (result.returncode, result.stdout.decode()) == (0, LINES)
    [request] = fake_roster.seen
    assert (request.method, request.path) == ("GET", KEYS_PATH)
    assert request.query == {"username": ["bob@acme.example"]}
    assert request.headers["Authorization"] == f"Bearer {TRANSFER_KEY}"


def test_an_empty_answer_prints_nothing_and_is_no_error(fake_roster, config):
    fake_roster.answers[KEYS_PATH] = Answer(200, "text/plain", "")

    result = run_adapter("roster-authorized-keys", "--config", str(config), "ann@acme.example")

    assert (result.returncode, result.stdout) == (0, b"")


def test_the_config_is_found_through_the_environment(fake_roster, config):
    fake_roster.answers[KEYS_PATH] = Answer(200, "text/plain", LINES)

    result = run_adapter(
        "roster-authorized-keys", "bob@acme.example", env={"ROSTER_TRANSFER_CONF": str(config)}
    )

    assert (result.returncode, result.stdout.decode()) == (0, LINES)


@pytest.mark.parametrize(
    "answer, logged",
    [
        (Answer(500, "text/plain", "boom"), "Roster answered HTTP 500"),
        (Answer(401, "application/json", "{}"), "Roster answered HTTP 401"),
        (Answer(302, "text/plain", ""), "Roster answered HTTP 302"),
        (Answer(200, "text/html", "<html>"), "Roster answered text/html, not text/plain"),
        # Without `restrict` sshd would open a shell and forwarding to the key.
        (
            Answer(200, "text/plain", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPq0 roster:key_1\n"),
            "Roster's answer holds a line that is not a restricted key",
        ),
        (
            Answer(200, "text/plain", LINES + 'command="/bin/sh" ssh-rsa AAAA x\n'),
            "Roster's answer holds a line that is not a restricted key",
        ),
        (Answer(200, "text/plain", b"restrict \xff\n"), "Roster's answer is not ASCII"),
        (Answer(200, "text/plain", LINES, delay=3), "no answer within the timeout"),
    ],
    ids=["500", "401", "redirect", "html", "unrestricted", "options", "binary", "slow"],
)
def test_any_doubt_prints_nothing_and_exits_1(fake_roster, config, answer, logged):
    fake_roster.answers[KEYS_PATH] = answer

    result = run_adapter("roster-authorized-keys", "--config", str(config), "bob@acme.example")

    assert (result.returncode, result.stdout) == (1, b"")
    assert result.stderr.decode() == (
        f"roster-authorized-keys: no keys for 'bob@acme.example': {logged}\n"
    )
    assert TRANSFER_KEY not in result.stderr.decode()


def test_roster_unreachable_prints_nothing_and_exits_1(tmp_path):
    config = write_config(tmp_path, closed_port_url())

    result = run_adapter("roster-authorized-keys", "--config", str(config), "bob@acme.example")

    assert (result.returncode, result.stdout) == (1, b"")
    assert "Roster is unreachable: URLError" in result.stderr.decode()


def test_a_missing_config_prints_nothing_and_exits_1(tmp_path):
    result = run_adapter(
        "roster-authorized-keys", "--config", str(tmp_path / "nope.conf"), "bob@acme.example"
    )

    assert (result.returncode, result.stdout) == (1, b"")
