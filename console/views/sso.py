"""Single sign-on: the service-provider details to copy into the IdP, and the IdP form.

Every change goes through sso.services; a MetadataError's message says what is wrong
with the pasted metadata or certificate (e.g. an expired certificate and its date).
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import AccountsError
from console.forms import IdpManualForm, IdpMetadataForm
from console.permissions import console_admin_required
from console.views.sso_status import sso_summary
from sso.certificates import describe
from sso.selectors import idp_of
from sso.services import idp_configure, idp_configure_from_metadata
from sso.sp import sp_certificate_pem, sp_urls

# Both IdP forms share option fields; distinct ids keep each label tied to its own input.
MANUAL_IDS = "id_manual_%s"


def _initial(idp) -> dict:
    if idp is None:
        return {"allow_idp_initiated": True, "jit_provisioning": False}
    return {
        "email_attribute": idp.email_attribute,
        "allow_idp_initiated": idp.allow_idp_initiated,
        "jit_provisioning": idp.jit_provisioning,
        "entity_id": idp.entity_id,
        "sso_url": idp.sso_url,
        "certificate": "\n".join(idp.certificates),
    }


def _page(request, *, metadata_form=None, manual_form=None, status=200):
    organization = request.user.organization
    idp = idp_of(organization)
    initial = _initial(idp)
    return render(
        request,
        "console/sso/index.html",
        {
            "nav": "sso",
            "sp": sp_urls(organization),
            "sp_certificate": describe(sp_certificate_pem(organization)),
            "sso": sso_summary(organization),
            "metadata_form": metadata_form or IdpMetadataForm(initial=initial),
            "manual_form": manual_form or IdpManualForm(initial=initial, auto_id=MANUAL_IDS),
            "open_form": "manual" if manual_form is not None else "metadata",
            "public_is_https": settings.PUBLIC_IS_HTTPS,
        },
        status=status,
    )


@console_admin_required
def sso_settings(request):
    return _page(request)


def _configure(request, form, configure):
    """Run one configure service, turning its refusal into the form's error."""
    if not form.is_valid():
        return None
    try:
        configure()
    except AccountsError as error:  # MetadataError and the other sso refusals
        form.add_error(None, str(error))
        return None
    messages.success(request, "Single sign-on settings saved.")
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
            metadata_xml=form.cleaned_data["metadata_xml"],
            **form.options(),
        ),
    )
    return saved or _page(request, metadata_form=form, status=400)


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
            **form.idp_fields(),
        ),
    )
    return saved or _page(request, manual_form=form, status=400)


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
            organization=organization, actor=Actor.for_user(request.user), enabled=enabled
        )
    except AccountsError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Single sign-on is on." if enabled else "Single sign-on is off.")
    return redirect("console:sso")


@console_admin_required
def sp_certificate_download(request):
    organization = request.user.organization
    response = HttpResponse(sp_certificate_pem(organization), content_type="application/x-pem-file")
    response["Content-Disposition"] = (
        f'attachment; filename="roster-{organization.slug}-sp-certificate.pem"'
    )
    return response
