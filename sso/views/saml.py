"""The SAML endpoints of one organization: metadata, login, ACS and SLO.

They translate HTTP to and from SAML and call sso.services; validation lives in
sso.validation, state changes in sso.services.
"""

import logging

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from onelogin.saml2.auth import OneLogin_Saml2_Auth

from accounts.models import Role
from accounts.transactions import request_transaction
from config import metrics, ratelimit
from config.request_context import bind
from sso import pending, services
from sso.errors import LoginRefused, LogoutRefused
from sso.logout import logout_response_url, validate_logout_request
from sso.models import SpKeyState
from sso.oidc.connection import end_session_redirect
from sso.redirects import safe_local_path
from sso.selectors import organization_and_idp, sp_keys_of
from sso.sp import build_saml_settings, request_data, sp_metadata_xml, sp_urls
from sso.validation import validate_response

logger = logging.getLogger(__name__)

SAML_BACKEND = "sso.backends.SamlBackend"
SESSION_SAML_KEY = "saml"
REFUSED_TEMPLATE = "sso/refused.html"


# Per-address limits on what nothing attributes to an identity provider (docs/saml.md).
ACS_UNATTRIBUTED = "sso-acs"
SLO_UNATTRIBUTED = "sso-slo"
_UNATTRIBUTED_RATES = {ACS_UNATTRIBUTED: "SSO_ACS_RATE", SLO_UNATTRIBUTED: "SSO_SLO_RATE"}
ORGANIZATION_SIGN_INS = "sso-organization"
ORGANIZATION_RATE_EXCEEDED = "organization_rate_exceeded"


def organization_and_idp_or_404(slug):
    """The organization (404 if none) and its identity provider, enabled or not."""
    organization, idp = organization_and_idp(slug)
    if organization is None:
        raise Http404("No such organization.")
    bind(organization=organization.slug)
    return organization, idp


def organization_and_idp_counted(request, slug, scope: str):
    """As organization_and_idp_or_404, but a post for no organization is unattributed: a 404,
    or the 429 once this address passed its limit. Returns (organization, idp, refusal)."""
    organization, idp = organization_and_idp(slug)
    if organization is not None:
        bind(organization=organization.slug)
        return organization, idp, None
    throttled = unattributed(request, scope)
    if throttled is None:
        raise Http404("No such organization.")
    return None, None, throttled


def enabled_idp(idp):
    return idp if idp is not None and idp.enabled else None


def _saml_settings(organization, idp) -> dict:
    # Configuring an IdP makes the SP key pair (sso.services.idp_configure), so an
    # enabled IdP always has one; these endpoints only read it.
    return build_saml_settings(organization=organization, idp=idp, keys=sp_keys_of(organization))


def unavailable(request, status=404):
    return render(request, "sso/unavailable.html", status=status)


@require_GET
def metadata(request, slug):
    organization, idp = organization_and_idp_or_404(slug)
    keys = sp_keys_of(organization)
    if SpKeyState.ACTIVE not in keys:
        return unavailable(request)
    xml = sp_metadata_xml(organization=organization, idp=idp, keys=keys)
    if xml is None:
        return HttpResponse("Metadata unavailable.", status=503, content_type="text/plain")
    return HttpResponse(xml, content_type="application/samlmetadata+xml; charset=utf-8")


def login(request, organization, idp, *, tester=None):
    """GET /sso/<org>/login/ with SAML active (sso.views.login): the AuthnRequest.

    With `tester`, an owner's test sign-in through the IdP while it is not the active
    connection: what switching back to SAML needs (sso.services.oidc).
    """
    slug = organization.slug
    next_path = (
        reverse("console:sso") if tester else safe_local_path(request.GET.get("next")) or "/"
    )
    path = reverse("sso:login", args=[slug])
    auth = OneLogin_Saml2_Auth(
        request_data(request, path), old_settings=_saml_settings(organization, idp)
    )
    # The next path travels as RelayState; the ACS follows it only if it is local.
    redirect_url = auth.login(return_to=next_path)
    response = HttpResponseRedirect(redirect_url)
    pending.remember(
        response,
        organization_slug=slug,
        request_id=auth.get_last_request_id(),
        tester_id=str(tester.pk) if tester is not None else None,
    )
    return response


