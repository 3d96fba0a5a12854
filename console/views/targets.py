"""Where an audit event's target lives in the console, so each row can link to it."""

from urllib.parse import urlencode

from django.urls import reverse

from accounts.models import Group, User
from accounts.selectors import parse_id

# Targets with a detail page of their own; the model tells whether it still exists.
_DETAIL_PAGES = {
    "user": ("console:user_detail", "user_id", User),
    "group": ("console:group_detail", "group_id", Group),
}
# Targets that are one section of the console per organization.
_SECTION_PAGES = {
    "token": "console:provisioning",
    "provisioning_token": "console:provisioning",
    "sso": "console:sso",
    "saml_idp": "console:sso",
    "saml_sp_key": "console:sso",
    "identity_provider": "console:sso",
    "transfer_key": "console:transfer",
}


def _history_url(target_type: str, target_id: str) -> str:
    return reverse("console:activity") + "?" + urlencode({"target": f"{target_type}:{target_id}"})


def target_links(organization, events) -> list[str]:
    """A link per event to its target's page, in at most one query per target type.

    A user or group that no longer exists links to its history in the activity log
    instead of a page that would answer 404.
    """
    existing = {}
    for target_type, (_, _, model) in _DETAIL_PAGES.items():
        ids = {parse_id(e.target_id) for e in events if e.target_type == target_type} - {None}
        existing[target_type] = (
            {
                str(pk)
                for pk in model.objects.filter(organization=organization, pk__in=ids).values_list(
                    "pk", flat=True
                )
            }
            if ids
            else set()
        )
    links = []
    for event in events:
        kind, target_id = event.target_type, event.target_id
        if kind in _DETAIL_PAGES and target_id in existing[kind]:
            name, kwarg, _ = _DETAIL_PAGES[kind]
            links.append(reverse(name, kwargs={kwarg: target_id}))
        elif kind in _DETAIL_PAGES and target_id:
            links.append(_history_url(kind, target_id))
        elif kind in _SECTION_PAGES:
            links.append(reverse(_SECTION_PAGES[kind]))
        elif kind == "organization":
            links.append(reverse("console:home"))
        else:
            links.append("")
    return links
