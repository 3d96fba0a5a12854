from django.db import IntegrityError, transaction

from accounts.errors import InvalidValue, UsernameTaken
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
    try:
        with transaction.atomic():
            operator.save(force_insert=True)
    except IntegrityError:
        raise UsernameTaken(operator.username, among="among platform operators") from None
    return operator
