"""Activity: the audit log, filtered, paginated and exportable as CSV."""

import csv
import json

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import ActorType
from console import selectors
from console.forms import ActivityFilterForm
from console.pagination import keyset_page, page_size_from
from console.permissions import console_admin_required
from console.views.targets import target_links

EVENT_ORDERING = ("-occurred_at", "-id")
CSV_COLUMNS = (
    "occurred_at",
    "action",
    "actor_type",
    "actor_id",
    "actor_label",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "request_id",
)
# OWASP "CSV injection": a cell starting with one of these runs as a formula in a
# spreadsheet; a leading apostrophe makes it text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _actor_choices(organization) -> list[tuple[str, str]]:
    choices = [
        (f"{ActorType.USER}:{admin.pk}", f"Admin: {admin.email or admin.username}")
        for admin in selectors.console_admins(organization)
    ]
    choices += [
        (f"{ActorType.TOKEN}:{token.pk}", f"Token: {token.label} ({token.prefix})")
        for token in selectors.tokens_for_filter(organization)
    ]
    choices.append((ActorType.SYSTEM, "System"))
    return choices


def _filter_form(request):
    return ActivityFilterForm(
        request.GET or None, actor_choices=_actor_choices(request.user.organization)
    )


@console_admin_required
def activity_list(request):
    form = _filter_form(request)
    events = selectors.activity(request.user.organization, **form.filters())
    page = keyset_page(
        events,
        ordering=EVENT_ORDERING,
        cursor=request.GET.get("cursor", ""),
        size=page_size_from(request.GET.get("size")),
    )
    links = target_links(request.user.organization, page.items)
    rows = list(zip(page.items, links, strict=True))
    export_query = request.GET.copy()
    export_query.pop("cursor", None)
    export_query.pop("size", None)
    return render(
        request,
        "console/activity/list.html",
        {
            "nav": "activity",
            "form": form,
            "page": page,
            "rows": rows,
            "export_query": export_query.urlencode(),
        },
    )


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer to stream."""

    def write(self, value):
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _csv_rows(events):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                event.occurred_at.isoformat(),
                event.action,
                event.actor_type,
                event.actor_id,
                _cell(event.actor_label),
                event.target_type,
                event.target_id,
                _cell(event.target_label),
                _cell(json.dumps(event.changes, sort_keys=True) if event.changes else ""),
                event.request_id,
            ]
        )


@console_admin_required
def activity_export(request):
    """The filtered log as CSV, streamed row by row so a large export is never in memory."""
    form = _filter_form(request)
    organization = request.user.organization
    events = selectors.activity(organization, **form.filters()).order_by(*EVENT_ORDERING)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{organization.slug}-activity-{stamp}.csv"'
    )
    response["Cache-Control"] = "no-store"
    return response
