"""This service's own keys for private_key_jwt."""

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import RSAKey

from sso.oidc.keys import new_signing_key, public_jwks


def test_a_new_key_is_rsa_2048_named_by_its_thumbprint():
    kid, pem = new_signing_key()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS8
    assert load_pem_private_key(pem, password=None).key_size == 2048
    assert kid == RSAKey.import_key(pem).thumbprint()


def test_the_published_set_holds_public_halves_only():
    first, second = new_signing_key(), new_signing_key()
    published = public_jwks([first, second])
    assert [sorted(key) for key in published["keys"]] == [
        ["alg", "e", "kid", "kty", "n", "use"],
        ["alg", "e", "kid", "kty", "n", "use"],
    ]
    assert [(key["kid"], key["use"], key["alg"]) for key in published["keys"]] == [
        (first[0], "sig", "RS256"),
        (second[0], "sig", "RS256"),
    ]
    assert RSAKey.import_key(published["keys"][0]).thumbprint() == first[0]


def test_no_keys_publish_an_empty_set():
    assert public_jwks([]) == {"keys": []}
