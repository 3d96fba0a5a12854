"""ID tokens and logout tokens: a valid one passes, each hostile one fails for its reason."""

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jws, jwt
from joserfc.jwk import OctKey, RSAKey

from sso.errors import LoginRefused
from sso.oidc.tokens import (
    BACKCHANNEL_LOGOUT_EVENT,
    MAX_TOKEN_BYTES,
    IdToken,
    LogoutToken,
    validate_id_token,
    validate_logout_token,
)
from tests.sso.oidc.conftest import CLIENT_ID, ISSUER, NOW, b64url, forge, public_jwk

NONCE = "n-0S6_WzA2Mj"


def validate(token, keys, **overrides):
    options = {"issuer": ISSUER, "client_id": CLIENT_ID, "keys": keys, "nonce": NONCE, "now": NOW}
    return validate_id_token(token, **(options | overrides))


def reason_of(token, keys, **overrides) -> str:
    with pytest.raises(LoginRefused) as refused:
        validate(token, keys, **overrides)
    return refused.value.reason


def test_a_valid_id_token_passes(sign, provider_keys):
    token = sign({"email": "jane@acme.example", "sid": "s-1", "email_verified": True})
    assert validate(token, provider_keys) == IdToken(
        sub="248289761001",
        issuer=ISSUER,
        audience=(CLIENT_ID,),
        issued_at=NOW,
        expires_at=NOW + 300,
        nonce=NONCE,
        sid="s-1",
        claims={
            "iss": ISSUER,
            "sub": "248289761001",
            "aud": CLIENT_ID,
            "iat": NOW,
            "exp": NOW + 300,
            "nonce": NONCE,
            "email": "jane@acme.example",
            "sid": "s-1",
            "email_verified": True,
        },
    )


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_the_other_allowed_algorithms_pass(sign, provider_keys, ec_key, alg):
    token = sign(alg=alg, key=ec_key) if alg == "ES256" else sign(alg=alg)
    assert validate(token, provider_keys).sub == "248289761001"


def test_alg_none_is_refused(provider_keys):
    token = forge({"alg": "none", "kid": "rsa-1"}, {"iss": ISSUER, "aud": CLIENT_ID, "sub": "x"})
    assert reason_of(token, provider_keys) == "alg_not_allowed"


def test_hs256_signed_with_the_providers_public_key_is_refused(provider_keys, rsa_key):
    # The key confusion attack: the public key's bytes used as an HMAC secret.
    public_pem = rsa_key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "x", "iat": NOW, "exp": NOW + 60}
    token = forge(
        {"alg": "HS256", "kid": "rsa-1"},
        {**claims, "nonce": NONCE},
        lambda signing_input: hmac.new(public_pem, signing_input, hashlib.sha256).digest(),
    )
    assert reason_of(token, provider_keys) == "alg_not_allowed"


def test_an_oct_key_in_the_jwks_never_verifies(provider_keys, jwks):
    secret = OctKey.generate_key(256, parameters={"kid": "oct-1"})
    jwks["keys"].append(secret.as_dict(private=True))
    hs256 = jwt.encode({"alg": "HS256", "kid": "oct-1"}, {"nonce": NONCE}, secret, ["HS256"])
    assert reason_of(hs256, provider_keys) == "alg_not_allowed"
    # The same kid under an allowed alg finds no key: oct keys are never candidates.
    rs256 = forge({"alg": "RS256", "kid": "oct-1"}, {"nonce": NONCE}, lambda _: b"x" * 256)
    assert reason_of(rs256, provider_keys) == "unknown_kid"


def test_a_token_for_another_client_is_refused(sign, provider_keys):
    assert reason_of(sign({"aud": "other-client"}), provider_keys) == "wrong_audience"


def test_an_audience_list_naming_this_client_with_azp_passes(sign, provider_keys):
    token = sign({"aud": [CLIENT_ID, "api"], "azp": CLIENT_ID})
    assert validate(token, provider_keys).audience == (CLIENT_ID, "api")


def test_an_audience_list_without_azp_is_refused(sign, provider_keys):
    assert reason_of(sign({"aud": [CLIENT_ID, "api"]}), provider_keys) == "azp_mismatch"


def test_an_azp_naming_another_client_is_refused(sign, provider_keys):
    assert reason_of(sign({"azp": "other-client"}), provider_keys) == "azp_mismatch"


def test_another_issuer_is_refused(sign, provider_keys):
    assert reason_of(sign({"iss": ISSUER + "/"}), provider_keys) == "wrong_issuer"


def test_an_expired_token_is_refused_past_the_skew(sign, provider_keys):
    assert validate(sign({"exp": NOW - 59}), provider_keys).expires_at == NOW - 59
    assert reason_of(sign({"exp": NOW - 60}), provider_keys) == "expired"


def test_a_token_issued_in_the_future_is_refused_past_the_skew(sign, provider_keys):
    assert validate(sign({"iat": NOW + 60}), provider_keys).issued_at == NOW + 60
    assert reason_of(sign({"iat": NOW + 61}), provider_keys) == "issued_in_future"


