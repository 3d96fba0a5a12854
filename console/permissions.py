from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render


def console_admin_required(view):
    """Owners and admins of an organization only; members get a clear explanation."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user.can_use_console:
            return render(request, "console/not_admin.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
