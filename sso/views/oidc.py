"""The OpenID Connect endpoints of one organization: the sign-in's start, the callback,
Roster's JWKS, and the provider's logout channels.

They translate HTTP to and from the protocol (sso.oidc) and call sso.services.oidc;
docs/oidc.md says what each checks and why.
"""

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.transactions import request_transaction
from config import metrics
from config.request_context import bind
from sso import keystore
from sso.errors import LoginRefused, OidcConfigurationError, ProviderUnavailable
from sso.models import ClientAuthMethod, OidcConnection
from sso.oidc import flow, keys, pending
from sso.oidc.connection import (
    SESSION_OIDC_KEY,
    client_auth,
    metadata_of,
    oidc_urls,
    provider_keys,
)
from sso.oidc.tokens import validate_id_token, validate_logout_token
from sso.redirects import safe_local_path
from sso.selectors import oidc_connection_by_id, oidc_connection_of, organization_by_slug
from sso.services import oidc as services
from sso.services import sso_sign_in_failed
from sso.views.saml import (
    ACS_UNATTRIBUTED,
    REFUSED_TEMPLATE,
    SLO_UNATTRIBUTED,
    over_organization_ceiling,
    unattributed,
    unavailable,
)

logger = logging.getLogger(__name__)

OIDC_BACKEND = "sso.backends.OidcBackend"
PROVIDER_UNAVAILABLE_TEMPLATE = "sso/provider_unavailable.html"
# Refusals shown as 403: the person is known and may not sign in; the rest are 400.
FORBIDDEN_REASONS = {"user_deactivated"}


def _organization(slug):
    organization = organization_by_slug(slug)
    if organization is None:
        raise Http404("No such organization.")
    bind(organization=organization.slug)
    return organization


# -- Starting a sign-in -----------------------------------------------------------------


def begin(
    request,
    organization,
    connection: OidcConnection,
    *,
    next_path: str,
    login_hint: str = "",
    tester=None,
    provider_initiated: bool = False,
):
    """A 302 to the provider's authorization endpoint, with this browser's state, nonce
    and PKCE verifier kept for the callback (sso.oidc.pending)."""
    try:
        metadata = (
            services.oidc_metadata_refresh(connection=connection)
            if connection.discovered
            else metadata_of(connection)
        )
    except OidcConfigurationError as exc:
        refusal = LoginRefused("discovery_refused", detail=str(exc))
        return _refuse(request, organization, connection, refusal, trusted=True)
    except ProviderUnavailable as exc:
        return _provider_unavailable(request, organization, connection, exc, state="")
    authorization = flow.new_authorization(
        authorization_endpoint=metadata.authorization_endpoint,
        client_id=connection.client_id,
        redirect_uri=oidc_urls(organization)["redirect_uri"],
        login_hint=login_hint[:255],
    )
    response = HttpResponseRedirect(authorization.url)
    pending.remember(
        request,
        response,
        organization_slug=organization.slug,
        pending=pending.PendingAuthorization(
            state=authorization.state,
            nonce=authorization.nonce,
            code_verifier=authorization.code_verifier,
            next_path=next_path,
            connection_id=connection.pk,
            tester_id=str(tester.pk) if tester is not None else None,
            started_at=0,
            provider_initiated=provider_initiated,
        ),
    )
    return response


def _target_link(organization, target: str) -> str:
    """Where a third-party initiated login may land (OIDC Core §4 `target_link_uri`):
    on PUBLIC_BASE_URL, at `/`, under /console/ or under /sso/<org>/; else the landing
    page. An open redirect here would let anyone bounce a signed-in person anywhere."""
    base = urlsplit(settings.PUBLIC_BASE_URL)
    parts = urlsplit((target or "").strip())
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return ""
    path = parts.path or "/"
    allowed = path == "/" or path.startswith(("/console/", f"/sso/{organization.slug}/"))
    if not allowed or "/../" in path or path.endswith("/.."):
        return ""
    return safe_local_path(path + (f"?{parts.query}" if parts.query else ""))


def login(request, organization, connection: OidcConnection):
    """GET /sso/<org>/login/ with OIDC active: RP-initiated (`next`) or third-party
    initiated (`iss`, `login_hint`, `target_link_uri`; OIDC Core §4, GET or POST)."""
    data = request.POST if request.method == "POST" else request.GET
    issuer = data.get("iss")
    if issuer is None:
        if request.method == "POST":
            return render(request, REFUSED_TEMPLATE, {"reason": "no_issuer"}, status=400)
        next_path = safe_local_path(request.GET.get("next")) or "/"
        return begin(request, organization, connection, next_path=next_path)
    # An initiation naming another issuer is refused before anything is fetched: a
    # mix-up attempt, or a misconfigured tile.
    if issuer != connection.issuer:
        logger.warning("oidc initiation refused", extra={"event": "sso.oidc_initiation_refused"})
        return render(request, REFUSED_TEMPLATE, {"reason": "wrong_issuer"}, status=400)
    if not connection.allow_idp_initiated:
        return render(request, REFUSED_TEMPLATE, {"reason": "idp_initiated_off"}, status=400)
    next_path = _target_link(organization, data.get("target_link_uri", "")) or "/"
    return begin(
        request,
        organization,
        connection,
        next_path=next_path,
        login_hint=data.get("login_hint", ""),
        provider_initiated=True,
    )


