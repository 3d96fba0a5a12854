"""A change's audit event and directory events are the rows the ORM would write.

On PostgreSQL `record_change` writes them in one statement it builds itself; on SQLite
with save() and bulk_create(). Both are compared with the ORM's rows, column by column
as the database returns them (JSON as stored).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.actors import Actor
from accounts.events.models import DirectoryEvent, EventType
from accounts.events.outbox import group_event, membership_events, record_change
from accounts.models import AuditAction, AuditEvent
from accounts.services.audit import audit_entry
from config.request_context import request_id_var

pytestmark = pytest.mark.django_db

OKTA = Actor.for_token(token_id=7, prefix="rst_ab12", label="Okta ü " + "x" * 300)


@pytest.fixture
def frozen_now(monkeypatch):
    """One clock reading for both writes (the audit's occurred_at is taken on save)."""
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


@pytest.fixture
def in_a_request():
    token = request_id_var.set("req-rows-0001")
    yield
    request_id_var.reset(token)


def stored(model, objs) -> list[tuple]:
    """The rows of `objs` as the database holds them, every column but the id."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in meta.concrete_fields if not f.primary_key)
    placeholders = ", ".join(["%s"] * len(objs))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {quote(meta.db_table)} "
            f"WHERE {quote(meta.pk.column)} IN ({placeholders}) ORDER BY {quote(meta.pk.column)}",
            [obj.pk for obj in objs],
        )
        return cursor.fetchall()


def orm_create(audit: AuditEvent) -> AuditEvent:
    """AuditEvent.objects.create() with the entry's values, as audit_record() used to."""
    values = {f.attname: getattr(audit, f.attname) for f in audit._meta.concrete_fields}
    return AuditEvent.objects.create(**values)


def member_change(group, users):
    """A member add as groups.py records it: its audit event and one event per member."""
    audit = audit_entry(
        organization=group.organization,
        actor=OKTA,
        action=AuditAction.GROUP_MEMBERS_ADDED,
        target_type="group",
        target_id=group.pk,
        target_label=group.display_name,
        changes={"count": len(users), "users": [str(u.pk) for u in users], "note": 'ü "q"'},
    )
    events = membership_events(
        group=group,
        type=EventType.GROUP_MEMBER_ADDED,
        user_ids=[u.pk for u in users],
        actor=OKTA,
        users={u.pk: u for u in users},
    )
    return audit, events


def test_a_change_writes_the_rows_the_orm_writes(
    organization, make_user, make_group, frozen_now, in_a_request
):
    ann, bob = make_user(organization, "ann@example.com"), make_user(organization, "bob@x.io")
    group = make_group(organization, 'Eng "core" ü')
    audit, events = member_change(group, [ann, bob])
    orm_audit, orm_events = member_change(group, [ann, bob])
    for event, orm_event in zip(events, orm_events, strict=True):
        # The events' occurred_at is their default, read when each was built.
        orm_event.occurred_at = event.occurred_at

    with CaptureQueriesContext(connection) as context:
        written = record_change(audit=audit, events=events)
    orm_audit = orm_create(orm_audit)
    DirectoryEvent.objects.bulk_create(orm_events)

    assert written == events
    assert stored(AuditEvent, [audit]) == stored(AuditEvent, [orm_audit])
    assert stored(DirectoryEvent, events) == stored(DirectoryEvent, orm_events)
    # The objects come back as the ORM leaves them: saved, with their ids.
    assert [e.transaction_id for e in events] == [e.transaction_id for e in orm_events]
    assert not audit._state.adding and not any(e._state.adding for e in events)
    assert AuditEvent.objects.get(pk=audit.pk).action == AuditAction.GROUP_MEMBERS_ADDED
    assert list(DirectoryEvent.objects.filter(pk__in=[e.pk for e in events])) == events
    writes = [q["sql"] for q in context.captured_queries if q["sql"].startswith(("INSERT", "WITH"))]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)


def test_a_change_without_events_writes_its_audit_event(organization, make_group, settings):
    settings.DIRECTORY_EVENTS_ENABLED = False
    group = make_group(organization)
    start = DirectoryEvent.objects.count()
    audit = audit_entry(organization=organization, actor=OKTA, action=AuditAction.GROUP_UPDATED)
    written = record_change(
        audit=audit, events=[group_event(group=group, type=EventType.GROUP_UPDATED, actor=OKTA)]
    )
    assert written == []
    assert AuditEvent.objects.filter(pk=audit.pk).exists()
    assert DirectoryEvent.objects.count() == start
