"""Helpers for the accounts tests: the audit trail of one target and a bound request id."""

import pytest

from accounts.actors import Actor
from accounts.models import AuditEvent, Role
from config.request_context import request_id_var


@pytest.fixture
def request_id():
    """Serve the test as if inside a request with this id (what RequestIdMiddleware binds)."""
    token = request_id_var.set("req-test-0001")
    yield "req-test-0001"
    request_id_var.reset(token)


@pytest.fixture
def admin_actor(org_admin):
    return Actor.for_user(org_admin)


@pytest.fixture
def events_for():
    def events(target, action=None):
        queryset = AuditEvent.objects.filter(target_id=str(target.pk)).order_by("id")
        if action is not None:
            queryset = queryset.filter(action=action)
        return list(queryset)

    return events


@pytest.fixture
def fail_audit(monkeypatch):
    """Call to make every later audit write fail: the service's own write came first."""

    def fail(**kwargs):
        raise RuntimeError("audit storage unavailable")

    def break_audit():
        for module in ("accounts.services.users", "accounts.services.groups"):
            # Audit events are written with their directory events (outbox.record_change).
            monkeypatch.setattr(f"{module}.record_change", fail)

    return break_audit


@pytest.fixture
def second_owner(organization, make_user):
    return make_user(organization, "second-owner@acme.example", role=Role.OWNER)
