"""organization_create: the tenant and its first audit event."""

import pytest

from accounts.errors import InvalidValue, OrganizationSlugTaken
from accounts.models import AuditAction, AuditEvent, Organization
from accounts.services import organization_create


def test_organization_create_stores_and_audits(db, system_actor):
    organization = organization_create(slug="initech", name=" Initech ", actor=system_actor)
    assert (organization.slug, organization.name) == ("initech", "Initech")
    event = AuditEvent.objects.get(organization=organization)
    assert event.action == AuditAction.ORGANIZATION_CREATED
    assert event.changes == {"slug": "initech", "name": "Initech"}


def test_organization_create_refuses_a_taken_slug(organization, system_actor):
    with pytest.raises(OrganizationSlugTaken):
        organization_create(slug="acme", name="Acme again", actor=system_actor)
    assert Organization.objects.count() == 1


@pytest.mark.parametrize(
    ("slug", "name"),
    [("", "Name"), ("Has Spaces", "Name"), ("UPPER", "Name"), ("ok", "  "), ("x" * 64, "Name")],
)
def test_organization_create_refuses_invalid_input(db, system_actor, slug, name):
    with pytest.raises(InvalidValue):
        organization_create(slug=slug, name=name, actor=system_actor)
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_organization_create_refuses_an_over_long_name(db, system_actor):
    with pytest.raises(InvalidValue, match="name"):
        organization_create(slug="ok", name="x" * 201, actor=system_actor)
