"""The file-transfer setting and folder grants are directory events: file servers that
follow the events re-read who may log in, and cut sessions, at once."""

import pytest

from accounts.events.models import DirectoryEvent, EventType
from accounts.models import AuditAction, AuditEvent
from transfer.models import TransferMode, TransferPolicy
from transfer.services import folder_grant_remove, folder_grant_set, transfer_policy_set

pytestmark = pytest.mark.django_db


def events_of(type_: str) -> list[DirectoryEvent]:
    return list(DirectoryEvent.objects.filter(type=type_).order_by("id"))


def test_each_setting_change_is_one_event_with_the_setting_as_it_is_now(
    organization, make_group, system_actor
):
    sftp = make_group(organization, "SFTP users")
    transfer_policy_set(organization=organization, mode=TransferMode.EVERYONE, actor=system_actor)
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[sftp], actor=system_actor
    )
    # The same setting again changes nothing, and says nothing.
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[sftp], actor=system_actor
    )
    transfer_policy_set(organization=organization, mode=TransferMode.OFF, actor=system_actor)

    events = events_of(EventType.TRANSFER_SETTINGS_CHANGED)
    policy = TransferPolicy.objects.get(organization=organization)
    assert [event.data["transfer"]["mode"] for event in events] == ["everyone", "groups", "off"]
    assert (
        [event.resource_version for event in events]
        == [1, 2, 3]
        == [event.data["transfer"]["version"] for event in events]
    )
    assert {event.resource_id for event in events} == {policy.resource_id}
    assert events[1].data["transfer"] == {
        "id": str(policy.resource_id),
        "version": 2,
        "organization": organization.slug,
        "mode": "groups",
        "scope_groups": [{"id": str(sftp.pk), "display_name": "SFTP users"}],
    }
    audited = AuditEvent.objects.filter(action=AuditAction.TRANSFER_SETTINGS_CHANGED)
    assert audited.count() == 3


def test_the_settings_of_two_organizations_are_two_resources(
    organization, other_organization, system_actor
):
    for each in (organization, other_organization):
        transfer_policy_set(organization=each, mode=TransferMode.EVERYONE, actor=system_actor)
    events = events_of(EventType.TRANSFER_SETTINGS_CHANGED)
    assert len({event.resource_id for event in events}) == 2
    assert {event.organization_id for event in events} == {
        organization.pk,
        other_organization.pk,
    }


def test_a_grant_change_is_one_event_with_the_groups_folders_as_they_are_now(
    organization, make_group, system_actor
):
    finance = make_group(organization, "Finance")
    folder_grant_set(group=finance, path="/Finance", access="read", actor=system_actor)
    folder_grant_set(group=finance, path="/Reports", access="write", actor=system_actor)
    folder_grant_set(group=finance, path="/Finance", access="write", actor=system_actor)
    folder_grant_set(group=finance, path="/Finance", access="write", actor=system_actor)
    folder_grant_remove(group=finance, path="/Reports", actor=system_actor)

    events = events_of(EventType.TRANSFER_FOLDERS_CHANGED)
    assert [event.data["folders"] for event in events] == [
        [{"path": "/Finance", "access": "read"}],
        [{"path": "/Finance", "access": "read"}, {"path": "/Reports", "access": "write"}],
        [{"path": "/Finance", "access": "write"}, {"path": "/Reports", "access": "write"}],
        [{"path": "/Finance", "access": "write"}],
    ]
    assert {(event.resource_id, event.group_id) for event in events} == {(finance.pk, finance.pk)}
    assert events[0].data["group"]["display_name"] == "Finance"
