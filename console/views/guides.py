"""The full setup guides, docs/*.md, shown in the console.

The console's short guides link here, so they and the repository's documentation are
one text: the page is the Markdown file as written, nothing rendered from it.
"""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from console.permissions import console_admin_required

GUIDES = {
    "okta": "Connecting Okta",
    "entra": "Connecting Microsoft Entra ID",
    "scim": "SCIM provisioning",
    "saml": "SAML single sign-on",
    "oidc": "OpenID Connect single sign-on",
    "transfer": "File-transfer access",
}
# The section of the console each guide belongs to; the others are User Provisioning's.
GUIDE_NAV = {"transfer": "transfer"}


def guide_text(name: str) -> str:
    return (settings.BASE_DIR / "docs" / f"{name}.md").read_text(encoding="utf-8")


@console_admin_required
def guide(request, name):
    if name not in GUIDES:
        raise Http404("No such guide.")
    others = [(slug, title) for slug, title in GUIDES.items() if slug != name]
    context = {
        "nav": GUIDE_NAV.get(name, "provisioning"),
        "title": GUIDES[name],
        "text": guide_text(name),
        "guides": others,
    }
    return render(request, "console/guide.html", context)
