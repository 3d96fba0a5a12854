"""A provider's signing keys (its JWKS), cached for every worker, refreshed sparingly.

The JWKS is kept in the shared cache for JWKS_TTL_SECONDS. A token whose kid is not in
it may mean the provider rotated its keys, so the JWKS is fetched again, but at most
once per connection per REFRESH_INTERVAL_SECONDS (a marker set with cache.add, so of
many workers one fetches) and never more than once per lookup: tokens with made-up
kids, or a JWKS that changes on every fetch, cannot turn into a stream of requests.
"""

import base64
import hashlib

from django.core.cache import caches
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, RSAKey

from sso.errors import LoginRefused
from sso.oidc import fetch

ALLOWED_ALGORITHMS = ("RS256", "PS256", "ES256")
JWKS_TTL_SECONDS = 600
REFRESH_INTERVAL_SECONDS = 60
MIN_RSA_BITS = 2048

# The key type each algorithm needs, and the members a public key of that type is
# made of: nothing else of the provider's JWK (a private "d" published by mistake,
# say) is imported.
_KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}
_PUBLIC_MEMBERS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y")}
_CURVES = {"ES256": "P-256"}


class ProviderKeys:
    def __init__(self, *, cache_key: str, jwks_uri: str):
        self.jwks_uri = jwks_uri
        digest = hashlib.sha256(jwks_uri.encode()).hexdigest()[:32]
        self._jwks_cache_key = f"sso:oidc:jwks:{cache_key}:{digest}"
        self._refresh_marker_key = f"sso:oidc:jwks-refreshed:{cache_key}"

    def key_for(self, kid: str | None, alg: str) -> Key:
        """The provider's key for a token's `kid` and `alg`, or LoginRefused("unknown_kid")."""
        if alg not in ALLOWED_ALGORITHMS:
            raise LoginRefused("alg_not_allowed", detail=f"alg {alg!r} is not accepted.")
        cache = caches["default"]
        jwks = cache.get(self._jwks_cache_key)
        fetched = jwks is None
        if fetched:
            jwks = self._fetch()
        key = _select(jwks, kid, alg)
        if key is None and not fetched and self._may_refresh():
            key = _select(self._fetch(), kid, alg)
        if key is None:
            shown = "no kid" if kid is None else f"kid {kid[:64]!r}"
            raise LoginRefused(
                "unknown_kid", detail=f"The provider's JWKS has no {alg} key for {shown}."
            )
        return key

    def forget(self) -> None:
        """Drop the cached JWKS and the refresh marker: the next sign-in reads the keys
        afresh (an owner who saves the settings again after the provider rotated its
        keys early, or removed a compromised one, need not wait for the cache)."""
        caches["default"].delete_many([self._jwks_cache_key, self._refresh_marker_key])

    def _may_refresh(self) -> bool:
        return caches["default"].add(self._refresh_marker_key, 1, REFRESH_INTERVAL_SECONDS)

    def _fetch(self) -> dict:
        document = fetch.get_json(self.jwks_uri)
        keys = document.get("keys")
        if not isinstance(keys, list):
            keys = []
        jwks = {"keys": [entry for entry in keys if isinstance(entry, dict)]}
        caches["default"].set(self._jwks_cache_key, jwks, JWKS_TTL_SECONDS)
        return jwks


def _select(jwks: dict, kid: str | None, alg: str) -> Key | None:
    candidates = [entry for entry in jwks["keys"] if _usable_for(entry, alg)]
    if kid is None:
        # OIDC Core §10.1: a kid may be left out only when there is no doubt which key.
        matches = candidates
    else:
        matches = [entry for entry in candidates if entry.get("kid") == kid]
    if len(matches) != 1:
        return None
    return _import(matches[0], alg)


def _usable_for(entry: dict, alg: str) -> bool:
    # Symmetric ("oct") keys never match: an HMAC key published in a JWKS is public, and
    # a token MACed with it would prove nothing.
    if entry.get("kty") != _KEY_TYPES[alg]:
        return False
    # RFC 7517 §4.2, §4.3, §4.4: a key marked for encryption, for other operations or
    # for another algorithm does not verify this token.
    if entry.get("use", "sig") != "sig":
        return False
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return False
    if entry.get("alg", alg) != alg:
        return False
    return alg not in _CURVES or entry.get("crv") == _CURVES[alg]


def _import(entry: dict, alg: str) -> Key | None:
    kty = _KEY_TYPES[alg]
    public = {name: entry[name] for name in _PUBLIC_MEMBERS[kty] if name in entry}
    if kty == "RSA" and _modulus_bits(public.get("n")) < MIN_RSA_BITS:
        return None
    try:
        return RSAKey.import_key(public) if kty == "RSA" else ECKey.import_key(public)
    except (JoseError, ValueError, TypeError):
        return None


def _modulus_bits(n) -> int:
    # RFC 7518 §3.3: RS256 and PS256 keys are 2048 bits or more.
    if not isinstance(n, str):
        return 0
    try:
        modulus = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except ValueError:
        return 0
    return int.from_bytes(modulus, "big").bit_length()
