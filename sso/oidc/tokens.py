"""An ID token or a logout token in, its validated claims out, or LoginRefused with a reason.

joserfc parses the compact JWS and checks the signature; every other check is made
here, each citing the clause it enforces: OpenID Connect Core 1.0 §3.1.3.7 for the ID
token (§3.1.3.8 for at_hash, §2 for the claims it must carry) and OpenID Connect
Back-Channel Logout 1.0 §2.6 for the logout token.
"""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError

from sso.errors import LoginRefused
from sso.oidc.jwks import ALLOWED_ALGORITHMS, ProviderKeys

MAX_TOKEN_BYTES = 64 * 1024
CLOCK_SKEW_SECONDS = 60
MAX_SUBJECT_LENGTH = 255
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


@dataclass(frozen=True)
class IdToken:
    sub: str
    issuer: str
    audience: tuple[str, ...]
    issued_at: int
    expires_at: int
    nonce: str
    sid: str
    # Every claim, for email, email_verified, preferred_username, given_name, family_name
    # and name.
    claims: dict


@dataclass(frozen=True)
class LogoutToken:
    sub: str
    sid: str
    jti: str
    issued_at: int


class _Registry(jws.JWSRegistry):
    # joserfc allows a 512-byte header; a provider's may carry a certificate chain
    # (x5c). The whole token is capped at MAX_TOKEN_BYTES before any of this.
    max_header_length = 8 * 1024
    max_payload_length = MAX_TOKEN_BYTES


def validate_id_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    keys: ProviderKeys,
    nonce: str,
    access_token: str = "",
    now: int | None = None,
) -> IdToken:
    now = int(time.time()) if now is None else now
    alg, claims = _verified_claims(token, keys)
    # §2: iss, sub, aud, exp and iat are REQUIRED in every ID token.
    for name in ("iss", "sub", "aud", "exp", "iat"):
        if name not in claims:
            raise LoginRefused("missing_claim", detail=f"The ID token has no {name}.")
    _check_issuer(claims, issuer)
    audience = _check_audience(claims, client_id)
    expires_at, issued_at = _check_times(claims, now)
    subject = _subject(claims)
    # §3.1.3.7 step 11: a nonce was sent in the authentication request, so the claim
    # must be present and equal to it (compared in constant time).
    claimed_nonce = claims.get("nonce")
    if claimed_nonce is None or claimed_nonce == "":
        raise LoginRefused("nonce_missing", subject=subject)
    if not (isinstance(claimed_nonce, str) and nonce and _equal(claimed_nonce, nonce)):
        raise LoginRefused("nonce_mismatch", subject=subject)
    # §3.1.3.8 (code flow): at_hash is optional; when it is there it must match the
    # access token the token endpoint gave with this ID token.
    at_hash = claims.get("at_hash")
    if at_hash is not None and access_token and not _at_hash_matches(at_hash, access_token, alg):
        raise LoginRefused("at_hash_mismatch", subject=subject)
    sid = claims.get("sid", "")
    if not isinstance(sid, str):
        raise LoginRefused("id_token_malformed", subject=subject, detail="sid is not a string.")
    return IdToken(
        sub=subject,
        issuer=claims["iss"],
        audience=audience,
        issued_at=issued_at,
        expires_at=expires_at,
        nonce=claimed_nonce,
        sid=sid,
        claims=claims,
    )


