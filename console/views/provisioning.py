"""User Provisioning: the SCIM base URL, provisioning tokens and setup guides.

A new token's secret is shown exactly once: the create POST hands it, encrypted, to the
next request through the session and redirects (POST/redirect/GET); the page that shows
it takes it out, answers `Cache-Control: no-store`, and on reload or Back finds nothing.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import AccountsError
from console import secret_handoff
from console.forms import TokenCreateForm
from console.pagination import keyset_page, page_size_from
from console.permissions import console_admin_required
from provisioning.models import ProvisioningToken
from provisioning.selectors import last_scim_request, provisioning_health, tokens_of
from provisioning.services import token_create, token_revoke

TOKEN_ORDERING = ("-created_at", "-id")


def scim_base_url() -> str:
    return settings.PUBLIC_BASE_URL + "/scim/v2/"


def _token_or_404(request, token_id) -> ProvisioningToken:
    token = tokens_of(request.user.organization).filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token in this organization.")
    return token


def _page(request, form):
    page = keyset_page(
        tokens_of(request.user.organization),
        ordering=TOKEN_ORDERING,
        cursor=request.GET.get("cursor", ""),
        size=page_size_from(request.GET.get("size")),
    )
    return render(
        request,
        "console/provisioning/index.html",
        {
            "nav": "provisioning",
            "scim_base_url": scim_base_url(),
            "last_scim": last_scim_request(request.user.organization),
            "health": provisioning_health(request.user.organization),
            "page": page,
            "form": form,
        },
        status=400 if form.is_bound else 200,
    )


@console_admin_required
def provisioning(request):
    return _page(request, TokenCreateForm())


@console_admin_required
@require_POST
def token_create_view(request):
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form)
    try:
        token, secret = token_create(
            organization=request.user.organization,
            label=form.cleaned_data["label"],
            expires_at=form.cleaned_data["expires_at"],
            actor=Actor.for_user(request.user),
            created_by=request.user,
        )
    except AccountsError as error:
        form.add_error(None, str(error))
        return _page(request, form)
    secret_handoff.hand_off(request.session, token_id=token.pk, secret=secret)
    return redirect("console:token_created", token_id=token.pk)


@console_admin_required
def token_created(request, token_id):
    token = _token_or_404(request, token_id)
    return secret_handoff.show_once(
        request,
        handoff_id=token.pk,
        template="console/provisioning/created.html",
        context={"nav": "provisioning", "token": token, "scim_base_url": scim_base_url()},
        gone=f"The secret of token {token.prefix} was shown once and cannot be shown again. "
        "If it was not copied, revoke the token and create a new one.",
        gone_to="console:provisioning",
    )


@console_admin_required
def token_revoke_view(request, token_id):
    token = _token_or_404(request, token_id)
    if request.method == "POST":
        try:
            token_revoke(token=token, actor=Actor.for_user(request.user))
        except AccountsError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request,
                f"Token “{token.label or token.prefix}” ({token.prefix}) is revoked; "
                "SCIM requests that use it are refused from now on.",
            )
        return redirect("console:provisioning")
    return render(
        request, "console/provisioning/revoke.html", {"nav": "provisioning", "token": token}
    )
