"""The audit trail is append-only and carries the request id of the change."""

import pytest
from django.core.exceptions import PermissionDenied

from accounts.actors import Actor
from accounts.models import AuditAction, AuditEvent
from accounts.services import audit_record
from config.request_context import request_id_var


@pytest.fixture
def event(organization, system_actor):
    return audit_record(
        organization=organization,
        actor=system_actor,
        action=AuditAction.USER_UPDATED,
        target_type="user",
        target_id="42",
        changes={"email": {"from": "a@x", "to": "b@x"}},
    )


def test_audit_event_cannot_be_saved_again(event):
    event.action = AuditAction.USER_DELETED
    with pytest.raises(PermissionDenied):
        event.save()
    event.refresh_from_db()
    assert event.action == AuditAction.USER_UPDATED


def test_audit_event_cannot_be_deleted(event):
    with pytest.raises(PermissionDenied):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_audit_events_cannot_be_bulk_updated_or_deleted(event):
    with pytest.raises(PermissionDenied):
        AuditEvent.objects.filter(pk=event.pk).update(action=AuditAction.USER_DELETED)
    with pytest.raises(PermissionDenied):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.USER_UPDATED


def test_audit_event_records_the_request_id_of_the_change(organization):
    token = request_id_var.set("req-0123456789")
    try:
        event = audit_record(
            organization=organization,
            actor=Actor.for_token(token_id=7, prefix="rst_ab12", label="Okta"),
            action=AuditAction.GROUP_CREATED,
        )
    finally:
        request_id_var.reset(token)
    event.refresh_from_db()
    assert event.request_id == "req-0123456789"
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        "token",
        "7",
        "token rst_ab12 (Okta)",
    )


def test_audit_event_outside_a_request_has_no_request_id(event):
    assert event.request_id == ""
