"""The custom attributes page: owners declare, change and delete; admins read; form
errors say what is wrong; a user's page shows the values."""

import pytest

from accounts.actors import Actor
from accounts.custom_attributes import MAX_DECLARATIONS
from accounts.models import AuditAction, AuditEvent, CustomAttribute, User
from accounts.services import user_apply
from accounts.services.custom_attributes import custom_attribute_declare

pytestmark = pytest.mark.django_db

PAGE = "/console/provisioning/attributes/"


def declare(organization, name="badgeNumber", type="string", **fields):
    return custom_attribute_declare(
        organization=organization, name=name, type=type, actor=Actor.system("tests"),
        acting_user=None, **fields,
    )  # fmt: skip


def test_an_owner_declares_an_attribute(owner_client, organization, org_owner):
    response = owner_client.post(
        PAGE,
        {"name": "badgeNumber", "type": "string", "description": "Door badge", "indexed": "on"},
    )
    assert response.status_code == 302
    attribute = CustomAttribute.objects.get(organization=organization)
    assert (attribute.name, attribute.type, attribute.multi_valued, attribute.indexed) == (
        "badgeNumber",
        "string",
        False,
        True,
    )
    audit = AuditEvent.objects.get(action=AuditAction.CUSTOM_ATTRIBUTE_DECLARED)
    assert (audit.actor_id, audit.target_label) == (str(org_owner.pk), "badgeNumber")
    before = organization.custom_attributes_version
    organization.refresh_from_db()
    assert organization.custom_attributes_version not in (0, before)
    page = owner_client.get(PAGE)
    assert page.status_code == 200
    assert b"<code>badgeNumber</code>" in page.content
    assert b"urn:ietf:params:scim:schemas:extension:acme:2.0:User" in page.content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "1badge", "type": "string"}, "starts with a letter"),
        ({"name": "userName", "type": "string"}, "attribute of the SCIM User schema"),
        ({"name": "COSTCENTER", "type": "string"}, "attribute of the SCIM User schema"),
        ({"name": "badge", "type": "float"}, "Select a valid choice"),
        ({"name": "", "type": "string"}, "This field is required"),
    ],
)
def test_a_refused_declaration_is_a_form_error(owner_client, organization, data, message):
    response = owner_client.post(PAGE, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CustomAttribute.objects.exists()


def test_a_name_is_declared_once_in_any_case(owner_client, organization):
    declare(organization, "badgeNumber")
    response = owner_client.post(PAGE, {"name": "BADGENUMBER", "type": "integer"})
    assert response.status_code == 400
    assert "A custom attribute named BADGENUMBER is already declared." in response.content.decode()
    assert CustomAttribute.objects.count() == 1


def test_an_organization_declares_at_most_the_limit(owner_client, organization):
    for i in range(MAX_DECLARATIONS):
        declare(organization, f"a{i}")
    response = owner_client.post(PAGE, {"name": "oneMore", "type": "string"})
    assert response.status_code == 400
    assert f"at most {MAX_DECLARATIONS} custom attributes" in response.content.decode()
    assert CustomAttribute.objects.count() == MAX_DECLARATIONS


def test_admins_see_the_page_read_only_and_cannot_declare(admin_client, organization):
    declare(organization)
    page = admin_client.get(PAGE)
    assert page.status_code == 200
    assert b"Only owners declare" in page.content
    assert b"Declare an attribute" not in page.content
    response = admin_client.post(PAGE, {"name": "other", "type": "string"})
    assert response.status_code == 403
    assert "Only owners can change custom attributes." in response.content.decode()
    assert CustomAttribute.objects.count() == 1


def test_members_are_kept_out(member_client):
    assert member_client.get(PAGE).status_code == 403


def test_an_owner_changes_the_description_and_indexing(owner_client, organization):
    attribute = declare(organization)
    response = owner_client.post(
        f"{PAGE}{attribute.pk}/",
        {f"a{attribute.pk}-description": "Badge", f"a{attribute.pk}-indexed": "on"},
    )
    assert response.status_code == 302
    attribute.refresh_from_db()
    assert (attribute.description, attribute.indexed) == ("Badge", True)
    audit = AuditEvent.objects.get(action=AuditAction.CUSTOM_ATTRIBUTE_CHANGED)
    assert audit.changes == {
        "description": {"from": "", "to": "Badge"},
        "indexed": {"from": False, "to": True},
    }


def test_an_admin_cannot_change_or_delete(admin_client, organization):
    attribute = declare(organization)
    response = admin_client.post(f"{PAGE}{attribute.pk}/", {f"a{attribute.pk}-description": "x"})
    assert response.status_code == 403
    assert admin_client.get(f"{PAGE}{attribute.pk}/delete/").status_code == 403
    assert admin_client.post(f"{PAGE}{attribute.pk}/delete/").status_code == 403
    attribute.refresh_from_db()
    assert attribute.description == ""


def test_deleting_asks_first_then_purges(owner_client, organization, make_user):
    attribute = declare(organization)
    user = make_user(organization, "ann@acme.example")
    user_apply(user=user, actor=Actor.system("tests"), custom_attributes={"badgeNumber": "B-1"})
    confirm = owner_client.get(f"{PAGE}{attribute.pk}/delete/")
    assert confirm.status_code == 200
    assert b"Every user&#x27;s value of it is deleted too" in confirm.content
    response = owner_client.post(f"{PAGE}{attribute.pk}/delete/")
    assert response.status_code == 302
    assert not CustomAttribute.objects.exists()
    assert User.objects.get(pk=user.pk).custom_attributes == {}


def test_another_organizations_attribute_is_not_found(owner_client, other_organization):
    attribute = declare(other_organization)
    assert owner_client.post(f"{PAGE}{attribute.pk}/delete/").status_code == 404


def test_the_user_page_shows_the_values(owner_client, organization, make_user):
    declare(organization, "badgeNumber")
    declare(organization, "sites", multi_valued=True)
    user = make_user(organization, "ann@acme.example")
    user_apply(
        user=user,
        actor=Actor.system("tests"),
        custom_attributes={"badgeNumber": "B-7", "sites": ["Berlin", "Paris"]},
    )
    page = owner_client.get(f"/console/users/{user.pk}/").content.decode()
    assert '<dt>badgeNumber <span class="badge">custom</span></dt><dd>B-7</dd>' in page
    assert '<dt>sites <span class="badge">custom</span></dt><dd>Berlin, Paris</dd>' in page


def test_the_provisioning_page_links_to_the_attributes(owner_client):
    assert PAGE.encode() in owner_client.get("/console/provisioning/").content