def test_login(request, organization, tester):
    """An owner's test sign-in through the OIDC connection, active or not: what switching
    to it needs (sso.services.oidc.sign_in_connection_switch)."""
    connection = oidc_connection_of(organization)
    if connection is None:
        return unavailable(request)
    return begin(
        request,
        organization,
        connection,
        next_path=reverse("console:sso"),
        tester=tester,
    )


# -- The callback -----------------------------------------------------------------------


def _refuse(
    request, organization, connection, exc: LoginRefused, *, trusted: bool, state: str = ""
):
    metrics.OIDC_REFUSALS.labels(reason=exc.reason).inc()
    sso_sign_in_failed(
        organization=organization,
        reason=exc.reason,
        subject=exc.subject,
        detail=exc.detail,
        trusted=trusted,
    )
    if connection is not None and trusted:
        services.connection_record_outcome(connection=connection, failure=exc.reason)
    logger.warning(
        "oidc login refused",
        extra={"event": "sso.login_failed", "reason": exc.reason, "detail": exc.detail[:300]},
    )
    status = 403 if exc.reason in FORBIDDEN_REASONS else 400
    response = render(request, REFUSED_TEMPLATE, {"reason": exc.reason}, status=status)
    if state:
        pending.forget(request, response, organization_slug=organization.slug, state=state)
    return response


def _refuse_unattributed(request, organization, exc: LoginRefused):
    """A callback nothing ties to a sign-in this browser began: anyone can send one, so
    it counts against the address (SSO_ACS_RATE) and is audited only up to a rate."""
    throttled = unattributed(request, ACS_UNATTRIBUTED)
    if throttled is not None:
        metrics.OIDC_REFUSALS.labels(reason=exc.reason).inc()
        return throttled
    return _refuse(request, organization, None, exc, trusted=False)


def _provider_unavailable(request, organization, connection, exc: ProviderUnavailable, state: str):
    metrics.OIDC_PROVIDER_FAILURES.labels(reason=exc.reason).inc()
    logger.warning(
        "oidc provider unavailable",
        extra={
            "event": "sso.provider_unavailable",
            "reason": exc.reason,
            "detail": exc.detail[:300],
        },
    )
    services.connection_record_outcome(connection=connection, failure=exc.reason)
    response = render(request, PROVIDER_UNAVAILABLE_TEMPLATE, status=502)
    if state:
        pending.forget(request, response, organization_slug=organization.slug, state=state)
    return response


def _tokens_and_claims(organization, connection, waiting, code: str):
    """Exchange the code and validate what comes back: the ID token, and the userinfo
    answer when a claim needed to match the person is only there."""
    metadata = metadata_of(connection)
    tokens = flow.exchange_code(
        token_endpoint=metadata.token_endpoint,
        client=client_auth(connection),
        code=code,
        redirect_uri=oidc_urls(organization)["redirect_uri"],
        code_verifier=waiting.code_verifier,
    )
    id_token = validate_id_token(
        tokens.id_token,
        issuer=connection.issuer,
        client_id=connection.client_id,
        keys=provider_keys(connection),
        nonce=waiting.nonce,
        access_token=tokens.access_token,
    )
    claims = dict(id_token.claims)
    needed = connection.email_claim or "preferred_username"
    if needed not in claims and metadata.userinfo_endpoint and tokens.access_token:
        userinfo = flow.fetch_userinfo(
            userinfo_endpoint=metadata.userinfo_endpoint,
            access_token=tokens.access_token,
            expected_sub=id_token.sub,
        )
        # The ID token's own claims win: it is the signed statement.
        claims = {**userinfo, **claims}
    return tokens, id_token, claims


