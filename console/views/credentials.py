"""A person's file-transfer credentials, from their user page: an admin adds an SSH key
for them, or revokes a key or an app password.

Only owners touch an owner's credentials (accounts.services.privileges): a key added to
an owner's account would let its holder log in to the file servers as that owner.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import capfirst
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import AccountsError, PrivilegeRefused
from accounts.services.privileges import check_console_actor
from console import selectors
from console.forms import AdminSshKeyAddForm
from console.permissions import console_admin_required
from console.views.confirm import confirmation
from console.views.users import render_user_detail, user_or_404
from transfer import services
from transfer.models import CredentialSource
from transfer.ssh_keys import KeyRefused

VERB = "change the file-transfer credentials of"


def _refusal(request, user):
    """None when the acting admin may change `user`'s credentials; else the page, 403."""
    try:
        check_console_actor(user, request.user, verb=VERB)
    except PrivilegeRefused as error:
        messages.error(request, str(error))
        return render_user_detail(request, user, status=403)
    return None


def _expiry(credential) -> str:
    return f"{credential.expires_at:%Y-%m-%d %H:%M} UTC" if credential.expires_at else "Never"


@console_admin_required
@require_POST
def ssh_key_add_view(request, user_id):
    user = user_or_404(request, user_id)
    refused = _refusal(request, user)
    if refused:
        return refused
    form = AdminSshKeyAddForm(request.POST)
    if not form.is_valid():
        return render_user_detail(request, user, key_form=form, status=400)
    try:
        key = services.ssh_key_add(
            user=user,
            public_key=form.cleaned_data["public_key"],
            label=form.cleaned_data["label"],
            source=CredentialSource.ADMIN,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
        )
    except (KeyRefused, AccountsError) as error:
        # The messages never quote the pasted text, and the form never re-fills it.
        form.add_error("public_key", str(error))
        return render_user_detail(request, user, key_form=form, status=400)
    messages.success(request, f"SSH key {key.fingerprint} added for {user.username}.")
    # Its own fragment, or the browser keeps the form's: the new key's row is in view.
    return redirect(reverse("console:user_detail", args=[user.pk]) + "#ssh_key-heading")


@dataclass(frozen=True)
class _Kind:
    """What differs between revoking an SSH key and an app password."""

    noun: str
    find: Callable  # (user, id) -> the person's credential, revoked or not, or None
    revoke: Callable  # (credential, actor, acting_user) -> the revoked credential
    facts: Callable  # credential -> what the confirmation names it by


KINDS = {
    "ssh_key": _Kind(
        "SSH key",
        selectors.ssh_key_of,
        lambda key, actor, acting_user: services.ssh_key_revoke(
            key=key, actor=actor, acting_user=acting_user
        ),
        lambda key: [("Fingerprint", key.fingerprint)],
    ),
    "app_password": _Kind(
        "app password",
        selectors.app_password_of,
        lambda password, actor, acting_user: services.app_password_revoke(
            password=password, actor=actor, acting_user=acting_user
        ),
        lambda password: [("Prefix", password.prefix)],
    ),
}


@console_admin_required
def credential_revoke_view(request, user_id, credential_id, kind):
    """GET asks for confirmation; POST revokes the person's SSH key or app password."""
    user = user_or_404(request, user_id)
    refused = _refusal(request, user)
    if refused:
        return refused
    what = KINDS[kind]
    credential = what.find(user, credential_id)
    if credential is None:
        raise Http404(f"No such {what.noun} for this person.")
    back = reverse("console:user_detail", args=[user.pk])
    name = credential.label or what.noun
    if request.method == "POST":
        what.revoke(credential, Actor.for_user(request.user), request.user)
        messages.success(request, f"{capfirst(what.noun)} “{name}” of {user.username} is revoked.")
        return redirect(back)
    return confirmation(
        request,
        nav="users",
        heading=f"Revoke {what.noun} “{name}” of {user.username}?",
        gone=f"{capfirst(what.noun)} “{name}” is already revoked" if credential.revoked_at else "",
        facts=[
            ("Person", user.username),
            *what.facts(credential),
            ("Source", credential.get_source_display()),
            ("Expires", _expiry(credential)),
        ],
        warning=f"{user.username} can no longer log in to the file servers with it, from "
        "their next login on. This cannot be undone.",
        button=f"Revoke “{name}”",
        cancel_url=back,
    )
