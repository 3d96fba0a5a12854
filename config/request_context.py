"""Per-request facts (request id, organization, actor) for logs and audit events.

Context variables rather than thread locals, so they stay correct under any worker model.
"""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
organization_var: ContextVar[str] = ContextVar("organization", default="")
actor_var: ContextVar[str] = ContextVar("actor", default="")


def current_request_id() -> str:
    return request_id_var.get()


def bind(*, organization: str | None = None, actor: str | None = None) -> None:
    """Name the organization and actor of the request being served, for its log lines."""
    if organization is not None:
        organization_var.set(organization)
    if actor is not None:
        actor_var.set(actor)
