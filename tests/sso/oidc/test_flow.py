"""The authorization code flow: the request, the code exchange, userinfo and logout."""

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from sso.errors import LoginRefused, OidcConfigurationError
from sso.oidc import keys
from sso.oidc.flow import (
    ClientAuth,
    Tokens,
    end_session_url,
    exchange_code,
    fetch_userinfo,
    new_authorization,
)
from tests.sso.oidc.conftest import CLIENT_ID, json_answer

REDIRECT_URI = "https://roster.example.com/sso/acme/oidc/callback/"


def query_of(url: str) -> dict:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


class TestAuthorization:
    def test_the_request_carries_code_pkce_state_and_nonce(self):
        authorization = new_authorization(
            authorization_endpoint="https://idp.example.com/authorize",
            client_id=CLIENT_ID,
            redirect_uri=REDIRECT_URI,
            login_hint="jane@acme.example",
        )
        challenge = hashlib.sha256(authorization.code_verifier.encode()).digest()
        assert authorization.url.startswith("https://idp.example.com/authorize?")
        assert query_of(authorization.url) == {
            "response_type": "code",
            "response_mode": "query",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email profile",
            "state": authorization.state,
            "nonce": authorization.nonce,
            "code_challenge": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            "login_hint": "jane@acme.example",
        }

    def test_state_nonce_and_verifier_are_fresh_and_long(self):
        first, second = (
            new_authorization(
                authorization_endpoint="https://idp.example.com/authorize",
                client_id=CLIENT_ID,
                redirect_uri=REDIRECT_URI,
            )
            for _ in range(2)
        )
        # 32 random bytes, base64url: 43 characters, 256 bits.
        assert (len(first.state), len(first.nonce)) == (43, 43)
        assert 43 <= len(first.code_verifier) <= 128
        assert {first.state, first.nonce, first.code_verifier}.isdisjoint(
            {second.state, second.nonce, second.code_verifier}
        )
        assert "login_hint" not in query_of(first.url)

    def test_the_endpoints_own_query_is_kept(self):
        authorization = new_authorization(
            authorization_endpoint="https://idp.example.com/authorize?p=B2C_1_signin&client_id=x",
            client_id=CLIENT_ID,
            redirect_uri=REDIRECT_URI,
        )
        query = parse_qs(urlsplit(authorization.url).query)
        assert query["p"] == ["B2C_1_signin"]
        assert query["client_id"] == [CLIENT_ID]

    def test_a_scope_without_openid_is_refused(self):
        with pytest.raises(OidcConfigurationError):
            new_authorization(
                authorization_endpoint="https://idp.example.com/authorize",
                client_id=CLIENT_ID,
                redirect_uri=REDIRECT_URI,
                scope="email profile",
            )


@pytest.fixture
def token_endpoint(provider):
    provider.routes["/token"] = json_answer(
        {"id_token": "header.claims.signature", "access_token": "at-1", "token_type": "Bearer"}
    )
    return provider.url + "/token"


def exchange(token_endpoint, client):
    return exchange_code(
        token_endpoint=token_endpoint,
        client=client,
        code="code-1",
        redirect_uri=REDIRECT_URI,
        code_verifier="verifier-1",
    )


def sent_form(provider) -> dict:
    return {
        name: values[0] for name, values in parse_qs(provider.requests[-1]["body"].decode()).items()
    }


