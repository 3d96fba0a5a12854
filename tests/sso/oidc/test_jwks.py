"""The provider's keys: cached for every worker, refreshed at most once a minute."""

import pytest
from joserfc.jwk import ECKey, RSAKey

from sso.errors import LoginRefused, ProviderUnavailable
from sso.oidc.jwks import ProviderKeys
from tests.sso.oidc.conftest import Answer, json_answer, public_jwk


def refusal(keys, kid, alg="RS256") -> tuple[str, str]:
    with pytest.raises(LoginRefused) as refused:
        keys.key_for(kid, alg)
    return refused.value.reason, refused.value.detail


def test_the_key_is_found_by_kid_and_the_jwks_is_cached(provider, provider_keys, rsa_key, ec_key):
    assert provider_keys.key_for("rsa-1", "RS256").thumbprint() == rsa_key.thumbprint()
    assert provider_keys.key_for("rsa-1", "PS256").thumbprint() == rsa_key.thumbprint()
    assert provider_keys.key_for("ec-1", "ES256").thumbprint() == ec_key.thumbprint()
    assert provider.hits("/jwks") == 1


def test_another_worker_uses_the_cached_jwks(provider, provider_keys):
    provider_keys.key_for("rsa-1", "RS256")
    other_worker = ProviderKeys(cache_key="connection-1", jwks_uri=provider.url + "/jwks")
    other_worker.key_for("rsa-1", "RS256")
    assert provider.hits("/jwks") == 1


def test_an_unknown_kid_refreshes_once_then_waits_a_minute(provider, provider_keys):
    provider_keys.key_for("rsa-1", "RS256")
    assert refusal(provider_keys, "rsa-unknown") == (
        "unknown_kid",
        "The provider's JWKS has no RS256 key for kid 'rsa-unknown'.",
    )
    assert provider.hits("/jwks") == 2
    assert refusal(provider_keys, "rsa-unknown")[0] == "unknown_kid"
    assert refusal(provider_keys, "rsa-other")[0] == "unknown_kid"
    assert provider.hits("/jwks") == 2


def test_a_rotated_key_is_found_by_the_refresh(provider, provider_keys, jwks):
    provider_keys.key_for("rsa-1", "RS256")
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"}, private=True)
    jwks["keys"].append(public_jwk(rotated))
    assert provider_keys.key_for("rsa-2", "RS256").thumbprint() == rotated.thumbprint()
    assert provider.hits("/jwks") == 2


def test_a_jwks_that_changes_on_every_fetch_causes_no_loop(provider, rsa_key):
    fetches = []

    def changing():
        fetches.append(1)
        fresh = RSAKey.generate_key(2048, parameters={"kid": f"k-{len(fetches)}"}, private=True)
        return json_answer({"keys": [public_jwk(fresh)]})

    provider.routes["/changing"] = changing
    keys = ProviderKeys(cache_key="connection-2", jwks_uri=provider.url + "/changing")
    for _ in range(5):
        assert refusal(keys, "k-never")[0] == "unknown_kid"
    # The first lookup fetched (nothing cached), the second refreshed, the rest waited.
    assert len(fetches) == 2


def test_the_refresh_marker_is_per_connection(provider, jwks):
    first = ProviderKeys(cache_key="connection-1", jwks_uri=provider.url + "/jwks")
    second = ProviderKeys(cache_key="connection-2", jwks_uri=provider.url + "/jwks")
    for keys in (first, second):
        keys.key_for("rsa-1", "RS256")
        refusal(keys, "rsa-unknown")
    assert provider.hits("/jwks") == 4


@pytest.mark.django_db
def test_the_refresh_is_shared_through_the_production_cache(shared_cache, provider, jwks):
    first_worker = ProviderKeys(cache_key="connection-1", jwks_uri=provider.url + "/jwks")
    second_worker = ProviderKeys(cache_key="connection-1", jwks_uri=provider.url + "/jwks")
    first_worker.key_for("rsa-1", "RS256")
    refusal(first_worker, "rsa-unknown")
    refusal(second_worker, "rsa-unknown")
    assert provider.hits("/jwks") == 2


def test_a_token_without_kid_uses_the_only_key_of_its_type(provider, provider_keys, rsa_key):
    assert provider_keys.key_for(None, "RS256").thumbprint() == rsa_key.thumbprint()


def test_a_token_without_kid_is_refused_when_two_keys_could_be_meant(provider, provider_keys, jwks):
    jwks["keys"].append(public_jwk(RSAKey.generate_key(2048, private=True)))
    assert refusal(provider_keys, None) == (
        "unknown_kid",
        "The provider's JWKS has no RS256 key for no kid.",
    )


def test_a_kid_is_not_matched_to_a_key_without_one(provider, jwks):
    keyless = RSAKey.generate_key(2048, private=True)
    jwks["keys"] = [public_jwk(keyless)]
    keys = ProviderKeys(cache_key="connection-3", jwks_uri=provider.url + "/jwks")
    assert refusal(keys, "rsa-1")[0] == "unknown_kid"
    assert keys.key_for(None, "RS256").thumbprint() == keyless.thumbprint()


@pytest.mark.parametrize(
    "params",
    [{"use": "enc"}, {"alg": "PS256"}, {"key_ops": ["encrypt"]}],
)
def test_a_key_marked_for_something_else_is_skipped(provider, jwks, rsa_key, params):
    jwks["keys"] = [public_jwk(rsa_key, **params)]
    keys = ProviderKeys(cache_key="connection-4", jwks_uri=provider.url + "/jwks")
    assert refusal(keys, "rsa-1")[0] == "unknown_kid"


def test_a_kid_of_another_key_type_does_not_match(provider, provider_keys):
    assert refusal(provider_keys, "ec-1", "RS256")[0] == "unknown_kid"


def test_an_ec_key_on_another_curve_is_skipped(provider, jwks):
    p384 = ECKey.generate_key("P-384", parameters={"kid": "ec-384"}, private=True)
    jwks["keys"] = [public_jwk(p384)]
    keys = ProviderKeys(cache_key="connection-5", jwks_uri=provider.url + "/jwks")
    assert refusal(keys, "ec-384", "ES256")[0] == "unknown_kid"


def test_only_the_public_members_of_a_key_are_imported(provider, jwks, rsa_key):
    # A provider that publishes its private key by mistake: only n and e are read.
    jwks["keys"] = [rsa_key.as_dict(private=True)]
    keys = ProviderKeys(cache_key="connection-6", jwks_uri=provider.url + "/jwks")
    assert keys.key_for("rsa-1", "RS256").is_private is False


@pytest.mark.parametrize("alg", ["none", "HS256", "RS384", "EdDSA"])
def test_an_algorithm_outside_the_allow_list_is_refused(provider, provider_keys, alg):
    assert refusal(provider_keys, "rsa-1", alg)[0] == "alg_not_allowed"
    assert provider.hits("/jwks") == 0


def test_a_jwks_without_a_key_list_has_no_keys(provider):
    provider.routes["/broken"] = json_answer({"keys": "none"})
    keys = ProviderKeys(cache_key="connection-7", jwks_uri=provider.url + "/broken")
    assert refusal(keys, "rsa-1")[0] == "unknown_kid"


def test_a_provider_that_is_down_is_unavailable_not_refused(provider):
    provider.routes["/down"] = Answer(status=503, body=b"maintenance")
    keys = ProviderKeys(cache_key="connection-8", jwks_uri=provider.url + "/down")
    with pytest.raises(ProviderUnavailable) as unavailable:
        keys.key_for("rsa-1", "RS256")
    assert unavailable.value.reason == "provider_5xx"
