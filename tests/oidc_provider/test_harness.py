"""The test OpenID Provider is real: discovery, JWKS, the authorization code flow with PKCE
through its development login and consent pages, key rotation and back-channel logout,
driven with plain httpx as a relying party would."""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.oidc_provider import harness
from tests.oidc_provider.harness import forms, sign_in

REDIRECT_URI = "http://127.0.0.1:8000/sso/oidc/callback/"
POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1:8000/signin/"
CLIENT = {
    "client_id": "roster",
    "client_secret": "roster-client-secret",
    "redirect_uris": [REDIRECT_URI],
    "post_logout_redirect_uris": [POST_LOGOUT_REDIRECT_URI],
}
ALICE = {
    "email": "alice@acme.example",
    "email_verified": True,
    "preferred_username": "alice",
    "given_name": "Alice",
    "family_name": "Liddell",
    "name": "Alice Liddell",
}
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture(scope="module")
def shared_provider(module_oidc_provider_factory):
    """One provider for the tests that change nothing in it but their own sign-ins."""
    return module_oidc_provider_factory(clients=[CLIENT], accounts={"alice": ALICE})


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def jwt_parts(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


def verify_rs256(token: str, jwks: dict) -> dict:
    """The payload of a JWT whose RS256 signature verifies with the JWKS key of its kid."""
    header, payload = jwt_parts(token)
    assert header["alg"] == "RS256"
    [jwk] = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(b64url_decode(jwk["e"])), int.from_bytes(b64url_decode(jwk["n"]))
    ).public_key()
    signing_input, signature = token.rsplit(".", 1)
    public_key.verify(
        b64url_decode(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    return payload


def discover(http: httpx.Client, provider: harness.Provider) -> dict:
    return http.get(f"{provider.issuer}/.well-known/openid-configuration").json()


def authorization_request(
    http: httpx.Client, provider: harness.Provider, client_id: str = CLIENT["client_id"]
) -> dict:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
    )
    authorization_endpoint = discover(http, provider)["authorization_endpoint"]
    return {
        "url": f"{authorization_endpoint}?{query}",
        "verifier": verifier,
        "state": state,
        "nonce": nonce,
    }


def authorize(
    http: httpx.Client,
    provider: harness.Provider,
    *,
    login: str,
    client_id: str = CLIENT["client_id"],
) -> dict:
    """Signs in as `login`; returns the callback's query and what the exchange needs."""
    request = authorization_request(http, provider, client_id)
    callback = sign_in(http, request["url"], redirect_uri=REDIRECT_URI, login=login)
    params = {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}
    return {**request, "callback": params}


def exchange(
    http: httpx.Client,
    provider: harness.Provider,
    code: str,
    verifier: str,
    *,
    client_auth: dict | None = None,
) -> httpx.Response:
    """The token request; client_secret_basic with CLIENT unless `client_auth` gives the
    request's other client authentication (form fields)."""
    return http.post(
        discover(http, provider)["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            **(client_auth or {}),
        },
        auth=None if client_auth else (CLIENT["client_id"], CLIENT["client_secret"]),
    )


def sign_in_and_get_id_token(http: httpx.Client, provider: harness.Provider, login: str) -> str:
    flow = authorize(http, provider, login=login)
    response = exchange(http, provider, flow["callback"]["code"], flow["verifier"])
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def test_the_discovery_document_describes_the_provider(shared_provider, http):
    issuer = shared_provider.issuer
    document = discover(http, shared_provider)

    assert issuer.startswith("http://127.0.0.1:")
    assert {
        key: document[key]
        for key in (
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
            "response_types_supported",
            "code_challenge_methods_supported",
            "id_token_signing_alg_values_supported",
            "token_endpoint_auth_methods_supported",
            "scopes_supported",
            "backchannel_logout_supported",
            "backchannel_logout_session_supported",
        )
    } == {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/me",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/session/end",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "scopes_supported": ["openid", "email", "profile"],
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


def test_the_jwks_publishes_the_rs256_signing_key(shared_provider, http):
    jwks = http.get(discover(http, shared_provider)["jwks_uri"]).json()

    assert [(key["kid"], key["kty"], key["alg"], key["use"]) for key in jwks["keys"]] == [
        (shared_provider.kids[0], "RSA", "RS256", "sig")
    ]
    assert {"d", "p", "q"}.isdisjoint(jwks["keys"][0])


def test_the_code_flow_with_pkce_gives_an_id_token_signed_with_a_published_key(
    shared_provider, http
):
    flow = authorize(http, shared_provider, login="alice")
    assert flow["callback"] == {
        "code": flow["callback"]["code"],
        "state": flow["state"],
        "iss": shared_provider.issuer,
    }

    response = exchange(http, shared_provider, flow["callback"]["code"], flow["verifier"])

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert (tokens["token_type"], tokens["scope"]) == ("Bearer", "openid email profile")
    jwks = http.get(f"{shared_provider.issuer}/jwks").json()
    claims = verify_rs256(tokens["id_token"], jwks)
    assert jwt_parts(tokens["id_token"])[0]["kid"] == shared_provider.kids[0]
    assert {key: claims[key] for key in ("iss", "aud", "sub", "nonce", *ALICE)} == {
        "iss": shared_provider.issuer,
        "aud": "roster",
        "sub": "alice",
        "nonce": flow["nonce"],
        **ALICE,
    }


def test_the_admin_endpoints_refuse_a_request_without_the_admin_token(shared_provider, http):
    response = http.post(f"{shared_provider.admin_url}/rotate-keys", json={})

    assert (response.status_code, response.json()) == (401, {"error": "invalid admin token"})
    assert len(shared_provider.kids) == 1


def test_the_sign_in_pages_load_nothing_from_outside_the_machine(shared_provider, http):
    to_interaction = http.get(authorization_request(http, shared_provider)["url"])

    login_page = http.get(f"{shared_provider.issuer}{to_interaction.headers['location']}")

    assert login_page.headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:"
    )
    assert ("@import" in login_page.text, "https://" in login_page.text) == (False, False)


def test_a_client_secret_post_client_exchanges_its_code(oidc_provider_factory, http):
    client = {**CLIENT, "token_endpoint_auth_method": "client_secret_post"}
    provider = oidc_provider_factory(clients=[client])
    flow = authorize(http, provider, login="alice")

    response = exchange(
        http,
        provider,
        flow["callback"]["code"],
        flow["verifier"],
        client_auth={"client_id": "roster", "client_secret": client["client_secret"]},
    )

    assert response.status_code == 200, response.text
    assert jwt_parts(response.json()["id_token"])[1]["aud"] == "roster"


def client_assertion(private_key: rsa.RSAPrivateKey, kid: str, audience: str) -> str:
    """RFC 7523 §3: a JWT the client signs with its own key to authenticate."""
    now = int(time.time())
    header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
    claims = {
        "iss": "roster",
        "sub": "roster",
        "aud": audience,
        "jti": secrets.token_urlsafe(16),
        "iat": now,
        "exp": now + 60,
    }
    signing_input = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
        for part in (header, claims)
    )
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_a_private_key_jwt_client_with_inline_jwks_exchanges_its_code(oidc_provider_factory, http):
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private_key.public_key().public_numbers()
    public_jwk = {
        "kty": "RSA",
        "kid": "roster-client-key",
        "use": "sig",
        "alg": "RS256",
        "n": base64.urlsafe_b64encode(numbers.n.to_bytes(256)).rstrip(b"=").decode(),
        "e": base64.urlsafe_b64encode(numbers.e.to_bytes(3)).rstrip(b"=").decode(),
    }
    client = {
        "client_id": "roster",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [public_jwk]},
    }
    provider = oidc_provider_factory(clients=[client])
    flow = authorize(http, provider, login="alice")
    token_endpoint = discover(http, provider)["token_endpoint"]

    response = exchange(
        http,
        provider,
        flow["callback"]["code"],
        flow["verifier"],
        client_auth={
            "client_id": "roster",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(private_key, "roster-client-key", token_endpoint),
        },
    )

    assert response.status_code == 200, response.text
    assert jwt_parts(response.json()["id_token"])[1]["aud"] == "roster"


