"""The operations admin's sign-in page, throttled like the console's.

Django's admin login counts nothing; a password guesser could try forever. The same
CONSOLE_LOGIN_RATE applies per client address and per username, and a throttled
attempt is answered 429 before any password is checked.
"""

import logging

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from config import ratelimit

logger = logging.getLogger(__name__)

ADMIN_429 = "Too many sign-in attempts; wait a few minutes and try again."


def _throttled(request) -> ratelimit.Verdict:
    rate = ratelimit.Rate.parse(settings.CONSOLE_LOGIN_RATE)
    by_address = ratelimit.hit("admin-login-ip", ratelimit.client_address(request), rate)
    username = (request.POST.get("username") or "").strip().casefold()
    by_account = ratelimit.hit("admin-login-username", username, rate)
    return by_address if not by_address.allowed else by_account


@never_cache
@csrf_protect
def operator_login(request, extra_context=None):
    if request.method == "POST":
        verdict = _throttled(request)
        if not verdict.allowed:
            logger.warning("admin login throttled", extra={"event": "admin.login_throttled"})
            response = HttpResponse(ADMIN_429, status=429, content_type="text/plain")
            response["Retry-After"] = str(max(verdict.retry_after, 1))
            return response
    return admin.site.login(request, extra_context=extra_context)
