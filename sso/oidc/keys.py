"""This service's own signing keys, for private_key_jwt client authentication.

The private key (PKCS8 PEM) is returned once, to be stored by the caller; the provider
learns the public half from public_jwks, served at a URL it is given.
"""

from joserfc.jwk import RSAKey

KEY_BITS = 2048
ALGORITHM = "RS256"


def new_signing_key() -> tuple[str, bytes]:
    """(kid, PKCS8 PEM) of a new RSA key; the kid is its RFC 7638 thumbprint."""
    key = RSAKey.generate_key(KEY_BITS, private=True)
    return key.thumbprint(), key.as_pem(private=True)


def public_jwks(keys: list[tuple[str, bytes]]) -> dict:
    """The JWK Set (RFC 7517 §5) of the public halves of `keys`, each named by its kid."""
    return {
        "keys": [
            RSAKey.import_key(pem).as_dict(private=False, kid=kid, use="sig", alg=ALGORITHM)
            for kid, pem in keys
        ]
    }
