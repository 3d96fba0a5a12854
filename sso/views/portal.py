"""End-user pages: the landing page of a signed-in member and the SSO sign-in page."""

import logging

from django import forms
from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import Organization
from config import ratelimit
from sso.oidc.connection import SESSION_OIDC_KEY
from sso.redirects import safe_local_path
from sso.selectors import (
    active_connection_of,
    groups_of_user,
    organization_by_slug,
    organization_for_email_domain,
)
from sso.views.saml import SESSION_SAML_KEY

logger = logging.getLogger(__name__)

# /signin/ lookups that found no organization, per client address.
DISCOVERY_MISSES = "signin-discovery-miss"


class SigninForm(forms.Form):
    email = forms.EmailField(label="Work email", required=False, max_length=254)
    organization = forms.SlugField(label="Or your organization's ID", required=False)

    def clean(self):
        data = super().clean()
        if not data.get("email") and not data.get("organization"):
            raise forms.ValidationError("Enter your work email or your organization's ID.")
        return data


@never_cache
def landing(request):
    user = request.user
    if not user.is_authenticated:
        return redirect("sso:signin")
    if user.organization_id is None:
        return redirect("admin:index")
    return render(
        request,
        "portal/landing.html",
        {
            "organization": user.organization,
            "groups": groups_of_user(user),
            # Begun through the organization's SAML IdP or OpenID Connect provider.
            "single_sign_on": bool(
                request.session.get(SESSION_SAML_KEY) or request.session.get(SESSION_OIDC_KEY)
            ),
        },
    )


def _login_url(organization, next_path: str) -> str:
    url = reverse("sso:login", args=[organization.slug])
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


def _organization_for(data) -> Organization | None:
    if data.get("organization"):
        organization = organization_by_slug(data["organization"])
        return organization if organization and active_connection_of(organization) else None
    return organization_for_email_domain(data["email"].rpartition("@")[2])


def _continue_to(request, organization, next_path: str):
    """The discovery's answer when it found the organization: a page that goes on to
    its SSO login by GET, not a redirect.

    CSP3 form-action applies to every redirect of a form's navigation (Chromium enforces
    it): after a 302 to /sso/<slug>/login/, that view's 302 to the IdP is blocked by
    `form-action 'self'`. A declarative refresh is a new navigation, not a form's. It is
    preferred to a script: it works with scripting off and needs no file; at 0 seconds it
    is WCAG's instant client-side redirect (G110), not a timed refresh (F40/F41); and it
    replaces the history entry, so Back returns to the form. The link is for browsers
    that refuse automatic refreshes.
    """
    context = {"login_url": _login_url(organization, next_path)}
    return render(request, "portal/signin_continue.html", context)


def _discovery_misses(request) -> tuple[str, ratelimit.Rate]:
    return ratelimit.client_address(request), ratelimit.Rate.parse(
        settings.SIGNIN_DISCOVERY_MISS_RATE
    )


def _throttled(request, form, next_path):
    """An address that looked up too many names that exist nowhere is enumerating:
    every lookup from it waits for the window, found or not."""
    logger.warning("sign-in discovery throttled", extra={"event": "signin.throttled"})
    context = {"form": form, "next": next_path, "throttled": True}
    return render(request, "portal/signin.html", context, status=429)


@never_cache
@require_http_methods(["GET", "POST"])
def signin(request):
    next_path = safe_local_path(request.POST.get("next") or request.GET.get("next"))
    not_found = False
    if request.method == "POST":
        form = SigninForm(request.POST)
        address, rate = _discovery_misses(request)
        if ratelimit.peek(DISCOVERY_MISSES, address, rate):
            return _throttled(request, form, next_path)
        if form.is_valid():
            organization = _organization_for(form.cleaned_data)
            if organization is not None:
                return _continue_to(request, organization, next_path)
            if not ratelimit.hit(DISCOVERY_MISSES, address, rate).allowed:
                return _throttled(request, form, next_path)
            not_found = True
    else:
        form = SigninForm()
    context = {"form": form, "next": next_path, "not_found": not_found}
    return render(request, "portal/signin.html", context, status=404 if not_found else 200)