def validate_logout_token(
    token: str, *, issuer: str, client_id: str, keys: ProviderKeys, now: int | None = None
) -> LogoutToken:
    now = int(time.time()) if now is None else now
    # §2.6 steps 1-2: a signed (not encrypted) token, verified as an ID token is.
    _, claims = _verified_claims(token, keys)
    # §2.4: iss, aud, iat, exp and jti are REQUIRED in a logout token.
    for name in ("iss", "aud", "iat", "exp", "jti"):
        if name not in claims:
            raise LoginRefused("logout_token_invalid", detail=f"The logout token has no {name}.")
    # §2.6 step 3: iss, aud, iat and exp are checked as for an ID token (Core §3.1.3.7).
    _check_issuer(claims, issuer)
    _check_audience(claims, client_id)
    _, issued_at = _check_times(claims, now)
    # §2.6 step 5: events holds the back-channel logout member, whose value is an object.
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_LOGOUT_EVENT not in events:
        raise LoginRefused(
            "logout_token_invalid", detail="events has no back-channel logout member."
        )
    if not isinstance(events[BACKCHANNEL_LOGOUT_EVENT], dict):
        raise LoginRefused(
            "logout_token_invalid", detail="The back-channel logout event is not an object."
        )
    # §2.6 step 6: a nonce is refused, so an ID token can never pass as a logout token.
    if "nonce" in claims:
        raise LoginRefused("logout_token_invalid", detail="The logout token has a nonce.")
    # §2.6 step 4: a sub, a sid, or both.
    sub, sid = claims.get("sub", ""), claims.get("sid", "")
    if not (isinstance(sub, str) and isinstance(sid, str)) or len(sub) > MAX_SUBJECT_LENGTH:
        raise LoginRefused("logout_token_invalid", detail="sub or sid is not a short string.")
    if not (sub or sid):
        raise LoginRefused("logout_token_invalid", detail="The logout token has no sub or sid.")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise LoginRefused("logout_token_invalid", detail="jti is not a string.")
    return LogoutToken(sub=sub, sid=sid, jti=jti, issued_at=issued_at)


