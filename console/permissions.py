from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers


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
        if not user.can_use_console:
            response = render(request, "console/not_admin.html", status=403)
        else:
            response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return wrapper
