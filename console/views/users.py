"""Users: a searchable list that stays fast at 100,000 users, detail and the few actions
an admin may take by hand (the identity provider remains the source of truth)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.models import Role
from accounts.services import (
    user_deactivate,
    user_link_to_idp,
    user_reactivate,
    user_set_role,
)
from console import selectors
from console.forms import AdminSshKeyAddForm, RoleForm, UserFilterForm, valid_filters
from console.pagination import keyset_page, page_size_from
from console.permissions import console_admin_required
from console.views.transfer_sign_ins import sign_in_rows
from transfer import selectors as transfer_selectors
from transfer import sign_in_log

# Newest first, through the (organization, created_at, id) index.
USER_ORDERING = ("-created_at", "-id")


def user_or_404(request, user_id):
    user = selectors.user_detail(request.user.organization, user_id)
    if user is None:
        raise Http404("No such user in this organization.")
    return user


@console_admin_required
def user_list(request):
    organization = request.user.organization
    form = UserFilterForm(request.GET or None, organization=organization)
    filters = valid_filters(form)
    users = selectors.user_search(
        organization,
        query=filters.get("q") or "",
        status=filters.get("status") or "",
        group=filters.get("group"),
    )
    page = keyset_page(
        users,
        ordering=USER_ORDERING,
        cursor=request.GET.get("cursor", ""),
        size=page_size_from(request.GET.get("size")),
    )
    return render(
        request,
        "console/users/list.html",
        {"nav": "users", "form": form, "page": page, "filtered": any(filters.values())},
    )


def _file_transfer(user, key_form) -> dict:
    """The person's login name, credentials and recent sign-ins on the file servers."""
    sign_in_log.drain_before_reading()
    sign_ins = transfer_selectors.recent_sign_ins(user)
    return {
        "login_name": transfer_selectors.login_name_of(user),
        "ssh_keys": transfer_selectors.ssh_keys_of(user),
        "app_passwords": transfer_selectors.app_passwords_of(user),
        "sign_ins": sign_in_rows(user.organization, sign_ins),
        "ssh_key_form": key_form or AdminSshKeyAddForm(),
        "now": timezone.now(),
    }


def _custom_values(user) -> list[tuple[str, str]]:
    """(name, shown value) of the user's custom attributes; a list shows its values."""
    return [
        (name, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
        for name, value in (user.custom_attributes or {}).items()
    ]


def render_user_detail(request, user, *, key_form=None, status=200):
    """The user's page; `key_form` is a refused "Add an SSH key" form to show again."""
    can_manage_owners = request.user.role == Role.OWNER
    return render(
        request,
        "console/users/detail.html",
        {
            "nav": "users",
            "subject": user,
            "custom_values": _custom_values(user),
            "memberships": user.memberships.all(),
            "events": selectors.audit_for_target(request.user.organization, "user", user.pk),
            "role_form": RoleForm(initial={"role": user.role}),
            "can_manage_owners": can_manage_owners,
            "can_manage_credentials": can_manage_owners or user.role != Role.OWNER,
            "transfer": _file_transfer(user, key_form),
        },
        status=status,
    )


@console_admin_required
def user_detail(request, user_id):
    return render_user_detail(request, user_or_404(request, user_id))


@console_admin_required
def user_set_active_confirm(request, user_id, active):
    """A confirmation page: deactivation ends the person's sessions at once."""
    user = user_or_404(request, user_id)
    if request.method == "POST":
        actor = Actor.for_user(request.user)
        try:
            if active:
                user_reactivate(user=user, actor=actor, acting_user=request.user)
                messages.success(request, f"{user.username} is active again.")
            else:
                user_deactivate(user=user, actor=actor, acting_user=request.user)
                messages.success(request, f"{user.username} is deactivated.")
        except AccountsError as error:
            messages.error(request, str(error))
        return redirect("console:user_detail", user_id=user.pk)
    return render(
        request,
        "console/users/confirm_active.html",
        {"nav": "users", "subject": user, "active": active},
    )


@console_admin_required
@require_POST
def user_role(request, user_id):
    user = user_or_404(request, user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("console:user_detail", user_id=user.pk)
    role = form.cleaned_data["role"]
    try:
        user_set_role(
            user=user, role=role, actor=Actor.for_user(request.user), acting_user=request.user
        )
    except AccountsError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{user.username} now has the {Role(role).label} role.")
    return redirect("console:user_detail", user_id=user.pk)


@console_admin_required
@require_POST
def user_idp_link(request, user_id):
    """An owner hands a console-made user to the identity provider, or takes it back."""
    user = user_or_404(request, user_id)
    linked = request.POST.get("linked") == "on"
    try:
        user_link_to_idp(
            user=user, linked=linked, actor=Actor.for_user(request.user), acting_user=request.user
        )
    except AccountsError as error:
        messages.error(request, str(error))
    else:
        state = "linked to" if linked else "unlinked from"
        messages.success(request, f"{user.username} is {state} the identity provider.")
    return redirect("console:user_detail", user_id=user.pk)
