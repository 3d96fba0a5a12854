"""File transfer: who may log in to the file servers, the folders each group gets, and the
transfer keys the organization's own file servers ask Roster with (docs/console.md).

Owners change the setting and the keys; admins see them read-only, as they see the
single sign-on settings. Owners and admins grant folders. A new key's secret is shown
once (console.secret_handoff).
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import InvalidValue
from accounts.models import Role
from console import secret_handoff, selectors
from console.forms import FolderGrantForm, TransferKeyCreateForm, TransferPolicyForm
from console.permissions import console_admin_required
from console.views.confirm import confirmation
from transfer import selectors as transfer_selectors
from transfer import services
from transfer.models import TransferMode


def decision_api_url() -> str:
    return settings.PUBLIC_BASE_URL + "/transfer/v1/"


def _page(request, *, policy_form=None, grant_form=None, key_form=None, status=200):
    organization = request.user.organization
    policy = transfer_selectors.policy_for(organization)
    scope = list(policy.scope_groups.all()) if policy.mode == TransferMode.GROUPS else []
    policy_form = policy_form or TransferPolicyForm(
        organization=organization, initial={"mode": policy.mode, "groups": scope}
    )
    return render(
        request,
        "console/transfer/index.html",
        {
            "nav": "transfer",
            "policy": policy,
            "scope_groups": scope,
            "policy_form": policy_form,
            "grants": transfer_selectors.folder_grants_of(organization),
            "grant_form": grant_form or FolderGrantForm(organization=organization),
            "keys": transfer_selectors.transfer_keys_of(organization),
            "key_form": key_form or TransferKeyCreateForm(),
            "is_owner": request.user.role == Role.OWNER,
            "decision_api_url": decision_api_url(),
        },
        status=status,
    )


def _owners_only(request, what: str):
    """None for an owner; for an admin, the page read-only with why, as a 403."""
    if request.user.role == Role.OWNER:
        return None
    messages.error(request, f"Only owners can {what}.")
    return _page(request, status=403)


@console_admin_required
def transfer_settings(request):
    return _page(request)


@console_admin_required
@require_POST
def transfer_policy_view(request):
    refused = _owners_only(request, "change who may use file transfer")
    if refused:
        return refused
    organization = request.user.organization
    form = TransferPolicyForm(request.POST, organization=organization)
    if not form.is_valid():
        return _page(request, policy_form=form, status=400)
    try:
        services.transfer_policy_set(
            organization=organization,
            mode=form.cleaned_data["mode"],
            groups=list(form.cleaned_data["groups"]),
            actor=Actor.for_user(request.user),
        )
    except InvalidValue as error:
        form.add_error(None, str(error))
        return _page(request, policy_form=form, status=400)
    messages.success(request, f"File transfer: {TransferMode(form.cleaned_data['mode']).label}.")
    return redirect("console:transfer")


@console_admin_required
@require_POST
def folder_grant_add_view(request):
    form = FolderGrantForm(request.POST, organization=request.user.organization)
    if not form.is_valid():
        return _page(request, grant_form=form, status=400)
    group = form.cleaned_data["group"]
    try:
        grant = services.folder_grant_set(
            group=group,
            path=form.cleaned_data["path"],
            access=form.cleaned_data["access"],
            actor=Actor.for_user(request.user),
        )
    except InvalidValue as error:
        form.add_error("path", str(error))
        return _page(request, grant_form=form, status=400)
    messages.success(
        request, f"{group.display_name}: {grant.get_access_display().lower()} on {grant.path}."
    )
    return redirect("console:transfer")


@console_admin_required
def folder_grant_remove_view(request, grant_id):
    """GET asks for confirmation; POST removes the grant."""
    grant = selectors.folder_grant_of(request.user.organization, grant_id)
    if grant is None:
        raise Http404("No such folder grant in this organization.")
    group = grant.group
    if request.method == "POST":
        services.folder_grant_remove(
            group=group, path=grant.path, actor=Actor.for_user(request.user)
        )
        messages.success(request, f"Members of {group.display_name} no longer get {grant.path}.")
        return redirect("console:transfer")
    return confirmation(
        request,
        nav="transfer",
        heading=f"Remove {grant.path} from {group.display_name}?",
        facts=[
            ("Group", group.display_name),
            ("Folder", grant.path),
            ("Access", grant.get_access_display()),
        ],
        warning=f"Members of {group.display_name} lose {grant.path} at their next login, "
        "unless another of their groups grants it.",
        button=f"Remove {grant.path}",
        cancel_url=reverse("console:transfer"),
    )


def _key_or_404(request, key_id):
    key = selectors.transfer_key_of(request.user.organization, key_id)
    if key is None:
        raise Http404("No such transfer key in this organization.")
    return key


@console_admin_required
@require_POST
def transfer_key_create_view(request):
    refused = _owners_only(request, "create transfer keys")
    if refused:
        return refused
    form = TransferKeyCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, key_form=form, status=400)
    try:
        key, secret = services.transfer_key_create(
            organization=request.user.organization,
            label=form.cleaned_data["label"],
            actor=Actor.for_user(request.user),
        )
    except InvalidValue as error:
        form.add_error("label", str(error))
        return _page(request, key_form=form, status=400)
    secret_handoff.hand_off(request.session, token_id=f"transfer-key:{key.pk}", secret=secret)
    return redirect("console:transfer_key_created", key_id=key.pk)


@console_admin_required
def transfer_key_created(request, key_id):
    key = _key_or_404(request, key_id)
    return secret_handoff.show_once(
        request,
        handoff_id=f"transfer-key:{key.pk}",
        template="console/transfer/key_created.html",
        context={"nav": "transfer", "key": key, "decision_api_url": decision_api_url()},
        gone=f"The secret of transfer key {key.prefix} was shown once and cannot be shown "
        "again. If it was not copied, revoke the key and create a new one.",
        gone_to="console:transfer",
    )


@console_admin_required
def transfer_key_revoke_view(request, key_id):
    """GET asks for confirmation; POST revokes (owners only)."""
    key = _key_or_404(request, key_id)
    refused = _owners_only(request, "revoke transfer keys")
    if refused:
        return refused
    if request.method == "POST":
        services.transfer_key_revoke(key=key, actor=Actor.for_user(request.user))
        messages.success(
            request,
            f"Transfer key “{key.label}” ({key.prefix}) is revoked; "
            "file servers that use it are refused from now on.",
        )
        return redirect("console:transfer")
    last_used = f"{key.last_used_at:%Y-%m-%d %H:%M} UTC" if key.last_used_at else "Never"
    return confirmation(
        request,
        nav="transfer",
        heading=f"Revoke transfer key “{key.label}”?",
        gone=f"Transfer key “{key.label}” is already revoked" if key.revoked_at else "",
        facts=[("Label", key.label), ("Prefix", key.prefix), ("Last used", last_used)],
        warning="File servers that use this key get 401 from the decision API at once, so "
        "nobody can log in through them until they have a new key. This cannot be undone.",
        button=f"Revoke “{key.label}”",
        cancel_url=reverse("console:transfer"),
    )
