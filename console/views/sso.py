"""Single sign-on: the SAML identity provider and the OpenID Connect connection, the
URLs to copy into each, and which of the two people sign in through.

Every change goes through sso.services; a refusal's message says what is wrong (an
expired certificate and its date, a discovery document that does not fit, a provider
that did not answer) and is shown on the form that caused it.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import AccountsError, PrivilegeRefused
from accounts.models import Role
from accounts.selectors import verified_domain_names
from accounts.services.privileges import check_may_configure_sso
from console.forms import IdpManualForm, IdpMetadataForm, IdpOptionsForm, OidcConnectionForm
from console.permissions import console_admin_required
from console.views.sso_status import oidc_status, summarize
from sso.certificates import describe
from sso.errors import ProviderUnavailable
from sso.models import SpKeyState
from sso.oidc.connection import oidc_urls
from sso.selectors import idp_of, oidc_connection_of, sp_keys_of
from sso.services import (
    idp_configure,
    idp_configure_from_metadata,
    oidc_configure,
    oidc_set_enabled,
    sign_in_connection_switch,
    sp_keys_ensure,
    sso_requirement_set,
)
from sso.services.oidc import OIDC, SAML, provider_metadata
from sso.sp import sp_certificate_pem, sp_metadata_xml, sp_urls

# The IdP forms' ids stay distinct, so each label is tied to its own input.
MANUAL_IDS = "id_manual_%s"
OPTIONS_IDS = "id_options_%s"
# Where each form is on the page: a refused form reloads scrolled to itself.
FORM_ANCHORS = {
    "metadata": "idp-metadata",
    "manual": "idp-manual",
    "options": "sign-in-options",
    "requirement": "sso-requirement",
    "oidc": "oidc-settings",
    "switch": "sign-in-connection",
}
PROTOCOL_NAMES = {SAML: "SAML", OIDC: "OpenID Connect"}


def _idp_initial(idp) -> dict:
    if idp is None:
        return {}
    return {
        "entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "certificate": "\n".join(idp.certificates),
    }


def _options_initial(idp) -> dict:
    return {
        "email_attribute": idp.email_attribute,
        "allow_idp_initiated": idp.allow_idp_initiated,
        "jit_provisioning": idp.jit_provisioning,
    }


def _oidc_initial(connection) -> dict:
    """The stored settings, to edit; never the client secret."""
    if connection is None:
        return {}
    endpoints = {name: connection.metadata.get(name, "") for name in OidcConnectionForm.ENDPOINTS}
    return {
        **endpoints,
        "issuer": connection.issuer,
        "manual_endpoints": not connection.discovered,
        "client_id": connection.client_id,
        "client_auth_method": connection.client_auth_method,
        "email_claim": connection.email_claim,
        "jit_provisioning": connection.jit_provisioning,
        "allow_idp_initiated": connection.allow_idp_initiated,
    }


def _page(request, *, refused=None, form=None, requirement_error="", switch_error="", status=None):
    """The page; `refused` names the form ("metadata", "manual", "options", "oidc") that
    failed, `requirement_error` why requiring SSO was refused, `switch_error` why
    switching the sign-in connection was."""
    organization = request.user.organization
    idp = idp_of(organization)
    oidc = oidc_connection_of(organization)
    certificate = sp_certificate_pem(organization)
    forms = {
        "metadata": IdpMetadataForm(),
        "manual": IdpManualForm(initial=_idp_initial(idp), auto_id=MANUAL_IDS),
        "options": IdpOptionsForm(initial=_options_initial(idp), auto_id=OPTIONS_IDS)
        if idp
        else None,
        "oidc": OidcConnectionForm(initial=_oidc_initial(oidc)),
    }
    if refused is not None:
        forms[refused] = form
    panel_refused = "requirement" if requirement_error else ("switch" if switch_error else "")
    return render(
        request,
        "console/sso/index.html",
        {
            "nav": "sso",
            "sp": sp_urls(organization),
            "sp_certificate": describe(certificate) if certificate else None,
            "sso": summarize(idp, oidc),
            "saml_idp": idp,
            "oidc": oidc_status(oidc, saml_active=idp is not None and idp.enabled),
            "oidc_urls": oidc_urls(organization),
            "oidc_test_url": reverse("sso:login", args=[organization.slug]) + "?test=oidc",
            "metadata_form": forms["metadata"],
            "manual_form": forms["manual"],
            "options_form": forms["options"],
            "oidc_form": forms["oidc"],
            "refused_anchor": FORM_ANCHORS.get(refused or panel_refused, ""),
            "anchors": FORM_ANCHORS,
            "public_is_https": settings.PUBLIC_IS_HTTPS,
            "can_edit_sso": request.user.role == Role.OWNER,
            "verified_domains": verified_domain_names(organization),
            "requirement_error": requirement_error,
            "switch_error": switch_error,
            "last_sso_sign_in_at": request.user.last_sso_sign_in_at,
        },
        status=status or (400 if refused or requirement_error or switch_error else 200),
    )


@console_admin_required
def sso_settings(request):
    return _page(request)


def _configure(request, form, configure):
    """Run one configure service, turning its refusal into the form's error; `configure`
    may return the success message to show."""
    if not form.is_valid():
        return None
    try:
        message = configure()
    except PrivilegeRefused as error:
        # Admins see the settings read-only, so the refusal is a message, not a form error.
        messages.error(request, str(error))
        return _page(request, status=403)
    except ProviderUnavailable as error:  # its own message is a code: say what happened
        form.add_error(
            None,
            f"The identity provider did not answer: {error.detail} Nothing was saved; check "
            "the issuer URL, or try again in a moment.",
        )
        return None
    except AccountsError as error:  # MetadataError and the other sso refusals
        form.add_error(None, str(error))
        return None
    saved = message if isinstance(message, str) else "Single sign-on settings saved."
    messages.success(request, saved)
    return redirect("console:sso")


@console_admin_required
@require_POST
def sso_metadata(request):
    form = IdpMetadataForm(request.POST)
    saved = _configure(
        request,
        form,
        lambda: idp_configure_from_metadata(
            organization=request.user.organization,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
            metadata_xml=form.cleaned_data["metadata_xml"],
        ),
    )
    return saved or _page(request, refused="metadata", form=form)


@console_admin_required
@require_POST
def sso_manual(request):
    form = IdpManualForm(request.POST, auto_id=MANUAL_IDS)
    saved = _configure(
        request,
        form,
        lambda: idp_configure(
            organization=request.user.organization,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
            **form.idp_fields(),
        ),
    )
    return saved or _page(request, refused="manual", form=form)


@console_admin_required
@require_POST
def sso_options(request):
    organization = request.user.organization
    if idp_of(organization) is None:
        messages.error(request, "Configure an identity provider before its sign-in options.")
        return redirect("console:sso")
    form = IdpOptionsForm(request.POST, auto_id=OPTIONS_IDS)
    saved = _configure(
        request,
        form,
        lambda: idp_configure(
            organization=organization,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
            **form.options(),
        ),
    )
    return saved or _page(request, refused="options", form=form)


@console_admin_required
@require_POST
def sso_enabled(request):
    organization = request.user.organization
    if idp_of(organization) is None:
        messages.error(request, "Configure an identity provider before turning sign-on on.")
        return redirect("console:sso")
    enabled = request.POST.get("enabled") == "on"
    try:
        idp_configure(
            organization=organization,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
            enabled=enabled,
        )
    except AccountsError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Single sign-on is on." if enabled else "Single sign-on is off.")
    return redirect("console:sso")


def _oidc_save(request, form: OidcConnectionForm) -> str:
    organization, user = request.user.organization, request.user
    actor = Actor.for_user(user)
    # Before anything is fetched: an admin's form sends no request to any provider.
    check_may_configure_sso(user, actor, organization)
    endpoints = form.endpoints()
    metadata = provider_metadata(issuer=form.cleaned_data["issuer"], endpoints=endpoints)
    connection = oidc_configure(
        organization=organization,
        metadata=metadata,
        actor=actor,
        acting_user=user,
        discovered=endpoints is None,
        **form.connection_fields(),
    )
    if connection.enabled:
        return "OpenID Connect settings saved."
    return (
        "OpenID Connect settings saved. People go on signing in as before until you test "
        "this connection and switch to it."
    )


@console_admin_required
@require_POST
def sso_oidc(request):
    form = OidcConnectionForm(request.POST)
    saved = _configure(request, form, lambda: _oidc_save(request, form))
    return saved or _page(request, refused="oidc", form=form)


@console_admin_required
@require_POST
def sso_oidc_enabled(request):
    """OpenID Connect on or off while no SAML IdP is in use (otherwise: switch)."""
    enabled = request.POST.get("enabled") == "on"
    try:
        oidc_set_enabled(
            organization=request.user.organization,
            enabled=enabled,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
        )
    except AccountsError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            "Sign-in through OpenID Connect is on."
            if enabled
            else "Sign-in through OpenID Connect is off.",
        )
    return redirect("console:sso")


@console_admin_required
@require_POST
def sso_switch(request):
    """Make SAML or OpenID Connect the connection people sign in through; an owner does
    it after their own test sign-in through the new one (the service checks)."""
    to = request.POST.get("to", "")
    try:
        sign_in_connection_switch(
            organization=request.user.organization,
            to=to,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
        )
    except PrivilegeRefused as error:  # not an owner, or no test sign-in of theirs yet
        return _page(request, switch_error=str(error), status=403)
    except AccountsError as error:
        return _page(request, switch_error=str(error))
    messages.success(request, f"People now sign in through {PROTOCOL_NAMES[to]}.")
    return redirect("console:sso")


@console_admin_required
@require_POST
def sso_required(request):
    """Members and admins must sign in with SSO (owners keep the break-glass password)."""
    required = request.POST.get("required") == "on"
    try:
        sso_requirement_set(
            organization=request.user.organization,
            required=required,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
        )
    except PrivilegeRefused as error:
        messages.error(request, str(error))
        return _page(request, status=403)
    except AccountsError as error:  # SSO off, or no working SSO sign-in by this owner yet
        return _page(request, requirement_error=str(error))
    messages.success(
        request,
        "Members and admins now sign in with single sign-on only."
        if required
        else "Members and admins may sign in with a password again.",
    )
    return redirect("console:sso")


@console_admin_required
@require_POST
def sp_key_create(request):
    """Make the SP signing certificate now, for an IdP that wants SP metadata first."""
    sp_keys_ensure(organization=request.user.organization, actor=Actor.for_user(request.user))
    messages.success(request, "The service-provider certificate is ready to download.")
    return redirect("console:sso")


def _attachment(content: str, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@console_admin_required
def sp_certificate_download(request):
    organization = request.user.organization
    certificate = sp_certificate_pem(organization)
    if certificate is None:
        raise Http404("No SP certificate yet.")
    return _attachment(
        certificate,
        content_type="application/x-pem-file",
        filename=f"roster-{organization.slug}-sp-certificate.pem",
    )


@console_admin_required
def sp_metadata_download(request):
    organization = request.user.organization
    keys = sp_keys_of(organization)
    if SpKeyState.ACTIVE not in keys:
        raise Http404("No SP certificate yet.")
    xml = sp_metadata_xml(organization=organization, idp=idp_of(organization), keys=keys)
    if xml is None:
        return HttpResponse("Metadata unavailable.", status=503, content_type="text/plain")
    return _attachment(
        xml,
        content_type="application/samlmetadata+xml; charset=utf-8",
        filename=f"roster-{organization.slug}-sp-metadata.xml",
    )
