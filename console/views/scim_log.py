"""The SCIM request log: what the identity provider sent, what it was answered, and why."""

from django.conf import settings
from django.shortcuts import render

from accounts.models import AuditEvent
from console import selectors
from console.forms import ScimRequestFilterForm
from console.pagination import keyset_page, page_size_from
from console.permissions import console_admin_required
from provisioning.selectors import scim_requests

REQUEST_ORDERING = ("-at", "-id")


def _filter_form(request):
    choices = [
        (str(token.pk), f"{token.label} ({token.prefix})")
        for token in selectors.tokens_for_filter(request.user.organization)
    ]
    return ScimRequestFilterForm(request.GET or None, token_choices=choices)


def _with_events(organization, rows) -> set[str]:
    """The request ids of this page that caused audit events, in one query."""
    ids = {row.request_id for row in rows if row.request_id}
    if not ids:
        return set()
    return set(
        AuditEvent.objects.filter(organization=organization, request_id__in=ids)
        .values_list("request_id", flat=True)
        .distinct()
    )


@console_admin_required
def scim_request_list(request):
    organization = request.user.organization
    form = _filter_form(request)
    page = keyset_page(
        scim_requests(organization, **form.filters()),
        ordering=REQUEST_ORDERING,
        cursor=request.GET.get("cursor", ""),
        size=page_size_from(request.GET.get("size")),
    )
    return render(
        request,
        "console/provisioning/requests.html",
        {
            "nav": "provisioning",
            "form": form,
            "page": page,
            "with_events": _with_events(organization, page.items),
            "retention_days": settings.SCIM_LOG_RETENTION_DAYS,
        },
    )
