import json

from django import template

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
    """ "user.deactivated" -> "User deactivated", for the activity tables."""
    return action.replace(".", " ").replace("_", " ").capitalize()


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