def test_a_token_not_yet_valid_is_refused(sign, provider_keys):
    assert reason_of(sign({"nbf": NOW + 3600}), provider_keys) == "not_yet_valid"


def test_a_wrong_nonce_is_refused(sign, provider_keys):
    assert reason_of(sign({"nonce": "another-nonce"}), provider_keys) == "nonce_mismatch"


def test_a_missing_nonce_is_refused(sign, provider_keys):
    assert reason_of(sign({"nonce": None}), provider_keys) == "nonce_missing"


def test_an_empty_expected_nonce_matches_nothing(sign, provider_keys):
    assert reason_of(sign({"nonce": ""}), provider_keys, nonce="") == "nonce_missing"
    assert reason_of(sign(), provider_keys, nonce="") == "nonce_mismatch"


@pytest.mark.parametrize("name", ["iss", "sub", "aud", "exp", "iat"])
def test_each_required_claim_is_required(sign, provider_keys, name):
    with pytest.raises(LoginRefused) as refused:
        validate(sign({name: None}), provider_keys)
    assert (refused.value.reason, refused.value.detail) == (
        "missing_claim",
        f"The ID token has no {name}.",
    )


@pytest.mark.parametrize("sub", ["", 42, "x" * 256])
def test_a_sub_that_is_empty_not_a_string_or_too_long_is_refused(sign, provider_keys, sub):
    assert reason_of(sign({"sub": sub}), provider_keys) == "missing_claim"


def test_a_255_character_sub_passes(sign, provider_keys):
    assert validate(sign({"sub": "x" * 255}), provider_keys).sub == "x" * 255


def test_an_unknown_kid_is_refused(sign, provider_keys, other_rsa_key):
    token = sign(key=other_rsa_key, header={"kid": "rsa-unknown"})
    assert reason_of(token, provider_keys) == "unknown_kid"


def test_a_signature_by_another_key_under_a_known_kid_is_refused(
    sign, provider_keys, other_rsa_key
):
    assert reason_of(sign(key=other_rsa_key), provider_keys) == "bad_signature"


def test_a_tampered_payload_is_refused(sign, provider_keys):
    header, _, signature = sign().split(".")
    claims = {"iss": ISSUER, "sub": "admin", "aud": CLIENT_ID, "iat": NOW, "exp": NOW + 300}
    payload = b64url(str(claims | {"nonce": NONCE}).replace("'", '"').encode())
    assert reason_of(f"{header}.{payload}.{signature}", provider_keys) == "bad_signature"


def test_a_jwe_shaped_token_is_refused(provider_keys):
    token = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"
    with pytest.raises(LoginRefused) as refused:
        validate(token, provider_keys)
    assert (refused.value.reason, refused.value.detail) == (
        "id_token_malformed",
        "The token is encrypted (JWE).",
    )


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30"])
def test_tokens_that_are_not_a_compact_jws_are_refused(provider_keys, token):
    assert reason_of(token, provider_keys) == "id_token_malformed"


def test_an_oversized_token_is_refused_before_parsing(provider_keys):
    token = "a" * (MAX_TOKEN_BYTES - 2) + ".b.c"
    assert reason_of(token, provider_keys) == "id_token_too_large"


def test_a_deeply_nested_header_is_malformed(provider_keys):
    token = f"{b64url(b'[' * 5000)}.e30.AA"
    assert reason_of(token, provider_keys) == "id_token_malformed"


def test_a_crit_header_is_refused(sign, provider_keys):
    assert reason_of(sign(header={"crit": ["b64"], "b64": True}), provider_keys) == (
        "id_token_malformed"
    )


def _at_hash(access_token: str) -> str:
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])


def test_a_matching_at_hash_passes(sign, provider_keys):
    token = sign({"at_hash": _at_hash("access-1")})
    assert validate(token, provider_keys, access_token="access-1").sub == "248289761001"


def test_an_at_hash_of_another_access_token_is_refused(sign, provider_keys):
    token = sign({"at_hash": _at_hash("access-2")})
    assert reason_of(token, provider_keys, access_token="access-1") == "at_hash_mismatch"


def test_the_at_hash_example_of_the_specification():
    # OIDC Core A.3's access token and at_hash, computed the way tokens.py does.
    access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
    digest = hashlib.sha256(access_token.encode()).digest()
    assert base64.urlsafe_b64encode(digest[:16]).rstrip(b"=") == b"77QmUPtjPfzWtF2AnpK9RQ"


@pytest.mark.filterwarnings("ignore:Key size should be:joserfc.errors.SecurityWarning")
def test_an_rsa_key_shorter_than_2048_bits_is_not_used(sign, provider_keys, jwks):
    weak = RSAKey.generate_key(1024, parameters={"kid": "weak"}, private=True)
    jwks["keys"].append(public_jwk(weak))
    assert reason_of(sign(key=weak), provider_keys) == "unknown_kid"


