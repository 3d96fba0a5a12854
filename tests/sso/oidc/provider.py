"""An OpenID Provider the tests control: discovery, JWKS, token and userinfo endpoints on
127.0.0.1, signing ID tokens with keys the tests hold, answering whatever a test sets.

Roster reaches it through its real outbound path (sso.oidc.fetch, with
OIDC_ALLOW_LOOPBACK): only what the provider says is scripted, never Roster's side.
"""

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import RSAKey


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


class ControlledProvider:
    CLIENT_ID = "roster-test-client"
    CLIENT_SECRET = "a-client-secret-the-provider-checks"
    ACCESS_TOKEN = "an-access-token"

    def __init__(self):
        self.keys = [new_key("key-1")]
        self.signing_key = self.keys[0]
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.claims: dict = {}
        self.header: dict = {}
        self.token_answer = None  # (status, body) to answer instead of an ID token
        self.userinfo: dict | None = None
        self.status_for: dict[str, int] = {}
        self.discovery_overrides: dict = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    # -- What it publishes --------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "backchannel_logout_supported": True,
            **self.discovery_overrides,
        }

    def jwks(self) -> dict:
        return {"keys": [key.as_dict(private=False) for key in self.keys]}

    def rotate(self) -> RSAKey:
        key = new_key(f"key-{len(self.keys) + 1}")
        self.keys.append(key)
        self.signing_key = key
        return key

    # -- Tokens -------------------------------------------------------------------------

    def token(self, claims: dict, *, key: RSAKey | None = None, header: dict | None = None) -> str:
        key = key or self.signing_key
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, claims, key)

    def id_token_claims(self, nonce: str, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.CLIENT_ID,
            "sub": "00u-jane",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "sid": "provider-session-1",
            "preferred_username": "jane.doe@acme.example",
            "email": "jane.doe@acme.example",
            "email_verified": True,
            "at_hash": at_hash(self.ACCESS_TOKEN),
        }
        claims.update(self.claims)
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def logout_token(self, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": f"jti-{time.monotonic_ns()}",
            "sub": "00u-jane",
            "sid": "provider-session-1",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        claims.update(overrides)
        return self.token({name: value for name, value in claims.items() if value is not None})

    # -- The HTTP side ------------------------------------------------------------------

    def _answer_token(self, form: dict) -> tuple[int, dict]:
        if self.token_answer is not None:
            return self.token_answer
        nonce = self.pending_nonce
        body = {
            "access_token": self.ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.token(self.id_token_claims(nonce), header=self.header),
        }
        return 200, body

    pending_nonce = ""

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?")[0]
                provider.requests.append(("GET", path, dict(self.headers), {}))
                if path in provider.status_for:
                    return self._send(provider.status_for[path], {"error": "server_error"})
                if path == "/.well-known/openid-configuration":
                    return self._send(200, provider.discovery())
                if path == "/jwks":
                    return self._send(200, provider.jwks())
                if path == "/userinfo":
                    return self._send(200, provider.userinfo or {})
                return self._send(404, {"error": "not_found"})

            def do_POST(self):
                path = self.path.split("?")[0]
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.requests.append(("POST", path, dict(self.headers), form))
                if path in provider.status_for:
                    return self._send(provider.status_for[path], {"error": "server_error"})
                if path == "/token":
                    return self._send(*provider._answer_token(form))
                return self._send(404, {"error": "not_found"})

        return Handler

    def posts_to(self, path: str) -> list[dict]:
        return [form for method, p, _, form in self.requests if method == "POST" and p == path]