def test_an_account_missing_from_the_table_gets_claims_derived_from_its_id(shared_provider, http):
    claims = jwt_parts(sign_in_and_get_id_token(http, shared_provider, "bob"))[1]

    assert {key: claims[key] for key in ("sub", *ALICE)} == {
        "sub": "bob",
        "email": "bob@example.com",
        "email_verified": True,
        "preferred_username": "bob",
        "given_name": "bob",
        "family_name": "Example",
        "name": "bob Example",
    }


def test_an_authorization_code_is_single_use(shared_provider, http):
    flow = authorize(http, shared_provider, login="alice")
    first = exchange(http, shared_provider, flow["callback"]["code"], flow["verifier"])

    second = exchange(http, shared_provider, flow["callback"]["code"], flow["verifier"])

    assert first.status_code == 200
    assert (second.status_code, second.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "grant request is invalid"},
    )


def test_the_code_exchange_needs_the_pkce_verifier(shared_provider, http):
    flow = authorize(http, shared_provider, login="alice")

    response = exchange(http, shared_provider, flow["callback"]["code"], secrets.token_urlsafe(48))

    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "grant request is invalid"},
    )


def test_key_rotation_signs_the_next_id_token_with_the_new_key(oidc_provider_factory, http):
    provider = oidc_provider_factory(clients=[CLIENT])
    [old_kid] = provider.kids
    before = sign_in_and_get_id_token(http, provider, "alice")

    new_kid = provider.rotate_keys()
    after = sign_in_and_get_id_token(http, provider, "alice")

    jwks = http.get(f"{provider.issuer}/jwks").json()
    assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_kid] == provider.kids
    assert (jwt_parts(before)[0]["kid"], jwt_parts(after)[0]["kid"]) == (old_kid, new_kid)
    assert verify_rs256(after, jwks)["sub"] == verify_rs256(before, jwks)["sub"] == "alice"


