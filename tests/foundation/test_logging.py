"""Production logs: one JSON object per line, with the request's context, never a secret."""

import contextvars
import io
import json
import logging

import pytest

from config.logging import JsonFormatter, RequestContextFilter
from config.request_context import bind, request_id_var
from tests.conftest import ADMIN_PASSWORD


@pytest.fixture
def json_log():
    """Everything logged while the test runs, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def _entries(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_log_line_is_one_json_object_with_the_request_context(json_log):
    def log_inside_a_request():
        request_id_var.set("req-abc-12345")
        bind(organization="acme", actor="token rst_ab12")
        logging.getLogger("roster.test").warning(
            "user %s provisioned", "ada", extra={"event": "user.created"}
        )

    contextvars.copy_context().run(log_inside_a_request)
    [entry] = _entries(json_log)
    assert entry["message"] == "user ada provisioned"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "roster.test"
    assert entry["request_id"] == "req-abc-12345"
    assert entry["organization"] == "acme"
    assert entry["actor"] == "token rst_ab12"
    assert entry["event"] == "user.created"
    assert entry["time"].endswith("+00:00")


def test_a_log_line_outside_a_request_has_a_placeholder_request_id(json_log):
    logging.getLogger("roster.test").warning("started")
    [entry] = _entries(json_log)
    assert entry["request_id"] == "-"
    assert "organization" not in entry
    assert "actor" not in entry


def test_an_exception_stays_on_one_line(json_log):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("roster.test").exception("failed")
    [line] = json_log.getvalue().splitlines()
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_failed_console_login_logs_never_contain_the_password(client, org_admin, json_log):
    password = "Secret-Passw0rd-from-the-form"
    response = client.post("/console/login/", {"email": "admin@acme.example", "password": password})
    assert response.status_code == 400
    entries = _entries(json_log)
    assert any(e.get("event") == "console.login_failed" for e in entries)
    assert {e["request_id"] for e in entries} == {response["X-Request-ID"]}
    assert password not in json_log.getvalue()


def test_throttled_and_successful_console_logins_never_log_the_password(
    client, org_admin, json_log, settings
):
    settings.CONSOLE_LOGIN_RATE = "1/m"
    client.post("/console/login/", {"email": "admin@acme.example", "password": ADMIN_PASSWORD})
    client.post("/console/login/", {"email": "admin@acme.example", "password": "wrong-000000"})
    throttled = client.post(
        "/console/login/", {"email": "admin@acme.example", "password": ADMIN_PASSWORD}
    )
    assert throttled.status_code == 429
    entries = _entries(json_log)
    assert any(e.get("event") == "console.login_throttled" for e in entries)
    assert ADMIN_PASSWORD not in json_log.getvalue()
