"""The authorization code flow with PKCE, from this client's side.

new_authorization builds the redirect to the provider (OpenID Connect Core 1.0
§3.1.2.1, RFC 7636); exchange_code redeems the code at the token endpoint (§3.1.3.1,
RFC 6749 §4.1.3); fetch_userinfo and end_session_url are §5.3 and RP-Initiated
Logout 1.0 §2. The tokens are validated by sso.oidc.tokens.
"""

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from sso.errors import LoginRefused, OidcConfigurationError
from sso.oidc import fetch

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# OIDC Core §9: the assertion's lifetime; short, it is used at once.
CLIENT_ASSERTION_SECONDS = 60
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# RFC 6749 §5.2: an error code is a few printable ASCII characters; only such a code
# is kept from a provider's refusal (its error_description may quote the request).
_ERROR_CODE = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}")


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class ClientAuth:
    client_id: str
    method: str  # "client_secret_basic" | "client_secret_post" | "private_key_jwt"
    secret: str = ""
    private_key_pem: bytes = b""
    key_id: str = ""


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str


def new_authorization(
    *,
    authorization_endpoint: str,
    client_id: str,
    redirect_uri: str,
    scope: str = "openid email profile",
    login_hint: str = "",
) -> Authorization:
    # OIDC Core §3.1.2.1: without the openid scope the request is plain OAuth 2.0.
    if "openid" not in scope.split():
        raise OidcConfigurationError("The scope must include openid.")
    # 256 bits each; RFC 7636 §4.1: the verifier is 43-128 unreserved characters (86 here).
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)
    params = {
        "response_type": "code",
        "response_mode": "query",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": _s256(code_verifier),
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    return Authorization(
        url=_with_query(authorization_endpoint, params),
        state=state,
        nonce=nonce,
        code_verifier=code_verifier,
    )


def exchange_code(
    *, token_endpoint: str, client: ClientAuth, code: str, redirect_uri: str, code_verifier: str
) -> Tokens:
    # RFC 6749 §4.1.3 with RFC 7636 §4.5's code_verifier.
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    basic_auth = None
    if client.method == "client_secret_basic":
        basic_auth = (client.client_id, client.secret)
    elif client.method == "client_secret_post":
        data |= {"client_id": client.client_id, "client_secret": client.secret}
    elif client.method == "private_key_jwt":
        data |= {
            "client_id": client.client_id,
            "client_assertion_type": JWT_BEARER_ASSERTION,
            "client_assertion": _client_assertion(client, token_endpoint),
        }
    else:
        raise OidcConfigurationError(
            f"Unknown client authentication method {client.method!r}; "
            f"use one of {', '.join(CLIENT_AUTH_METHODS)}."
        )
    status, body = fetch.post_form(token_endpoint, data, basic_auth=basic_auth)
    if status != 200:
        _refuse_error(status, body)
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise LoginRefused("no_id_token")
    access_token = body.get("access_token")
    return Tokens(
        id_token=id_token, access_token=access_token if isinstance(access_token, str) else ""
    )


def fetch_userinfo(*, userinfo_endpoint: str, access_token: str, expected_sub: str) -> dict:
    claims = fetch.get_json(userinfo_endpoint, bearer_token=access_token)
    # OIDC Core §5.3.2: the userinfo sub must be the ID token's, or the answer (which
    # may be substituted) is not used at all.
    if claims.get("sub") != expected_sub:
        raise LoginRefused("userinfo_sub_mismatch", subject=expected_sub)
    return claims


def end_session_url(
    *,
    end_session_endpoint: str,
    id_token_hint: str,
    post_logout_redirect_uri: str,
    state: str = "",
    client_id: str = "",
) -> str:
    # RP-Initiated Logout 1.0 §2: every parameter is optional; only those given are sent.
    params = {
        "id_token_hint": id_token_hint,
        "post_logout_redirect_uri": post_logout_redirect_uri,
        "state": state,
        "client_id": client_id,
    }
    return _with_query(end_session_endpoint, {name: v for name, v in params.items() if v})


def _refuse_error(status: int, body: dict) -> None:
    error = body.get("error")
    # RFC 6749 §5.2: invalid_grant is the code itself refused (used, expired, or the
    # redirect_uri or code_verifier do not match it).
    if error == "invalid_grant":
        raise LoginRefused("code_rejected")
    if isinstance(error, str) and _ERROR_CODE.fullmatch(error):
        raise LoginRefused("provider_error", detail=error)
    raise LoginRefused("provider_error", detail=f"HTTP {status}")


def _client_assertion(client: ClientAuth, token_endpoint: str) -> str:
    # OIDC Core §9 (private_key_jwt): iss and sub are the client, aud the token
    # endpoint, a unique jti, and a short exp.
    try:
        key = RSAKey.import_key(client.private_key_pem)
    except (JoseError, ValueError, TypeError):
        raise OidcConfigurationError("The client's private key is not an RSA key in PEM.") from None
    if not key.is_private:
        raise OidcConfigurationError("The client's key for private_key_jwt is not a private key.")
    issued_at = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": token_endpoint,
        "jti": secrets.token_urlsafe(32),
        "iat": issued_at,
        "exp": issued_at + CLIENT_ASSERTION_SECONDS,
    }
    header = {"alg": "RS256", "kid": client.key_id or key.thumbprint()}
    return jwt.encode(header, claims, key, algorithms=["RS256"])


def _s256(code_verifier: str) -> str:
    # RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))), unpadded.
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(endpoint: str, params: dict) -> str:
    # RFC 6749 §3.1: the endpoint's own query is kept; a parameter is never sent twice,
    # so one of ours replaces the endpoint's of the same name. No fragment is sent.
    parts = urlsplit(endpoint)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urlencode([*kept, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