def testing_owner(request, organization):
    """The signed-in owner of this organization who may run a test sign-in, or None."""
    user = request.user
    if (
        user.is_authenticated
        and user.organization_id == organization.pk
        and user.role == Role.OWNER
        and user.is_active
    ):
        return user
    return None


def test_refused(request):
    return render(request, REFUSED_TEMPLATE, {"reason": "test_not_owner"}, status=403)


def _throttled(request, verdict: ratelimit.Verdict, scope: str):
    logger.warning("sso endpoint throttled", extra={"event": f"{scope}.throttled"})
    response = render(request, REFUSED_TEMPLATE, {"throttled": True}, status=429)
    response["Retry-After"] = str(max(verdict.retry_after, 1))
    return response


def unattributed(request, scope: str):
    """Count a request that nothing attributes to an identity provider against this
    client address: the 429 to answer once the address passed its limit, else None.

    Valid sign-ins are never counted: a company's browsers share one NAT address. What
    is counted is what anyone can post (junk, a replay), and past the limit it is
    refused before it writes an audit row.
    """
    rate = ratelimit.Rate.parse(getattr(settings, _UNATTRIBUTED_RATES[scope]))
    verdict = ratelimit.hit(scope, ratelimit.client_address(request), rate)
    return None if verdict.allowed else _throttled(request, verdict, scope)


def over_organization_ceiling(request, organization):
    """The 429 once the organization passed SSO_ORGANIZATION_SIGN_IN_RATE signed
    sign-ins in this window, audited once per window; None otherwise.

    A circuit breaker for a stolen IdP signing key minting sign-ins, far above what
    any real office sends.
    """
    rate = ratelimit.Rate.parse(settings.SSO_ORGANIZATION_SIGN_IN_RATE)
    verdict = ratelimit.hit(ORGANIZATION_SIGN_INS, str(organization.pk), rate)
    if verdict.allowed:
        return None
    metrics.SAML_REFUSALS.labels(reason=ORGANIZATION_RATE_EXCEEDED).inc()
    if verdict.first_refusal:
        services.sso_sign_in_failed(
            organization=organization,
            reason=ORGANIZATION_RATE_EXCEEDED,
            detail=f"More than {rate.limit} signed sign-ins in {rate.window} s; "
            "refused until the window ends.",
        )
    return _throttled(request, verdict, ORGANIZATION_SIGN_INS)


def _refuse(request, organization, exc: LoginRefused, *, trusted: bool):
    metrics.SAML_REFUSALS.labels(reason=exc.reason).inc()
    services.sso_sign_in_failed(
        organization=organization,
        reason=exc.reason,
        subject=exc.subject,
        detail=exc.detail,
        trusted=trusted,
    )
    logger.warning(
        "sso login refused",
        extra={"event": "sso.login_failed", "reason": exc.reason, "detail": exc.detail[:300]},
    )
    response = render(request, REFUSED_TEMPLATE, {"reason": exc.reason}, status=403)
    pending.forget(response, organization_slug=organization.slug)
    return response


def _refuse_unattributed(request, organization, exc: LoginRefused):
    """Refuse a post that proved no sender: audited up to a rate, and counted against
    this address, past whose limit it is answered 429 with nothing written."""
    throttled = unattributed(request, ACS_UNATTRIBUTED)
    if throttled is not None:
        metrics.SAML_REFUSALS.labels(reason=exc.reason).inc()
        return throttled
    return _refuse(request, organization, exc, trusted=False)


def _remember_saml_session(request, organization, assertion) -> None:
    request.session[SESSION_SAML_KEY] = {
        "organization": organization.slug,
        "name_id": assertion.name_id,
        "name_id_format": assertion.name_id_format,
        "name_qualifier": assertion.name_id_name_qualifier,
        "sp_name_qualifier": assertion.name_id_sp_name_qualifier,
        "session_index": assertion.session_index,
    }