class TestLogoutToken:
    EVENTS = {BACKCHANNEL_LOGOUT_EVENT: {}}

    @pytest.fixture
    def logout(self, rsa_key):
        def logout(changes=None, *, key=rsa_key):
            claims = {
                "iss": ISSUER,
                "aud": CLIENT_ID,
                "iat": NOW,
                "exp": NOW + 120,
                "jti": "bWJq",
                "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
                "sub": "248289761001",
                "events": self.EVENTS,
            }
            for name, value in (changes or {}).items():
                if value is None:
                    claims.pop(name)
                else:
                    claims[name] = value
            header = {"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}
            return jwt.encode(header, claims, key, algorithms=["RS256"])

        return logout

    def refusal(self, token, keys) -> tuple[str, str]:
        with pytest.raises(LoginRefused) as refused:
            validate_logout_token(token, issuer=ISSUER, client_id=CLIENT_ID, keys=keys, now=NOW)
        return refused.value.reason, refused.value.detail

    def test_a_valid_logout_token_passes(self, logout, provider_keys):
        assert validate_logout_token(
            logout(), issuer=ISSUER, client_id=CLIENT_ID, keys=provider_keys, now=NOW
        ) == LogoutToken(
            sub="248289761001",
            sid="08a5019c-17e1-4977-8f42-65a12843ea02",
            jti="bWJq",
            issued_at=NOW,
        )

    def test_a_sid_alone_passes(self, logout, provider_keys):
        token = logout({"sub": None})
        result = validate_logout_token(
            token, issuer=ISSUER, client_id=CLIENT_ID, keys=provider_keys, now=NOW
        )
        assert (result.sub, result.sid) == ("", "08a5019c-17e1-4977-8f42-65a12843ea02")

    def test_a_nonce_is_refused(self, logout, provider_keys):
        assert self.refusal(logout({"nonce": NONCE}), provider_keys) == (
            "logout_token_invalid",
            "The logout token has a nonce.",
        )

    def test_an_id_token_is_not_a_logout_token(self, sign, provider_keys):
        assert self.refusal(sign({"jti": "j"}), provider_keys) == (
            "logout_token_invalid",
            "events has no back-channel logout member.",
        )

    def test_no_events_is_refused(self, logout, provider_keys):
        assert self.refusal(logout({"events": None}), provider_keys) == (
            "logout_token_invalid",
            "events has no back-channel logout member.",
        )

    @pytest.mark.parametrize(
        ("events", "detail"),
        [
            (
                {"http://schemas.openid.net/event/other": {}},
                "events has no back-channel logout member.",
            ),
            ([BACKCHANNEL_LOGOUT_EVENT], "events has no back-channel logout member."),
            ({BACKCHANNEL_LOGOUT_EVENT: "yes"}, "The back-channel logout event is not an object."),
        ],
    )
    def test_wrong_events_are_refused(self, logout, provider_keys, events, detail):
        assert self.refusal(logout({"events": events}), provider_keys) == (
            "logout_token_invalid",
            detail,
        )

    def test_no_sub_and_no_sid_is_refused(self, logout, provider_keys):
        assert self.refusal(logout({"sub": None, "sid": None}), provider_keys) == (
            "logout_token_invalid",
            "The logout token has no sub or sid.",
        )

    @pytest.mark.parametrize("name", ["jti", "iat", "exp"])
    def test_jti_iat_and_exp_are_required(self, logout, provider_keys, name):
        assert self.refusal(logout({name: None}), provider_keys) == (
            "logout_token_invalid",
            f"The logout token has no {name}.",
        )

    def test_signature_issuer_audience_and_time_are_checked_as_for_an_id_token(
        self, logout, provider_keys, other_rsa_key
    ):
        assert self.refusal(logout(key=other_rsa_key), provider_keys)[0] == "bad_signature"
        assert self.refusal(logout({"iss": "https://evil.example"}), provider_keys)[0] == (
            "wrong_issuer"
        )
        assert self.refusal(logout({"aud": "other"}), provider_keys)[0] == "wrong_audience"
        assert self.refusal(logout({"exp": NOW - 120}), provider_keys)[0] == "expired"
        assert self.refusal(logout({"iat": NOW + 600}), provider_keys)[0] == "issued_in_future"


def test_a_vendor_header_parameter_is_ignored(provider_keys, rsa_key):
    # RFC 7515 §4: header parameters that are not understood (and not critical) are ignored.
    header = {"alg": "RS256", "kid": "rsa-1", "x5t": "bm90LWEtdGh1bWJwcmludA", "region": "eu"}
    claims = {"iss": ISSUER, "sub": "s", "aud": CLIENT_ID, "iat": NOW, "exp": NOW + 60}
    registry = jws.JWSRegistry(algorithms=["RS256"], strict_check_header=False)
    payload = json.dumps(claims | {"nonce": NONCE}).encode()
    token = jws.serialize_compact(header, payload, rsa_key, registry=registry)
    assert validate(token, provider_keys).sub == "s"
