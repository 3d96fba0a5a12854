from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import make_password

from accounts.folding import casefold_key
from accounts.models import User


class OperatorBackend(ModelBackend):
    """Platform operators (no organization) sign in to the operations admin by username."""


class ConsoleEmailBackend(ModelBackend):
    """Organization users sign in to the console by email and password.

    An email may exist in several organizations; the first organization (by slug) whose
    user has this email and password wins, so the result is deterministic.
    """

    def authenticate(self, request, email=None, password=None, **kwargs):
        if not email or password is None:
            return None
        candidates = (
            User.objects.filter(organization__isnull=False, email_key=casefold_key(email.strip()))
            .select_related("organization")
            .order_by("organization__slug")
        )
        matched = None
        for user in candidates:
            if user.check_password(password) and self.user_can_authenticate(user):
                matched = user
                break
        if matched is None and not candidates:
            # Spend a hash's time anyway, so unknown emails are not told apart by timing.
            make_password(password)
        return matched