def _validated_assertion(request, organization, idp, waiting, *, testing: bool):
    encoded = request.POST.get("SAMLResponse", "")
    if not encoded:
        raise LoginRefused("no_response")
    if len(encoded) > settings.SAML_MAX_RESPONSE_BYTES:
        raise LoginRefused("response_too_large")
    path = reverse("sso:acs", args=[organization.slug])
    return validate_response(
        saml_settings=_saml_settings(organization, idp),
        encoded_response=encoded,
        request_data=request_data(request, path),
        urls=sp_urls(organization),
        pending_request_id=waiting.request_id if waiting else "",
        # A test sign-in answers the request the owner started, never an unsolicited one.
        allow_unsolicited=idp.allow_idp_initiated and not testing,
        skew_seconds=settings.SAML_CLOCK_SKEW_SECONDS,
    )


@csrf_exempt  # The IdP posts here cross-site; the signed assertion is the proof.
@never_cache
@require_POST
def acs(request, slug):
    organization, idp, refusal = organization_and_idp_counted(request, slug, ACS_UNATTRIBUTED)
    if refusal is not None:
        return refusal
    waiting = pending.recall(request, organization_slug=organization.slug)
    tester_id = waiting.tester_id if waiting is not None else None
    if tester_id is None:
        idp = enabled_idp(idp)
    try:
        if idp is None:
            raise LoginRefused("sso_not_enabled")
        assertion = _validated_assertion(
            request, organization, idp, waiting, testing=bool(tester_id)
        )
    except LoginRefused as exc:
        # Nothing proved who sent this: anyone can post here.
        return _refuse_unattributed(request, organization, exc)
    throttled = over_organization_ceiling(request, organization)
    if throttled is not None:
        return throttled
    try:
        # The sign-in's writes (the spent assertion id, the audit event, the session and
        # its record for the user) commit together or not at all, in one transaction
        # whose services add no savepoints of their own.
        with request_transaction():
            services.assertion_consume(organization=organization, assertion=assertion)
            user = services.sso_sign_in(
                idp=idp, assertion=assertion, idp_initiated=not assertion.in_response_to
            )
            if tester_id is not None:
                if str(user.pk) != tester_id:
                    raise LoginRefused("test_user_mismatch", subject=user.username)
                services.connection_record_proof(connection=idp, user=user)
            # login() rotates the session key (cycle_key) and records the session for
            # the user, so deactivation or deletion ends it. The session row is written
            # here, once, so it commits with the sign-in (accounts.session_store).
            auth_login(request, user, backend=SAML_BACKEND)
            _remember_saml_session(request, organization, assertion)
            request.session.save()
    except LoginRefused as exc:
        if exc.reason == "replayed":
            # Whoever captured a signed response can post it again: it proves no sender.
            return _refuse_unattributed(request, organization, exc)
        # The refusal rolled the sign-in back; the assertion stays spent all the same.
        services.assertion_spend(organization=organization, assertion=assertion)
        return _refuse(request, organization, exc, trusted=True)
    bind(actor=str(user.pk))
    logger.info("sso login", extra={"event": "sso.login"})
    metrics.SAML_SIGN_INS.inc()
    target = safe_local_path(request.POST.get("RelayState")) or reverse("sso:landing")
    response = HttpResponseRedirect(target)
    pending.forget(response, organization_slug=slug)
    return response


def _slo_auth(request, organization, idp):
    path = reverse("sso:slo", args=[organization.slug])
    return OneLogin_Saml2_Auth(
        request_data(request, path), old_settings=_saml_settings(organization, idp)
    )


def _signed_out(request, organization, status=200, *, no_idp_answer=False):
    context = {"organization": organization, "no_idp_answer": no_idp_answer}
    return render(request, "sso/signed_out.html", context, status=status)