def _verified_claims(token: str, keys: ProviderKeys) -> tuple[str, dict]:
    """The signing algorithm and the claims of a token whose signature verifies."""
    # A size cap before any parsing: a token is read from a request the browser sends.
    if not isinstance(token, str) or len(token.encode("utf-8")) > MAX_TOKEN_BYTES:
        raise LoginRefused("id_token_too_large", detail=f"More than {MAX_TOKEN_BYTES} bytes.")
    segments = token.count(".") + 1
    # §3.1.3.7 step 1: an encrypted token (JWE, five parts) is decrypted with keys the
    # client registered for it; none are, so one is not expected and not accepted.
    if segments == 5:
        raise LoginRefused("id_token_malformed", detail="The token is encrypted (JWE).")
    if segments != 3:
        raise LoginRefused("id_token_malformed", detail="The token is not a compact JWS.")
    # RFC 7515 §4: header parameters not understood are ignored (unless critical).
    registry = _Registry(algorithms=ALLOWED_ALGORITHMS, strict_check_header=False)
    try:
        signed = jws.extract_compact(token.encode("ascii"), registry=registry)
    except (JoseError, ValueError, RecursionError):
        raise LoginRefused("id_token_malformed", detail="The token does not parse.") from None
    header = signed.headers()
    alg = header.get("alg")
    # §3.1.3.7 steps 7-8: the alg is one this client accepts (RS256, PS256, ES256). Never
    # "none", and never an HMAC (HS*): its key would be the client secret, and a token
    # MACed with the provider's public key (the key confusion attack) proves nothing.
    if alg not in ALLOWED_ALGORITHMS:
        raise LoginRefused("alg_not_allowed", detail=f"alg {str(alg)[:32]!r} is not accepted.")
    # RFC 7515 §4.1.11: no header extension is understood here, so none may be critical.
    if "crit" in header:
        raise LoginRefused("id_token_malformed", detail="The token has a crit header.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise LoginRefused("id_token_malformed", detail="kid is not a string.")
    # §3.1.3.7 step 6: the signature is verified with the provider's key named by kid
    # (TLS alone would do for the token endpoint's answer; this is stricter).
    key = keys.key_for(kid, alg)
    try:
        verified = jws.validate_compact(signed, key, registry=registry)
    except BadSignatureError:
        verified = False
    except (JoseError, ValueError):
        raise LoginRefused("id_token_malformed", detail="The token's header is refused.") from None
    if not verified:
        raise LoginRefused("bad_signature")
    try:
        claims = json.loads(signed.payload)
    except (ValueError, RecursionError):
        raise LoginRefused("id_token_malformed", detail="The claims are not JSON.") from None
    if not isinstance(claims, dict):
        raise LoginRefused("id_token_malformed", detail="The claims are not a JSON object.")
    return alg, claims


def _check_issuer(claims: dict, issuer: str) -> None:
    # §3.1.3.7 step 2: iss exactly equal to the issuer discovery gave (no normalising).
    if claims["iss"] != issuer:
        raise LoginRefused("wrong_issuer", detail=f"iss is {str(claims['iss'])[:200]!r}.")


def _check_audience(claims: dict, client_id: str) -> tuple[str, ...]:
    aud = claims["aud"]
    audience = (aud,) if isinstance(aud, str) else aud
    if not isinstance(audience, list | tuple) or not all(isinstance(a, str) for a in audience):
        raise LoginRefused("wrong_audience", detail="aud is not a string or a list of strings.")
    # §3.1.3.7 step 3: aud contains this client's client_id.
    if client_id not in audience:
        raise LoginRefused("wrong_audience", detail="aud does not name this client.")
    azp = claims.get("azp")
    # §3.1.3.7 step 4: with several audiences, azp must be present (and, by step 5, be
    # this client): the token was issued to us, not to another audience we share it with.
    if len(audience) > 1 and azp is None:
        raise LoginRefused("azp_mismatch", detail="Several audiences and no azp.")
    # §3.1.3.7 step 5: an azp that is present must be this client's client_id.
    if azp is not None and azp != client_id:
        raise LoginRefused("azp_mismatch", detail="azp is another client.")
    return tuple(audience)


def _check_times(claims: dict, now: int) -> tuple[int, int]:
    """exp and iat (both required by then), and nbf when present, with CLOCK_SKEW_SECONDS."""
    expires_at, issued_at = _seconds(claims, "exp"), _seconds(claims, "iat")
    # §3.1.3.7 step 9: the current time is before exp, with some leeway for clock skew.
    if now >= expires_at + CLOCK_SKEW_SECONDS:
        raise LoginRefused("expired", detail=f"exp was {now - expires_at} seconds ago.")
    # §3.1.3.7 step 10: iat may reject tokens issued too far from now; one issued in the
    # future (beyond the skew) was not issued by a provider with a sane clock.
    if issued_at > now + CLOCK_SKEW_SECONDS:
        raise LoginRefused("issued_in_future", detail=f"iat is {issued_at - now} seconds ahead.")
    # RFC 7519 §4.1.5: not to be accepted before nbf, when the provider sets one.
    if "nbf" in claims:
        not_before = _seconds(claims, "nbf")
        if not_before > now + CLOCK_SKEW_SECONDS:
            raise LoginRefused("not_yet_valid", detail=f"nbf is {not_before - now} seconds ahead.")
    return expires_at, issued_at


def _seconds(claims: dict, name: str) -> int:
    # RFC 7519 §2 NumericDate: a JSON number of seconds (a boolean is not one).
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LoginRefused("id_token_malformed", detail=f"{name} is not a number.")
    return int(value)


def _subject(claims: dict) -> str:
    # §2 (sub): a non-empty, case-sensitive string of at most 255 ASCII characters.
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise LoginRefused("missing_claim", detail="The ID token's sub is empty or not a string.")
    if len(sub) > MAX_SUBJECT_LENGTH:
        raise LoginRefused("missing_claim", detail="The ID token's sub is longer than 255.")
    return sub


def _at_hash_matches(at_hash, access_token: str, alg: str) -> bool:
    # §3.1.3.8: the left half of the hash of the access token's ASCII octets, with the
    # hash of the ID token's alg (SHA-256 for RS256, PS256, ES256), base64url unpadded.
    if not isinstance(at_hash, str):
        return False
    digest = _HASHES[alg[-3:]](access_token.encode("ascii", errors="replace")).digest()
    expected = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
    return _equal(at_hash, expected)


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
