"""The transfer sign-in log: every login decision the file servers asked for, allowed or
refused and why, newest first."""

from django.conf import settings
from django.shortcuts import render

from console import selectors
from console.forms import TransferSignInFilterForm
from console.pagination import keyset_page, page_size_from
from console.permissions import console_admin_required
from transfer import selectors as transfer_selectors
from transfer import sign_in_log

SIGN_IN_ORDERING = ("-at", "-id")


def sign_in_rows(organization, sign_ins) -> list[tuple]:
    """Each row with its credential's label, in at most one query per kind of credential."""
    labels = selectors.credential_labels(organization, sign_ins)
    return [(row, labels.get(row.credential_id, "")) for row in sign_ins]


@console_admin_required
def transfer_sign_in_list(request):
    organization = request.user.organization
    sign_in_log.drain_before_reading()
    form = TransferSignInFilterForm(request.GET or None, organization=organization)
    filters = form.filters()
    person = filters.pop("person")
    sign_ins = selectors.sign_ins_of_people_named(
        transfer_selectors.organization_sign_ins(organization, **filters), person
    )
    page = keyset_page(
        sign_ins,
        ordering=SIGN_IN_ORDERING,
        cursor=request.GET.get("cursor", ""),
        size=page_size_from(request.GET.get("size")),
    )
    return render(
        request,
        "console/transfer/sign_ins.html",
        {
            "nav": "transfer",
            "form": form,
            "page": page,
            "rows": sign_in_rows(organization, page.items),
            "picked": filters["user"],
            "retention_days": settings.TRANSFER_LOG_RETENTION_DAYS,
        },
    )
