"""Custom user attributes: what the organization's identity provider may send beyond
the SCIM schemas (accounts.services.custom_attributes).

Owners declare, change and delete; admins see the declarations read-only, as they
see the verified domains.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.custom_attributes import MAX_DECLARATIONS
from accounts.errors import AccountsError, PrivilegeRefused
from accounts.models import Role
from accounts.selectors import custom_attribute_of, custom_attributes_of
from accounts.services.custom_attributes import (
    custom_attribute_change,
    custom_attribute_declare,
    custom_attribute_delete,
)
from console.forms import CustomAttributeChangeForm, CustomAttributeDeclareForm
from console.permissions import console_admin_required
from console.views.confirm import confirmation
from provisioning.custom_attributes import extension_urn


def _page(request, *, form=None, status=200):
    organization = request.user.organization
    attributes = [
        (
            attribute,
            CustomAttributeChangeForm(
                initial={"description": attribute.description, "indexed": attribute.indexed},
                prefix=f"a{attribute.pk}",
            ),
        )
        for attribute in custom_attributes_of(organization)
    ]
    return render(
        request,
        "console/provisioning/custom_attributes.html",
        {
            "nav": "provisioning",
            "attributes": attributes,
            "form": form or CustomAttributeDeclareForm(),
            "can_declare": request.user.role == Role.OWNER,
            "urn": extension_urn(organization.slug),
            "limit": MAX_DECLARATIONS,
        },
        status=status,
    )


def _attribute_or_404(request, attribute_id):
    attribute = custom_attribute_of(request.user.organization, attribute_id)
    if attribute is None:
        raise Http404("No such custom attribute in this organization.")
    return attribute


def _refused(request, error: PrivilegeRefused):
    messages.error(request, str(error))
    return _page(request, status=403)


@console_admin_required
def custom_attribute_list(request):
    """GET lists the declarations; POST declares one (owners)."""
    if request.method != "POST":
        return _page(request)
    form = CustomAttributeDeclareForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        attribute = custom_attribute_declare(
            organization=request.user.organization,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
            **form.cleaned_data,
        )
    except PrivilegeRefused as error:
        return _refused(request, error)
    except AccountsError as error:
        form.add_error(None, str(error))
        return _page(request, form=form, status=400)
    messages.success(
        request,
        f"{attribute.name} declared. Refresh the attributes in your identity provider to map it.",
    )
    return redirect("console:custom_attributes")


@console_admin_required
@require_POST
def custom_attribute_change_view(request, attribute_id):
    attribute = _attribute_or_404(request, attribute_id)
    form = CustomAttributeChangeForm(request.POST, prefix=f"a{attribute.pk}")
    if not form.is_valid():
        problems = " ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"{attribute.name}: {problems}")
        return _page(request, status=400)
    try:
        custom_attribute_change(
            attribute=attribute,
            actor=Actor.for_user(request.user),
            acting_user=request.user,
            **form.cleaned_data,
        )
    except PrivilegeRefused as error:
        return _refused(request, error)
    except AccountsError as error:
        messages.error(request, f"{attribute.name}: {error}")
        return _page(request, status=400)
    messages.success(request, f"{attribute.name} saved.")
    return redirect("console:custom_attributes")


@console_admin_required
def custom_attribute_delete_view(request, attribute_id):
    """GET asks for confirmation (owners only); POST deletes and purges the values."""
    attribute = _attribute_or_404(request, attribute_id)
    if request.method != "POST":
        if request.user.role != Role.OWNER:
            return _refused(request, PrivilegeRefused("Only owners can change custom attributes."))
        return confirmation(
            request,
            nav="provisioning",
            heading=f"Delete the custom attribute {attribute.name}?",
            facts=[("Name", attribute.name), ("Type", attribute.get_type_display())],
            warning="Every user's value of it is deleted too, and your identity provider's "
            "writes to it are ignored from now on. Declaring the name again starts empty.",
            button="Delete attribute and its values",
            cancel_url=reverse("console:custom_attributes"),
        )
    try:
        purged = custom_attribute_delete(
            attribute=attribute, actor=Actor.for_user(request.user), acting_user=request.user
        )
    except PrivilegeRefused as error:
        return _refused(request, error)
    messages.success(request, f"{attribute.name} deleted, with the values of {purged} users.")
    return redirect("console:custom_attributes")
