"""A provider on 127.0.0.1 that the tests script, its keys, and a resolver that never asks DNS."""

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from accounts.events.webhooks import addresses
from sso.oidc import fetch
from sso.oidc.jwks import ProviderKeys

CLIENT_ID = "roster-client"
ISSUER = "https://idp.example.com"
NOW = 1_750_000_000


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict = field(default_factory=lambda: {"Content-Type": "application/json"})
    # Seconds to wait before answering, and between the body's bytes (a slow drip).
    delay: float = 0.0
    drip: float = 0.0


def json_answer(document, status=200) -> Answer:
    return Answer(status=status, body=json.dumps(document).encode())


class Provider:
    """Routes a path to an Answer (or to a callable making one) and records each request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def hits(self, path: str) -> int:
        return sum(1 for request in self.requests if request["path"] == path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._answer()

            def do_POST(self):
                self._answer()

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                provider.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": self.headers,
                        "body": body,
                    }
                )
                route = provider.routes.get(self.path, Answer(status=404, body=b"not here"))
                answer = route() if callable(route) else route
                time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    if not answer.drip:
                        self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    if answer.drip:
                        for index in range(len(answer.body)):
                            self.wfile.write(answer.body[index : index + 1])
                            self.wfile.flush()
                            time.sleep(answer.drip)
                    else:
                        self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def dns(monkeypatch):
    """Names resolve from this table only; no test asks real DNS."""
    table = {}

    def resolve(hostname):
        return table.get(hostname, [])

    monkeypatch.setattr(addresses, "resolve_addresses", resolve)
    return table


@pytest.fixture
def loopback(settings, dns):
    settings.OIDC_ALLOW_LOOPBACK = True


@pytest.fixture
def provider(loopback):
    server = Provider()
    yield server
    server.close()


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no request may leave for a refused URL")

    monkeypatch.setattr(fetch.httpx, "AsyncClient", refuse)


@pytest.fixture(scope="session")
def rsa_key():
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)


@pytest.fixture(scope="session")
def other_rsa_key():
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)


@pytest.fixture(scope="session")
def ec_key():
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True)


def public_jwk(key, **params) -> dict:
    return key.as_dict(private=False, **params)


@pytest.fixture
def jwks(provider, rsa_key, ec_key):
    """The provider's JWKS at /jwks, editable by the test."""
    document = {"keys": [public_jwk(rsa_key, use="sig"), public_jwk(ec_key, use="sig")]}
    provider.routes["/jwks"] = lambda: json_answer(document)
    return document


@pytest.fixture
def provider_keys(provider, jwks):
    return ProviderKeys(cache_key="connection-1", jwks_uri=provider.url + "/jwks")


@pytest.fixture
def sign(rsa_key):
    """An ID token signed by the provider: its standard claims, with `changes` applied
    (a None value removes the claim)."""

    def sign(changes=None, *, key=rsa_key, alg="RS256", header=None, issuer=None):
        claims = {
            "iss": issuer or ISSUER,
            "sub": "248289761001",
            "aud": CLIENT_ID,
            "iat": NOW,
            "exp": NOW + 300,
            "nonce": "n-0S6_WzA2Mj",
        }
        for name, value in (changes or {}).items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        protected = {"alg": alg, "kid": key.kid, **(header or {})}
        protected = {name: value for name, value in protected.items() if value is not None}
        return jwt.encode(protected, claims, key, algorithms=[alg])

    return sign


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge(header: dict, claims: dict, sign_with=lambda signing_input: b"") -> str:
    """A hand-built compact JWS, for tokens no honest library would make."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign_with(signing_input.encode()))}"
