"""Requests to an OpenID Connect provider: checked addresses, a deadline, capped bodies.

Every URL goes through the webhook address guard (accounts.events.webhooks.addresses):
https only, every address the name resolves to must be public, and the connection is
made to the very address checked, so a name that resolves elsewhere a moment later
(DNS rebinding) reaches nothing new. OIDC_ALLOW_LOOPBACK admits http and loopback
providers, for local development and tests.

No redirect is followed and no proxy is taken from the environment. One request has
CONNECT_TIMEOUT_SECONDS to connect and TOTAL_TIMEOUT_SECONDS in all, name resolution
included: a deadline for the whole exchange, not per read, so a provider that drips
one byte at a time is cut off too. The request runs on its own short-lived event loop
because only cancellation bounds a whole exchange; call these functions from
synchronous code (views, commands, the worker), never from inside an event loop.

A body is read up to MAX_RESPONSE_BYTES and must be a JSON object nested at most
MAX_JSON_DEPTH levels. Refusals never carry the request's secrets: a detail names the
host and, at most, the status.
"""

import asyncio
import base64
import functools
import json
import re
import ssl
import time
from urllib.parse import quote_plus, urlencode

import httpx
from django.conf import settings

from accounts.events.webhooks.addresses import RefusedTarget, Target, check_target
from sso.errors import LoginRefused, OidcConfigurationError, ProviderUnavailable

CONNECT_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
# What the address guard's refusals call these requests.
REQUEST_NOUN = "OpenID Connect request"

# The characters that matter for nesting: an escape (two characters, so an escaped
# quote never ends a string), a quote, and the four brackets.
_JSON_STRUCTURE = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


def check_url(url: str) -> None:
    """OidcConfigurationError if `url` may not be requested; resolves the name, connects nowhere."""
    try:
        _target(url)
    except RefusedTarget as refusal:
        raise OidcConfigurationError(str(refusal)) from None


def get_json(url: str, *, bearer_token: str = "") -> dict:
    """The JSON object at `url` (HTTP 200 only); `bearer_token` authorizes a userinfo request."""
    headers = {"Accept": "application/json"}
    if bearer_token:
        headers["Authorization"] = f"Bearer {bearer_token}"
    target, status, body = _request("GET", url, headers=headers)
    if status != 200:
        raise LoginRefused("provider_error", detail=_status_detail(target, status))
    return _json_object(body, target)


def post_form(
    url: str, data: dict, *, basic_auth: tuple[str, str] | None = None
) -> tuple[int, dict]:
    """POST a form; the status and the JSON object answered, whatever the (non-5xx) status.

    The token endpoint answers its refusals with HTTP 400 (or 401) and an OAuth error
    object (RFC 6749 §5.2), which the caller reads.
    """
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if basic_auth:
        # RFC 6749 §2.3.1: the client id and secret are form-urlencoded before they are
        # joined and base64-encoded (many libraries skip this and break on ":" or "%").
        client_id, secret = basic_auth
        credentials = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
    content = urlencode(data).encode()
    target, status, body = _request("POST", url, headers=headers, content=content)
    if 300 <= status < 400:
        raise LoginRefused("provider_error", detail=_status_detail(target, status))
    return status, _json_object(body, target)


def _target(url: str) -> Target:
    return check_target(url, allow_loopback=bool(settings.OIDC_ALLOW_LOOPBACK), noun=REQUEST_NOUN)


def _status_detail(target: Target, status: int) -> str:
    if 300 <= status < 400:
        return f"{target.hostname} answered HTTP {status}, a redirect, which is not followed."
    return f"{target.hostname} answered HTTP {status}."


def _request(
    method: str, url: str, *, headers: dict, content: bytes = b""
) -> tuple[Target, int, bytes]:
    deadline = time.monotonic() + TOTAL_TIMEOUT_SECONDS
    try:
        target = _target(url)
    except RefusedTarget as refusal:
        raise LoginRefused("unsafe_url", detail=str(refusal)) from None
    tls = _tls_context(settings.OIDC_CA_BUNDLE)
    seconds = deadline - time.monotonic()
    try:
        if seconds <= 0:
            raise TimeoutError
        status, body = asyncio.run(_exchange(method, target, headers, content, tls, seconds))
    except (TimeoutError, httpx.TimeoutException):
        detail = f"{target.hostname} did not answer within {TOTAL_TIMEOUT_SECONDS:g} seconds."
        raise ProviderUnavailable("provider_unreachable", detail=detail) from None
    except httpx.HTTPError as error:
        # The class name only: an httpx error's text may quote the request.
        detail = f"{target.hostname} could not be reached ({error.__class__.__name__})."
        raise ProviderUnavailable("provider_unreachable", detail=detail) from None
    return target, status, body


async def _exchange(
    method: str, target: Target, headers: dict, content: bytes, tls: ssl.SSLContext, seconds: float
) -> tuple[int, bytes]:
    timeout = httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_SECONDS, seconds))
    # Compressed bodies are not accepted: the size cap counts the bytes that arrive.
    headers = {**headers, "Host": target.host_header, "Accept-Encoding": "identity"}
    # trust_env=False: no proxy from the environment may carry the request elsewhere.
    client = httpx.AsyncClient(verify=tls, trust_env=False, follow_redirects=False, timeout=timeout)
    # The connection goes to the checked address; sni_hostname makes the TLS handshake
    # send the real host name and check the certificate against it (the context has
    # check_hostname on), not against the pinned address.
    request = client.stream(
        method,
        target.pinned_url,
        content=content or None,
        headers=headers,
        extensions={"sni_hostname": target.hostname},
    )
    async with asyncio.timeout(seconds), client, request as response:
        if response.status_code >= 500:
            detail = _status_detail(target, response.status_code)
            raise ProviderUnavailable("provider_5xx", detail=detail)
        return response.status_code, await _read_capped(response, target)


async def _read_capped(response: httpx.Response, target: Target) -> bytes:
    too_large = LoginRefused(
        "response_too_large", detail=f"{target.hostname} answered more than 1 MiB."
    )
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        detail = f"{target.hostname} answered a {encoding[:32]}-encoded body, which is not read."
        raise LoginRefused("not_json", detail=detail)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise too_large
    return bytes(body)


@functools.cache
def _tls_context(ca_bundle: str) -> ssl.SSLContext:
    """The system CAs, plus OIDC_CA_BUNDLE when set; loaded once per process per bundle."""
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError):
            raise OidcConfigurationError(
                f"OIDC_CA_BUNDLE ({ca_bundle}) is not a readable PEM file of certificates."
            ) from None
    return context


def _json_object(body: bytes, target: Target) -> dict:
    not_json = LoginRefused("not_json", detail=f"{target.hostname} did not answer a JSON object.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise not_json from None
    if _nesting_exceeds(text, MAX_JSON_DEPTH):
        detail = f"{target.hostname} answered JSON nested deeper than {MAX_JSON_DEPTH} levels."
        raise LoginRefused("json_too_deep", detail=detail)
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise not_json from None
    if not isinstance(document, dict):
        raise not_json
    return document


def _nesting_exceeds(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit`, in one pass without
    recursion; it stops at the first bracket past the limit, so `[[[[...` is quick."""
    depth = 0
    in_string = False
    for match in _JSON_STRUCTURE.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str):
    # RFC 8259 §6: NaN and Infinity are not JSON numbers (Python's json accepts them).
    raise ValueError(f"{name} is not JSON")
