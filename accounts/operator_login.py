"""The operations admin's sign-in page, throttled like the console's.

Django's admin login counts nothing; a password guesser could try forever. The same
limits apply per username and per client address (accounts.password_attempts), and a
throttled attempt is answered 429 before any password is checked.
"""

import logging

from django.contrib import admin
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from accounts.password_attempts import PasswordAttempt
from config import ratelimit

logger = logging.getLogger(__name__)

ADMIN_429 = "Too many sign-in attempts; wait a few minutes and try again."


def _attempt(request) -> PasswordAttempt:
    return PasswordAttempt(
        account_scope="admin-login-username",
        address_scope="admin-login-ip",
        account=(request.POST.get("username") or "").strip().casefold(),
        address=ratelimit.client_address(request),
    )


@never_cache
@csrf_protect
def operator_login(request, extra_context=None):
    if request.method != "POST":
        return admin.site.login(request, extra_context=extra_context)
    attempt = _attempt(request)
    verdict = attempt.begin()
    if not verdict.allowed:
        logger.warning("admin login throttled", extra={"event": "admin.login_throttled"})
        response = HttpResponse(ADMIN_429, status=429, content_type="text/plain")
        response["Retry-After"] = str(max(verdict.retry_after, 1))
        return response
    response = admin.site.login(request, extra_context=extra_context)
    # Django's LoginView redirects once the password matched; a failure renders the form.
    if response.status_code == 302 and request.user.is_authenticated:
        attempt.succeeded()
    return response
