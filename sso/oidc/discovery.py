"""A provider's discovery document in, the metadata sign-in needs out (OpenID Connect
Discovery 1.0), or OidcConfigurationError with a message an admin can act on."""

from dataclasses import asdict, dataclass, fields
from urllib.parse import urlsplit

from sso.errors import LoginRefused, OidcConfigurationError
from sso.oidc import fetch
from sso.oidc.jwks import ALLOWED_ALGORITHMS

WELL_KNOWN_PATH = "/.well-known/openid-configuration"
# Discovery §3 lists more as REQUIRED; these are the ones sign-in uses.
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
OPTIONAL_ENDPOINTS = ("userinfo_endpoint", "end_session_endpoint")


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""
    token_endpoint_auth_methods_supported: tuple[str, ...] = ("client_secret_basic",)
    id_token_signing_alg_values_supported: tuple[str, ...] = ("RS256",)
    backchannel_logout_supported: bool = False
    frontchannel_logout_supported: bool = False

    def as_dict(self) -> dict:
        data = asdict(self)
        for name, value in data.items():
            if isinstance(value, tuple):
                data[name] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ProviderMetadata":
        known = {}
        for field in fields(cls):
            if field.name in data:
                value = data[field.name]
                known[field.name] = tuple(value) if isinstance(value, list) else value
        return cls(**known)


def discovery_url(issuer: str) -> str:
    # Discovery §4: any terminating "/" of the issuer is removed before the path is added.
    return issuer.rstrip("/") + WELL_KNOWN_PATH


def discover(issuer: str) -> ProviderMetadata:
    _check_issuer(issuer)
    url = discovery_url(issuer)
    try:
        document = fetch.get_json(url)
    except LoginRefused as refusal:
        raise OidcConfigurationError(
            f"The discovery document at {url} cannot be used: {refusal.detail}"
        ) from None
    # Discovery §4.3: the issuer in the document must be exactly the one configured,
    # or one provider could stand in for another (the mix-up attack).
    if document.get("issuer") != issuer:
        raise OidcConfigurationError(
            f"The discovery document names the issuer {_shown(document.get('issuer'))}, "
            f"not {issuer} as configured; they must match exactly, trailing slash included."
        )
    endpoints = {name: _endpoint(document, name, required=True) for name in REQUIRED_ENDPOINTS}
    endpoints |= {name: _endpoint(document, name, required=False) for name in OPTIONAL_ENDPOINTS}
    _check_response_types(document)
    _check_pkce(document)
    return ProviderMetadata(
        issuer=issuer,
        **endpoints,
        # Discovery §3: client_secret_basic is the default when the field is omitted.
        token_endpoint_auth_methods_supported=_strings(
            document, "token_endpoint_auth_methods_supported", ("client_secret_basic",)
        ),
        id_token_signing_alg_values_supported=_signing_algorithms(document),
        backchannel_logout_supported=_flag(document, "backchannel_logout_supported"),
        frontchannel_logout_supported=_flag(document, "frontchannel_logout_supported"),
    )


def _check_issuer(issuer: str) -> None:
    # OpenID Connect Core 1.0 §2 (iss): an https URL with no query or fragment.
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise OidcConfigurationError("The issuer is a URL without a query or a fragment.")
    fetch.check_url(issuer)


def _endpoint(document: dict, name: str, *, required: bool) -> str:
    value = document.get(name)
    if value is None or value == "":
        if required:
            raise OidcConfigurationError(f"The discovery document has no {name}.")
        return ""
    if not isinstance(value, str):
        raise OidcConfigurationError(f"The discovery document's {name} is not a URL.")
    try:
        fetch.check_url(value)
    except OidcConfigurationError as refusal:
        raise OidcConfigurationError(
            f"The discovery document's {name} ({value}) cannot be used: {refusal}"
        ) from None
    return value


def _check_response_types(document: dict) -> None:
    response_types = document.get("response_types_supported")
    if not isinstance(response_types, list):
        raise OidcConfigurationError("The discovery document has no response_types_supported.")
    if "code" not in response_types:
        raise OidcConfigurationError(
            "The provider does not offer the authorization code flow "
            "(response_types_supported lacks code)."
        )


def _check_pkce(document: dict) -> None:
    # RFC 8414 §2: an absent code_challenge_methods_supported says nothing (and many
    # providers leave it out); one that lists methods without S256 cannot do PKCE here.
    methods = document.get("code_challenge_methods_supported")
    if methods is not None and (not isinstance(methods, list) or "S256" not in methods):
        raise OidcConfigurationError(
            "The provider does not support PKCE with S256 "
            "(code_challenge_methods_supported lacks S256)."
        )


def _signing_algorithms(document: dict) -> tuple[str, ...]:
    algorithms = _strings(document, "id_token_signing_alg_values_supported", ("RS256",))
    if not set(algorithms) & set(ALLOWED_ALGORITHMS):
        raise OidcConfigurationError(
            f"The provider signs ID tokens with {', '.join(algorithms)} only; "
            f"accepted are {', '.join(ALLOWED_ALGORITHMS)}."
        )
    return algorithms


def _strings(document: dict, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise OidcConfigurationError(f"The discovery document's {name} is not a list of names.")
    return tuple(value)


def _flag(document: dict, name: str) -> bool:
    value = document.get(name, False)
    if not isinstance(value, bool):
        raise OidcConfigurationError(f"The discovery document's {name} is not true or false.")
    return value


def _shown(value) -> str:
    if isinstance(value, str) and value:
        return value[:200]
    return "nothing"
