import json
from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from accounts.models import AuditAction

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters replaced ("" or None removes one)."""
    query = context["request"].GET.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value not in ("", None):
            query[name] = value
    encoded = query.urlencode()
    return "?" + encoded if encoded else "?"


@register.filter
def action_label(action: str) -> str:
    """ "sso.configured" -> "Single sign-on configured": the label the Activity filter shows."""
    try:
        return AuditAction(action).label
    except ValueError:  # an action recorded by a newer release
        return action.replace(".", " ").replace("_", " ").capitalize()


@register.filter
def ago(moment) -> str:
    """ "5 minutes ago", or "just now" under a minute (timesince says "0 minutes")."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
