import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from accounts.password_attempts import PasswordAttempt
from accounts.services import console_sign_in_failed
from accounts.services.console_sign_in import SsoRequired, console_password_sign_in
from config import ratelimit
from console.forms import ConsoleLoginForm
from sso.redirects import safe_local_path

logger = logging.getLogger(__name__)


def _attempt(request) -> PasswordAttempt:
    return PasswordAttempt(
        account_scope="console-login-email",
        address_scope="console-login-ip",
        account=(request.POST.get("email") or "").strip().lower(),
        address=ratelimit.client_address(request),
    )


def _safe_next(request) -> str:
    # A path on this site only: "foo" or a view name would make redirect() raise.
    return safe_local_path(request.POST.get("next") or request.GET.get("next"))


def _sign_in(request, form):
    """The password matched: sign in, or point a member or admin to SSO when required."""
    user = form.user
    try:
        console_password_sign_in(user=user, client_address=ratelimit.client_address(request))
    except SsoRequired as refusal:
        logger.info("console login needs sso", extra={"event": "console.login_sso_required"})
        sso_url = reverse("sso:login", args=[refusal.organization.slug])
        context = {
            "form": ConsoleLoginForm(request, initial={"email": form.cleaned_data["email"]}),
            "sso_required": str(refusal),
            "sso_url": f"{sso_url}?{urlencode({'next': _safe_next(request) or '/console/'})}",
            "next": _safe_next(request),
        }
        return render(request, "console/login.html", context, status=403)
    login(request, user, backend="accounts.backends.ConsoleEmailBackend")
    if user.organization.sso_required:
        messages.warning(
            request,
            "You signed in with your password while single sign-on is required: the "
            "break-glass path for owners. The sign-in is recorded in the activity log.",
        )
    return redirect(_safe_next(request) or settings.LOGIN_REDIRECT_URL)


@never_cache
@csrf_protect
def login_view(request):
    if request.method == "POST":
        attempt = _attempt(request)
        verdict = attempt.begin()
        if not verdict.allowed:
            logger.warning("console login throttled", extra={"event": "console.login_throttled"})
            response = render(
                request,
                "console/login.html",
                {"form": ConsoleLoginForm(request), "throttled": True},
                status=429,
            )
            response["Retry-After"] = str(verdict.retry_after)
            return response
        form = ConsoleLoginForm(request, data=request.POST)
        if form.is_valid():
            attempt.succeeded()
            return _sign_in(request, form)
        logger.info("console login failed", extra={"event": "console.login_failed"})
        if form.has_error("__all__", code="invalid_login"):
            console_sign_in_failed(
                email=form.cleaned_data["email"],
                client_address=ratelimit.client_address(request),
            )
        status = 400
    else:
        form = ConsoleLoginForm(request)
        status = 200
    return render(
        request, "console/login.html", {"form": form, "next": _safe_next(request)}, status=status
    )


@require_POST
def logout_view(request):
    logout(request)
    return redirect("console:login")
