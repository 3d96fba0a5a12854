from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from accounts.services.console_sign_in import password_sign_in_allowed
from sso.oidc.connection import SESSION_OIDC_KEY
from sso.views.saml import SESSION_SAML_KEY


def _sign_in_still_allowed(request) -> bool:
    """A password session of a member or admin ends once the organization requires SSO;
    one begun through SAML or OpenID Connect goes on."""
    user = request.user
    if password_sign_in_allowed(user):
        return True
    return any(
        (request.session.get(key) or {}).get("organization") == user.organization.slug
        for key in (SESSION_SAML_KEY, SESSION_OIDC_KEY)
    )


def _end_password_session(request):
    organization = request.user.organization
    logout(request)
    messages.info(
        request,
        f"{organization.name} now requires single sign-on: sign in through your identity provider.",
    )
    return redirect_to_login(request.get_full_path())


def console_admin_required(view):
    """Owners and admins of an organization only; members get a clear explanation.

    Every page behind it shows an organization's data, so none is kept by a browser or
    a shared proxy (Cache-Control: no-store): the back button after sign-out, or the
    next person at a shared computer, sees nothing.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not _sign_in_still_allowed(request):
            return _end_password_session(request)
        if not user.can_use_console:
            response = render(request, "console/not_admin.html", status=403)
        else:
            response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper
