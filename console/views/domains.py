"""Verified domains: the DNS record that proves each, its state and last check.

Owners add, check and remove (accounts.services.domains); admins see the page
read-only, as they see the single sign-on settings.
"""

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.domain_verification import record_name, record_value
from accounts.errors import AccountsError, PrivilegeRefused
from accounts.models import Role
from accounts.selectors import domain_of, domains_of
from accounts.services import domain_add, domain_check, domain_remove
from console.forms import DomainAddForm
from console.permissions import console_admin_required


def _page(request, *, form=None, status=200):
    organization = request.user.organization
    domains = [
        (domain, record_name(domain.domain), record_value(domain.verification_token))
        for domain in domains_of(organization)
    ]
    return render(
        request,
        "console/sso/domains.html",
        {
            "nav": "sso",
            "domains": domains,
            "form": form or DomainAddForm(),
            "can_manage_domains": request.user.role == Role.OWNER,
            "grace_days": settings.DOMAIN_RECHECK_GRACE_DAYS,
        },
        status=status,
    )


def _domain_or_404(request, domain_id):
    domain = domain_of(request.user.organization, domain_id)
    if domain is None:
        raise Http404("No such domain in this organization.")
    return domain


def _refused(request, error: PrivilegeRefused):
    messages.error(request, str(error))
    return _page(request, status=403)


@console_admin_required
def domain_list(request):
    return _page(request)


@console_admin_required
@require_POST
def domain_add_view(request):
    form = DomainAddForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        domain = domain_add(
            organization=request.user.organization,
            domain=form.cleaned_data["domain"],
            actor=Actor.for_user(request.user),
            acting_user=request.user,
        )
    except PrivilegeRefused as error:
        return _refused(request, error)
    except AccountsError as error:
        form.add_error("domain", str(error))
        return _page(request, form=form, status=400)
    messages.success(request, f"{domain.domain} added. Publish its TXT record, then check it.")
    return redirect("console:domains")


@console_admin_required
@require_POST
def domain_check_view(request, domain_id):
    domain = _domain_or_404(request, domain_id)
    try:
        checked = domain_check(
            domain=domain, actor=Actor.for_user(request.user), acting_user=request.user
        )
    except PrivilegeRefused as error:
        return _refused(request, error)
    except AccountsError as error:
        messages.error(request, str(error))
        return redirect("console:domains")
    if checked.is_verified:
        messages.success(request, f"{checked.domain} is verified. {checked.last_check_detail}")
    else:
        messages.error(request, f"{checked.domain} is not verified: {checked.last_check_detail}")
    return redirect("console:domains")


@console_admin_required
def domain_remove_view(request, domain_id):
    """GET asks for confirmation (owners only); POST removes."""
    domain = _domain_or_404(request, domain_id)
    if request.method != "POST":
        if request.user.role != Role.OWNER:
            return _refused(request, PrivilegeRefused("Only owners can change verified domains."))
        return render(request, "console/sso/remove_domain.html", {"nav": "sso", "domain": domain})
    try:
        domain_remove(domain=domain, actor=Actor.for_user(request.user), acting_user=request.user)
    except PrivilegeRefused as error:
        return _refused(request, error)
    messages.success(request, f"{domain.domain} removed.")
    return redirect("console:domains")