@never_cache
@require_GET
def callback(request, slug):
    state = request.GET.get("state", "")
    waiting = pending.recall(request, state=state)
    connection = None
    if waiting is not None:
        connection = oidc_connection_by_id(waiting.connection_id, slug)
    if connection is None or not (connection.enabled or waiting.tester_id):
        # No sign-in this browser began, or one for a connection since replaced.
        organization = _organization(slug)
        return _refuse_unattributed(request, organization, LoginRefused("invalid_state"))
    organization = connection.organization
    bind(organization=organization.slug)
    try:
        services.oidc_state_spend(organization=organization, state=state)
    except LoginRefused as exc:
        return _refuse_unattributed(request, organization, exc)
    try:
        # RFC 9207: a provider that names itself in the response must be ours (mix-up).
        if "iss" in request.GET and request.GET["iss"] != connection.issuer:
            raise LoginRefused("wrong_issuer")
        if "error" in request.GET:
            raise LoginRefused("provider_error", detail=request.GET["error"][:64])
        code = request.GET.get("code", "")
        if not code:
            raise LoginRefused("no_code")
        tokens, id_token, claims = _tokens_and_claims(organization, connection, waiting, code)
    except ProviderUnavailable as exc:
        return _provider_unavailable(request, organization, connection, exc, state)
    except LoginRefused as exc:
        return _refuse(request, organization, connection, exc, trusted=True, state=state)
    throttled = over_organization_ceiling(request, organization)
    if throttled is not None:
        return throttled
    try:
        with request_transaction():
            user = services.oidc_sign_in(
                connection=connection,
                id_token=id_token,
                claims=claims,
                idp_initiated=waiting.provider_initiated,
            )
            if waiting.tester_id is not None:
                if str(user.pk) != waiting.tester_id:
                    raise LoginRefused("test_user_mismatch", subject=user.username)
                services.connection_record_proof(connection=connection, user=user)
            auth_login(request, user, backend=OIDC_BACKEND)
            request.session[SESSION_OIDC_KEY] = {
                "organization": organization.slug,
                "sub": id_token.sub,
                "sid": id_token.sid,
                "id_token": tokens.id_token,
            }
            request.session.save()
            services.oidc_session_record(
                connection=connection,
                user=user,
                sid=id_token.sid,
                session_key=request.session.session_key,
            )
    except LoginRefused as exc:
        return _refuse(request, organization, connection, exc, trusted=True, state=state)
    services.connection_record_outcome(connection=connection)
    bind(actor=str(user.pk))
    logger.info("oidc login", extra={"event": "sso.login"})
    metrics.OIDC_SIGN_INS.inc()
    response = HttpResponseRedirect(safe_local_path(waiting.next_path) or reverse("sso:landing"))
    pending.forget(request, response, organization_slug=slug, state=state)
    return response


# -- Roster's keys ----------------------------------------------------------------------


@require_GET
def jwks(request, slug):
    """The public key Roster signs its `private_key_jwt` client assertions with (RFC 7517)."""
    organization = _organization(slug)
    connection = oidc_connection_of(organization)
    published = []
    if (
        connection is not None
        and connection.client_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT
        and connection.signing_key_encrypted
    ):
        pem = keystore.decrypt_private_key(connection.signing_key_encrypted)
        published = [(connection.signing_key_id, pem)]
    response = JsonResponse(keys.public_jwks(published))
    response["Cache-Control"] = "public, max-age=300"
    return response


# -- Logout -----------------------------------------------------------------------------


def _logout_connection(organization) -> OidcConnection | None:
    connection = oidc_connection_of(organization)
    return connection if connection is not None and connection.enabled else None


def _logout_answer(status: int, error: str = ""):
    response = JsonResponse({"error": error} if error else {}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # The provider posts here server to server; the signed token is the proof.
@require_POST
def backchannel_logout(request, slug):
    """OpenID Connect Back-Channel Logout 1.0 §2.5-2.8: validate the logout token and end
    every Roster session of its `sub`/`sid` in the organization; 400 ends nothing."""
    organization = _organization(slug)
    connection = _logout_connection(organization)
    token = request.POST.get("logout_token", "")
    try:
        if connection is None:
            raise LoginRefused("sso_not_enabled")
        if not token:
            raise LoginRefused("logout_token_invalid", detail="missing")
        logout_token = validate_logout_token(
            token,
            issuer=connection.issuer,
            client_id=connection.client_id,
            keys=provider_keys(connection),
        )
        services.oidc_logout_token_spend(organization=organization, logout_token=logout_token)
    except ProviderUnavailable as exc:
        metrics.OIDC_PROVIDER_FAILURES.labels(reason=exc.reason).inc()
        return _logout_answer(400, "temporarily_unavailable")
    except LoginRefused as exc:
        logger.warning(
            "oidc back-channel logout refused",
            extra={
                "event": "sso.oidc_logout_refused",
                "reason": exc.reason,
                "detail": exc.detail[:300],
            },
        )
        throttled = unattributed(request, SLO_UNATTRIBUTED)
        if throttled is not None:
            return throttled
        return _logout_answer(400, "invalid_request")
    connection.organization = organization
    services.oidc_sessions_end(
        connection=connection, sub=logout_token.sub, sid=logout_token.sid, channel="backchannel"
    )
    return _logout_answer(200)


@xframe_options_exempt  # The provider loads this in an iframe (Front-Channel Logout §2).
@never_cache
@require_GET
def frontchannel_logout(request, slug):
    """OpenID Connect Front-Channel Logout 1.0 §2: `iss` and `sid` name the provider
    session that ended; the Roster sessions begun in it end. Without `sid`, the
    browser's own session ends if it came from this connection."""
    organization = _organization(slug)
    connection = _logout_connection(organization)
    issuer, sid = request.GET.get("iss", ""), request.GET.get("sid", "")
    if connection is not None and issuer == connection.issuer:
        connection.organization = organization
        if sid:
            services.oidc_sessions_end(connection=connection, sid=sid, channel="frontchannel")
        else:
            own = request.session.get(SESSION_OIDC_KEY) or {}
            if own.get("organization") == slug and own.get("sub"):
                services.oidc_sessions_end(
                    connection=connection, sub=own["sub"], channel="frontchannel"
                )
    return render(request, "sso/signed_out.html", {"organization": organization, "framed": True})
