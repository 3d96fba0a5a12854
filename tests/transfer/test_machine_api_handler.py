"""The machine-to-machine APIs' own middleware (config.wsgi.MachineApiHandler): what the
file servers' requests go through in production, which Django's test client does not
use, so these call the WSGI application itself."""

import io
import json

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from config import wsgi


@pytest.fixture
def application():
    """config.wsgi.application, without closing the test's connection between requests
    (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield wsgi.application
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call(application, path, *, method="GET", body=b"", host="testserver", **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    chunks = application(environ, start_response)
    answer["body"] = b"".join(chunks)
    chunks.close()
    return answer


def test_a_decision_goes_through_the_api_middleware_only(
    application, org_key, bob, bob_password, transfer_on
):
    body = json.dumps(
        {"username": "bob@acme.example", "protocol": "sftp", "password": bob_password[1]}
    ).encode()

    answer = call(
        application,
        "/transfer/v1/authenticate",
        method="POST",
        body=body,
        authorization=f"Bearer {org_key[1]}",
    )

    assert answer["status"] == 200, answer["body"]
    assert json.loads(answer["body"])["allowed"] is True
    headers = answer["headers"]
    # The API's middleware: the request id, the security headers, the policy.
    assert len(headers["X-Request-ID"]) == 32
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    # A browser's is not run: no session, no CSRF cookie, no framing header.
    assert "Set-Cookie" not in headers
    assert "X-Frame-Options" not in headers


def test_the_api_checks_allowed_hosts(application, org_key):
    answer = call(
        application,
        "/transfer/v1/authorized_keys",
        host="attacker.example",
        authorization=f"Bearer {org_key[1]}",
    )

    assert answer["status"] == 400


def test_every_other_path_goes_through_the_whole_middleware(application, db):
    answer = call(application, "/console/login/")

    assert answer["status"] == 200
    assert answer["headers"]["X-Frame-Options"] == "DENY"
    assert "csrftoken" in answer["headers"].get("Set-Cookie", "")


def test_building_the_api_handler_leaves_the_site_middleware_as_it_was(settings):
    before = list(settings.MIDDLEWARE)

    handler = wsgi.MachineApiHandler()

    assert list(settings.MIDDLEWARE) == before
    assert handler._middleware_chain is not None
    assert settings.MACHINE_API_PATHS == ["/transfer/v1/"]
