"""Discovery: the document must fit the configured issuer and what sign-in needs."""

import json

import pytest

from sso.errors import OidcConfigurationError, ProviderUnavailable
from sso.oidc.discovery import ProviderMetadata, discover, discovery_url
from tests.sso.oidc.conftest import Answer, json_answer

WELL_KNOWN = "/.well-known/openid-configuration"


@pytest.fixture
def document(provider):
    """The provider's discovery document, editable by the test; the issuer is the server."""
    issuer = provider.url
    body = {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "jwks_uri": issuer + "/jwks",
        "userinfo_endpoint": issuer + "/userinfo",
        "end_session_endpoint": issuer + "/logout",
        "response_types_supported": ["code", "id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "backchannel_logout_supported": True,
    }
    provider.routes[WELL_KNOWN] = lambda: json_answer(body)
    return body


def refusal(issuer) -> str:
    with pytest.raises(OidcConfigurationError) as refused:
        discover(issuer)
    return str(refused.value)


def test_a_fitting_document_gives_the_metadata(provider, document):
    issuer = provider.url
    assert discover(issuer) == ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=issuer + "/authorize",
        token_endpoint=issuer + "/token",
        jwks_uri=issuer + "/jwks",
        userinfo_endpoint=issuer + "/userinfo",
        end_session_endpoint=issuer + "/logout",
        token_endpoint_auth_methods_supported=("client_secret_basic", "private_key_jwt"),
        id_token_signing_alg_values_supported=("RS256", "ES256"),
        backchannel_logout_supported=True,
        frontchannel_logout_supported=False,
    )


def test_defaults_fill_what_the_document_leaves_out(provider, document):
    for name in (
        "userinfo_endpoint",
        "end_session_endpoint",
        "token_endpoint_auth_methods_supported",
        "id_token_signing_alg_values_supported",
        "code_challenge_methods_supported",
        "backchannel_logout_supported",
    ):
        del document[name]
    metadata = discover(provider.url)
    assert (metadata.userinfo_endpoint, metadata.end_session_endpoint) == ("", "")
    assert metadata.token_endpoint_auth_methods_supported == ("client_secret_basic",)
    assert metadata.id_token_signing_alg_values_supported == ("RS256",)
    assert metadata.backchannel_logout_supported is False


def test_metadata_survives_a_round_trip_through_json(provider, document):
    metadata = discover(provider.url)
    stored = json.loads(json.dumps(metadata.as_dict()))
    assert stored["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "private_key_jwt",
    ]
    assert ProviderMetadata.from_dict(stored) == metadata


@pytest.mark.parametrize(
    ("issuer", "url"),
    [
        ("https://idp.example.com", "https://idp.example.com/.well-known/openid-configuration"),
        ("https://idp.example.com/", "https://idp.example.com/.well-known/openid-configuration"),
        (
            "https://login.example.com/tenant/v2.0",
            "https://login.example.com/tenant/v2.0/.well-known/openid-configuration",
        ),
    ],
)
def test_the_discovery_url_is_the_issuer_with_the_well_known_path(issuer, url):
    assert discovery_url(issuer) == url


def test_an_issuer_mismatch_is_refused(provider, document):
    document["issuer"] = "https://attacker.example"
    assert refusal(provider.url) == (
        "The discovery document names the issuer https://attacker.example, not "
        f"{provider.url} as configured; they must match exactly, trailing slash included."
    )


def test_a_trailing_slash_is_a_different_issuer(provider, document):
    # Discovery §4.3: exact match; the document is fetched from the same URL either way.
    assert refusal(provider.url + "/").startswith("The discovery document names the issuer")


@pytest.mark.parametrize("name", ["authorization_endpoint", "token_endpoint", "jwks_uri"])
def test_a_missing_endpoint_is_refused(provider, document, name):
    del document[name]
    assert refusal(provider.url) == f"The discovery document has no {name}."


def test_a_missing_issuer_is_refused(provider, document):
    del document["issuer"]
    assert refusal(provider.url) == (
        f"The discovery document names the issuer nothing, not {provider.url} as configured; "
        "they must match exactly, trailing slash included."
    )


def test_a_document_without_the_code_flow_is_refused(provider, document):
    document["response_types_supported"] = ["id_token", "id_token token"]
    assert refusal(provider.url) == (
        "The provider does not offer the authorization code flow "
        "(response_types_supported lacks code)."
    )


def test_a_document_without_response_types_is_refused(provider, document):
    del document["response_types_supported"]
    assert refusal(provider.url) == "The discovery document has no response_types_supported."


def test_pkce_without_s256_is_refused(provider, document):
    document["code_challenge_methods_supported"] = ["plain"]
    assert refusal(provider.url) == (
        "The provider does not support PKCE with S256 "
        "(code_challenge_methods_supported lacks S256)."
    )


def test_an_endpoint_at_a_private_address_is_refused(provider, document):
    document["token_endpoint"] = "https://10.0.0.8/token"
    assert refusal(provider.url) == (
        "The discovery document's token_endpoint (https://10.0.0.8/token) cannot be used: "
        "10.0.0.8 resolves to a private address (10.0.0.8)."
    )


def test_an_endpoint_named_for_a_private_address_is_refused(provider, document, dns):
    dns["sso.corp.example"] = ["192.168.4.4"]
    document["userinfo_endpoint"] = "https://sso.corp.example/userinfo"
    assert refusal(provider.url) == (
        "The discovery document's userinfo_endpoint (https://sso.corp.example/userinfo) "
        "cannot be used: sso.corp.example resolves to a private address (192.168.4.4)."
    )


def test_the_metadata_address_is_refused_as_an_issuer(dns, no_network):
    assert refusal("https://169.254.169.254/latest") == (
        "169.254.169.254 resolves to the cloud metadata address (169.254.169.254)."
    )


def test_an_issuer_with_a_query_is_refused(dns, no_network):
    assert refusal("https://idp.example.com/?tenant=1") == (
        "The issuer is a URL without a query or a fragment."
    )


def test_a_provider_signing_only_with_hmac_is_refused(provider, document):
    document["id_token_signing_alg_values_supported"] = ["HS256"]
    assert refusal(provider.url) == (
        "The provider signs ID tokens with HS256 only; accepted are RS256, PS256, ES256."
    )


def test_a_document_that_is_not_json_is_a_configuration_error(provider):
    provider.routes[WELL_KNOWN] = Answer(body=b"<html>login</html>")
    assert refusal(provider.url) == (
        f"The discovery document at {provider.url}{WELL_KNOWN} cannot be used: "
        "127.0.0.1 did not answer a JSON object."
    )


def test_a_missing_document_is_a_configuration_error(provider):
    assert refusal(provider.url) == (
        f"The discovery document at {provider.url}{WELL_KNOWN} cannot be used: "
        "127.0.0.1 answered HTTP 404."
    )


def test_a_provider_that_is_down_is_unavailable(provider):
    provider.routes[WELL_KNOWN] = Answer(status=502, body=b"bad gateway")
    with pytest.raises(ProviderUnavailable) as unavailable:
        discover(provider.url)
    assert unavailable.value.reason == "provider_5xx"