def _idp_logout_request(request, organization, idp):
    """The IdP ends its session and tells us (HTTP-Redirect binding, signed).

    Only the session the request names ends: this organization's IdP signed it, and
    the browser's SSO session carries the same NameID. The request id is single-use.
    """
    auth = _slo_auth(request, organization, idp)
    path = reverse("sso:slo", args=[organization.slug])
    try:
        logout_request = validate_logout_request(
            auth, request_data(request, path), skew_seconds=settings.SAML_CLOCK_SKEW_SECONDS
        )
        services.logout_request_consume(organization=organization, logout_request=logout_request)
    except LogoutRefused as exc:
        logger.warning(
            "saml logout request refused",
            extra={"event": "sso.slo_refused", "reason": exc.reason, "detail": exc.detail[:300]},
        )
        throttled = unattributed(request, SLO_UNATTRIBUTED)
        return throttled or _signed_out(request, organization, status=400)
    saml = request.session.get(SESSION_SAML_KEY)
    if services.session_is_named_by(saml, organization=organization, logout_request=logout_request):
        auth_logout(request)
    else:
        logger.info("saml logout request names another session", extra={"event": "sso.slo_other"})
    if not idp.slo_url:
        # Nowhere to send the LogoutResponse: say so on the page instead of failing.
        return _signed_out(request, organization, no_idp_answer=True)
    return HttpResponseRedirect(logout_response_url(auth, logout_request, idp.slo_url))


def _sp_logout(request, organization, idp):
    """The logout button: end the local session always, then the IdP's when it has SLO."""
    saml = request.session.get(SESSION_SAML_KEY) or {}
    provider_logout = end_session_redirect(request.session, organization)
    auth_logout(request)
    if provider_logout:
        return _continue_to_provider(request, provider_logout)
    if idp is None or not idp.slo_url or saml.get("organization") != organization.slug:
        return HttpResponseRedirect(reverse("sso:slo", args=[organization.slug]))
    auth = _slo_auth(request, organization, idp)
    redirect_url = auth.logout(
        return_to=reverse("sso:signin"),
        name_id=saml.get("name_id") or None,
        session_index=saml.get("session_index") or None,
        nq=saml.get("name_qualifier") or None,
        name_id_format=saml.get("name_id_format") or None,
        spnq=saml.get("sp_name_qualifier") or None,
    )
    return _continue_to_provider(request, redirect_url)


def _continue_to_provider(request, url: str):
    """The sign-out button's answer when the identity provider's session ends too: a
    page that goes on to the provider by GET, not a redirect. CSP3 form-action applies
    to every redirect of a form's navigation, so a 302 from this POST to the provider
    is blocked by `form-action 'self'` (as sso.views.portal explains for sign-in)."""
    return render(request, "sso/signing_out.html", {"provider_url": url})


@never_cache
@require_http_methods(["GET", "POST"])
def slo(request, slug):
    """GET: the IdP's SAML logout messages, or the signed-out page. POST: sign out.

    Signing out and the signed-out page are never limited; logout messages that fail
    validation count against the sender's address (SSO_SLO_RATE).
    """
    organization, idp, refusal = organization_and_idp_counted(request, slug, SLO_UNATTRIBUTED)
    if refusal is not None:
        return refusal
    idp = enabled_idp(idp)
    if request.method == "POST":
        return _sp_logout(request, organization, idp)
    if idp is not None and "SAMLRequest" in request.GET:
        return _idp_logout_request(request, organization, idp)
    if idp is not None and "SAMLResponse" in request.GET:
        # The answer to our LogoutRequest; the local session already ended before it.
        auth = _slo_auth(request, organization, idp)
        auth.process_slo(keep_local_session=True)
        if auth.get_errors():
            logger.info("saml logout response not accepted", extra={"event": "sso.slo_response"})
            throttled = unattributed(request, SLO_UNATTRIBUTED)
            if throttled is not None:
                return throttled
    return _signed_out(request, organization)