def test_key_rotation_can_drop_the_old_key(oidc_provider_factory, http):
    provider = oidc_provider_factory(clients=[CLIENT])

    new_kid = provider.rotate_keys(drop_old=True)

    jwks = http.get(f"{provider.issuer}/jwks").json()
    assert [key["kid"] for key in jwks["keys"]] == [new_kid] == provider.kids


class BackchannelLogoutReceiver:
    """The client's backchannel_logout_uri: records each POST's form fields, answers 200."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                receiver.received.append(
                    {
                        "path": self.path,
                        "content_type": self.headers["Content-Type"],
                        "form": parse_qs(body),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/sso/oidc/backchannel-logout/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backchannel_receiver() -> Iterator[BackchannelLogoutReceiver]:
    receiver = BackchannelLogoutReceiver()
    yield receiver
    receiver.close()


def assert_one_logout_token_for(receiver, provider, http, *, sub: str, sid: str) -> None:
    [request] = receiver.received
    assert (request["path"], request["content_type"]) == (
        "/sso/oidc/backchannel-logout/",
        "application/x-www-form-urlencoded",
    )
    [logout_token] = request["form"]["logout_token"]
    header, _ = jwt_parts(logout_token)
    claims = verify_rs256(logout_token, http.get(f"{provider.issuer}/jwks").json())
    assert header["typ"] == "logout+jwt"
    assert {key: claims[key] for key in ("iss", "aud", "sub", "sid", "events")} == {
        "iss": provider.issuer,
        "aud": "roster",
        "sub": sub,
        "sid": sid,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    assert "nonce" not in claims


def test_ending_an_accounts_sessions_sends_a_backchannel_logout(
    oidc_provider_factory, backchannel_receiver, http
):
    client = {**CLIENT, "backchannel_logout_uri": backchannel_receiver.uri}
    provider = oidc_provider_factory(clients=[client])
    sid = jwt_parts(sign_in_and_get_id_token(http, provider, "alice"))[1]["sid"]

    answer = provider.end_sessions("alice")

    assert answer == {
        "sessions": 1,
        "backchannel_logout": [{"client_id": "roster", "sid": sid, "ok": True}],
    }
    assert_one_logout_token_for(backchannel_receiver, provider, http, sub="alice", sid=sid)
    to_interaction = http.get(authorization_request(http, provider)["url"])
    interaction = http.get(f"{provider.issuer}{to_interaction.headers['location']}")
    assert [form.fields["prompt"] for form in forms(interaction.text)] == ["login"]


def test_rp_initiated_logout_sends_a_backchannel_logout(
    oidc_provider_factory, backchannel_receiver, http
):
    client = {**CLIENT, "backchannel_logout_uri": backchannel_receiver.uri}
    provider = oidc_provider_factory(clients=[client])
    id_token = sign_in_and_get_id_token(http, provider, "alice")
    sid = jwt_parts(id_token)[1]["sid"]
    end_session = http.get(
        discover(http, provider)["end_session_endpoint"],
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": POST_LOGOUT_REDIRECT_URI,
            "state": "after-logout",
        },
    )
    [form] = forms(end_session.text)

    confirmed = http.post(
        f"{provider.issuer}{form.action}" if form.action.startswith("/") else form.action,
        data={**form.fields, "logout": "yes"},
    )

    assert (confirmed.status_code, confirmed.headers["location"]) == (
        303,
        f"{POST_LOGOUT_REDIRECT_URI}?state=after-logout",
    )
    assert_one_logout_token_for(backchannel_receiver, provider, http, sub="alice", sid=sid)


def test_a_missing_node_runtime_fails_the_test_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "NODE_MODULES", tmp_path)
    monkeypatch.setattr(harness, "IN_CI", True)

    with pytest.raises(pytest.fail.Exception, match=r"tests/oidc_provider/node_modules"):
        harness.require_node()


def test_a_missing_node_runtime_skips_the_test_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "NODE_MODULES", tmp_path)
    monkeypatch.setattr(harness, "IN_CI", False)

    with pytest.raises(pytest.skip.Exception, match=r"`make browser-js` installs"):
        harness.require_node()


def test_a_provider_that_cannot_start_reports_its_stderr(oidc_provider_factory):
    client = {**CLIENT, "frontchannel_logout_uri": "http://127.0.0.1:8000/frontchannel/"}

    with pytest.raises(harness.ProviderFailedToStart, match="does not implement Front-Channel"):
        oidc_provider_factory(clients=[client])
