"""Groups: the list with member counts and one group's members, both paginated."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import PrivilegeRefused
from accounts.models import Group, Role
from accounts.services import group_set_grants_admin
from console import selectors
from console.pagination import keyset_page, page_size_from
from console.permissions import console_admin_required

GROUP_ORDERING = ("display_name", "id")
MEMBER_ORDERING = ("username", "id")


class GroupSearchForm(forms.Form):
    q = forms.CharField(label="Search groups", required=False, max_length=200)


@console_admin_required
def group_list(request):
    form = GroupSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = keyset_page(
        selectors.groups_with_counts(request.user.organization, query=query),
        ordering=GROUP_ORDERING,
        cursor=request.GET.get("cursor", ""),
        size=page_size_from(request.GET.get("size")),
    )
    return render(
        request, "console/groups/list.html", {"nav": "groups", "form": form, "page": page}
    )


@console_admin_required
def group_detail(request, group_id):
    group = get_object_or_404(Group, organization=request.user.organization, pk=group_id)
    page = keyset_page(
        selectors.group_member_list(group),
        ordering=MEMBER_ORDERING,
        cursor=request.GET.get("cursor", ""),
        size=page_size_from(request.GET.get("size")),
    )
    return render(
        request,
        "console/groups/detail.html",
        {
            "nav": "groups",
            "group": group,
            "can_map_roles": request.user.role == Role.OWNER,
            "page": page,
            "events": selectors.audit_for_target(request.user.organization, "group", group.pk),
        },
    )


@console_admin_required
@require_POST
def group_role_mapping(request, group_id):
    """Map the group's members to the console admin role, or stop (owners only)."""
    group = get_object_or_404(Group, organization=request.user.organization, pk=group_id)
    grants_admin = request.POST.get("grants_admin") == "on"
    try:
        group_set_grants_admin(
            group=group,
            grants_admin=grants_admin,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
        )
    except PrivilegeRefused as error:
        messages.error(request, str(error))
        response = group_detail(request, group_id)
        response.status_code = 403
        return response
    messages.success(
        request,
        f"Members of {group.display_name} are console admins."
        if grants_admin
        else f"Membership of {group.display_name} no longer grants the admin role.",
    )
    return redirect("console:group_detail", group_id=group.pk)
