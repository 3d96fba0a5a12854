"""Who caused a change: an organization user, a provisioning token, or the system.

Protocol apps build their own actors (a token is an actor here without accounts
knowing the provisioning app).
"""

from dataclasses import dataclass

from accounts.models import ActorType


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(type=ActorType.USER, id=str(user.pk), label=user.email or user.username)

    @classmethod
    def for_token(cls, *, token_id, prefix: str, label: str = "") -> "Actor":
        name = f"token {prefix}" + (f" ({label})" if label else "")
        return cls(type=ActorType.TOKEN, id=str(token_id), label=name)

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(type=ActorType.SYSTEM, label=label)
