from django.db import transaction

from accounts.errors import InvalidValue
from accounts.models import User


@transaction.atomic
def operator_create(*, username: str, email: str = "", password: str | None) -> User:
    """A platform operator: a superuser of the operations admin, in no organization."""
    if not username.strip():
        raise InvalidValue("An operator needs a username.")
    operator = User(
        organization=None,
        username=username.strip(),
        email=email,
        is_staff=True,
        is_superuser=True,
    )
    operator.set_password(password)
    operator.save()
    return operator