class TestCodeExchange:
    def test_client_secret_basic(self, provider, token_endpoint):
        client = ClientAuth(client_id=CLIENT_ID, method="client_secret_basic", secret="s3cret")
        assert exchange(token_endpoint, client) == Tokens(
            id_token="header.claims.signature", access_token="at-1"
        )
        assert sent_form(provider) == {
            "grant_type": "authorization_code",
            "code": "code-1",
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "verifier-1",
        }
        authorization = provider.requests[-1]["headers"]["Authorization"]
        assert (
            base64.b64decode(authorization.removeprefix("Basic ")) == f"{CLIENT_ID}:s3cret".encode()
        )

    def test_client_secret_post(self, provider, token_endpoint):
        client = ClientAuth(client_id=CLIENT_ID, method="client_secret_post", secret="s3cret")
        exchange(token_endpoint, client)
        form = sent_form(provider)
        assert (form["client_id"], form["client_secret"]) == (CLIENT_ID, "s3cret")
        assert "Authorization" not in provider.requests[-1]["headers"]

    def test_private_key_jwt(self, provider, token_endpoint):
        kid, pem = keys.new_signing_key()
        client = ClientAuth(
            client_id=CLIENT_ID, method="private_key_jwt", private_key_pem=pem, key_id=kid
        )
        before = int(time.time())
        exchange(token_endpoint, client)
        form = sent_form(provider)
        assert form["client_assertion_type"] == (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )
        published = RSAKey.import_key(keys.public_jwks([(kid, pem)])["keys"][0])
        assertion = jwt.decode(form["client_assertion"], published, algorithms=["RS256"])
        assert assertion.header == {"typ": "JWT", "alg": "RS256", "kid": kid}
        claims = assertion.claims
        assert (claims["iss"], claims["sub"], claims["aud"]) == (
            CLIENT_ID,
            CLIENT_ID,
            token_endpoint,
        )
        assert claims["exp"] - claims["iat"] == 60
        assert before <= claims["iat"] <= int(time.time())
        assert len(claims["jti"]) >= 32
        assert form["client_id"] == CLIENT_ID

    def test_a_rejected_code(self, provider, token_endpoint):
        provider.routes["/token"] = json_answer(
            {"error": "invalid_grant", "error_description": "code code-1 was used"}, status=400
        )
        client = ClientAuth(client_id=CLIENT_ID, method="client_secret_basic", secret="s")
        with pytest.raises(LoginRefused) as refused:
            exchange(token_endpoint, client)
        assert (refused.value.reason, refused.value.detail) == ("code_rejected", "")

    def test_another_oauth_error_keeps_only_its_code(self, provider, token_endpoint):
        provider.routes["/token"] = json_answer(
            {"error": "invalid_client", "error_description": "secret s3cret is wrong"}, status=401
        )
        client = ClientAuth(client_id=CLIENT_ID, method="client_secret_basic", secret="s3cret")
        with pytest.raises(LoginRefused) as refused:
            exchange(token_endpoint, client)
        assert (refused.value.reason, refused.value.detail) == ("provider_error", "invalid_client")

    def test_an_error_answer_without_an_error_code(self, provider, token_endpoint):
        provider.routes["/token"] = json_answer({"message": "no"}, status=400)
        client = ClientAuth(client_id=CLIENT_ID, method="client_secret_basic", secret="s")
        with pytest.raises(LoginRefused) as refused:
            exchange(token_endpoint, client)
        assert (refused.value.reason, refused.value.detail) == ("provider_error", "HTTP 400")

    def test_an_answer_without_an_id_token(self, provider, token_endpoint):
        provider.routes["/token"] = json_answer({"access_token": "at-1", "token_type": "Bearer"})
        client = ClientAuth(client_id=CLIENT_ID, method="client_secret_basic", secret="s")
        with pytest.raises(LoginRefused) as refused:
            exchange(token_endpoint, client)
        assert refused.value.reason == "no_id_token"

    def test_an_unknown_method_is_a_configuration_error(self, provider, token_endpoint):
        client = ClientAuth(client_id=CLIENT_ID, method="tls_client_auth")
        with pytest.raises(OidcConfigurationError):
            exchange(token_endpoint, client)
        assert provider.requests == []


class TestUserinfo:
    def test_userinfo_is_read_with_the_access_token(self, provider):
        provider.routes["/userinfo"] = json_answer({"sub": "248289761001", "email": "j@a.example"})
        claims = fetch_userinfo(
            userinfo_endpoint=provider.url + "/userinfo",
            access_token="at-1",
            expected_sub="248289761001",
        )
        assert claims == {"sub": "248289761001", "email": "j@a.example"}
        assert provider.requests[0]["headers"]["Authorization"] == "Bearer at-1"

    @pytest.mark.parametrize("answer", [{"sub": "someone-else"}, {"email": "j@a.example"}])
    def test_another_or_no_sub_is_refused(self, provider, answer):
        provider.routes["/userinfo"] = json_answer(answer)
        with pytest.raises(LoginRefused) as refused:
            fetch_userinfo(
                userinfo_endpoint=provider.url + "/userinfo",
                access_token="at-1",
                expected_sub="248289761001",
            )
        assert refused.value.reason == "userinfo_sub_mismatch"


class TestEndSession:
    def test_every_parameter_given_is_sent(self):
        url = end_session_url(
            end_session_endpoint="https://idp.example.com/logout?tenant=acme",
            id_token_hint="eyJ.hint.sig",
            post_logout_redirect_uri="https://roster.example.com/sso/acme/slo/",
            state="st-1",
            client_id=CLIENT_ID,
        )
        assert url.startswith("https://idp.example.com/logout?")
        assert query_of(url) == {
            "tenant": "acme",
            "id_token_hint": "eyJ.hint.sig",
            "post_logout_redirect_uri": "https://roster.example.com/sso/acme/slo/",
            "state": "st-1",
            "client_id": CLIENT_ID,
        }

    def test_parameters_left_empty_are_not_sent(self):
        url = end_session_url(
            end_session_endpoint="https://idp.example.com/logout",
            id_token_hint="eyJ.hint.sig",
            post_logout_redirect_uri="",
        )
        assert query_of(url) == {"id_token_hint": "eyJ.hint.sig"}
