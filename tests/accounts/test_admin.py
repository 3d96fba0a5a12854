"""The operations admin: operators browse everything, saves go through the services."""

import pytest

from accounts.actors import Actor
from accounts.models import AuditAction, AuditEvent, Role
from accounts.services import operator_create


@pytest.fixture
def operator(db):
    return operator_create(username="ops", email="ops@roster.example", password="ops-password-123")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator, backend="accounts.backends.OperatorBackend")
    return client


@pytest.mark.parametrize("model", ["user", "group", "auditevent", "organization"])
def test_operator_opens_the_changelists(operator_client, org_owner, make_group, model):
    make_group(org_owner.organization, members=[org_owner])
    response = operator_client.get(f"/admin/accounts/{model}/")
    assert response.status_code == 200


def test_operator_opens_a_group_with_its_memberships_inline(
    operator_client, organization, make_user, make_group
):
    group = make_group(organization, members=[make_user(organization, "ada@example.com")])
    response = operator_client.get(f"/admin/accounts/group/{group.pk}/change/")
    assert response.status_code == 200
    assert b"ada@example.com" in response.content


def test_operator_signs_in_to_the_admin_with_username_and_password(client, operator):
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "ops", "password": "ops-password-123"}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_organization_users_cannot_use_the_admin(owner_client):
    response = owner_client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def _user_form(user, **overrides):
    data = {
        "username": user.username,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "display_name": user.display_name,
        "external_id": user.external_id,
        "title": user.title,
        "locale": user.locale,
        "enterprise": "{}",
        "role": user.role,
        "is_active": "on" if user.is_active else "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value != ""}


def test_saving_a_user_in_the_admin_goes_through_the_services(
    operator_client, operator, organization, make_user
):
    user = make_user(organization, "ada@example.com")
    response = operator_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        _user_form(user, title="Countess", role=Role.ADMIN),
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.title, user.role, user.version) == ("Countess", Role.ADMIN, 3)
    events = AuditEvent.objects.filter(target_id=str(user.pk), actor_id=str(operator.pk))
    assert set(events.values_list("action", flat=True)) == {
        AuditAction.USER_UPDATED,
        AuditAction.USER_ROLE_CHANGED,
    }


def test_deactivating_a_user_in_the_admin_is_audited(
    operator_client, operator, organization, make_user
):
    user = make_user(organization, "ada@example.com")
    form = _user_form(user)
    del form["is_active"]
    operator_client.post(f"/admin/accounts/user/{user.pk}/change/", form)
    user.refresh_from_db()
    assert not user.is_active
    assert AuditEvent.objects.filter(
        target_id=str(user.pk), action=AuditAction.USER_DEACTIVATED, actor_id=str(operator.pk)
    ).exists()


def test_a_refused_admin_save_changes_nothing(operator_client, organization, make_user):
    make_user(organization, "grace@example.com")
    user = make_user(organization, "ada@example.com")
    response = operator_client.post(
        f"/admin/accounts/user/{user.pk}/change/", _user_form(user, username="GRACE@example.com")
    )
    assert response.status_code == 200
    assert b"already exists" in response.content
    user.refresh_from_db()
    assert (user.username, user.version) == ("ada@example.com", 1)


@pytest.fixture
def audit_event(organization):
    return AuditEvent.objects.filter(organization=organization).first()


def test_audit_events_cannot_be_added_in_the_admin(operator_client):
    assert operator_client.get("/admin/accounts/auditevent/add/").status_code == 403


def test_audit_events_cannot_be_changed_in_the_admin(operator_client, audit_event):
    url = f"/admin/accounts/auditevent/{audit_event.pk}/change/"
    response = operator_client.post(url, {"action": AuditAction.USER_DELETED})
    assert response.status_code == 403
    audit_event.refresh_from_db()
    assert audit_event.action == AuditAction.ORGANIZATION_CREATED


def test_audit_events_cannot_be_deleted_in_the_admin(operator_client, audit_event):
    url = f"/admin/accounts/auditevent/{audit_event.pk}/delete/"
    assert operator_client.post(url, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=audit_event.pk).exists()


def test_renaming_a_group_onto_a_taken_name_in_the_admin_shows_an_error(
    operator_client, organization, make_group
):
    make_group(organization, "Research")
    group = make_group(organization, "Engineering")
    response = operator_client.post(
        f"/admin/accounts/group/{group.pk}/change/",
        {
            "display_name": "research",
            "external_id": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert b"already exists" in response.content
    group.refresh_from_db()
    assert group.display_name == "Engineering"


def test_renaming_a_group_in_the_admin_goes_through_the_services(
    operator_client, operator, organization, make_group
):
    group = make_group(organization, "Engineering")
    response = operator_client.post(
        f"/admin/accounts/group/{group.pk}/change/",
        {
            "display_name": "Platform",
            "external_id": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.display_name, group.version) == ("Platform", 2)
    assert AuditEvent.objects.filter(
        target_id=str(group.pk), action=AuditAction.GROUP_UPDATED, actor_id=str(operator.pk)
    ).exists()


def test_adding_and_removing_members_inline_goes_through_the_services(
    operator_client, operator, organization, make_user, make_group
):
    ada = make_user(organization, "ada@example.com")
    grace = make_user(organization, "grace@example.com")
    group = make_group(organization, "Engineering", members=[ada])
    membership = group.memberships.get()
    response = operator_client.post(
        f"/admin/accounts/group/{group.pk}/change/",
        {
            "display_name": "Engineering",
            "external_id": "",
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": str(membership.pk),
            "memberships-0-group": str(group.pk),
            "memberships-0-user": str(ada.pk),
            "memberships-0-DELETE": "on",
            "memberships-1-group": str(group.pk),
            "memberships-1-user": str(grace.pk),
        },
    )
    assert response.status_code == 302
    assert list(group.memberships.values_list("user_id", flat=True)) == [grace.pk]
    actions = set(
        AuditEvent.objects.filter(target_id=str(group.pk), actor_id=str(operator.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == {AuditAction.GROUP_MEMBERS_ADDED, AuditAction.GROUP_MEMBERS_REMOVED}


def test_adding_a_member_of_another_organization_inline_is_refused(
    operator_client, organization, other_organization, make_user, make_group
):
    outsider = make_user(other_organization, "outsider@globex.example")
    group = make_group(organization, "Engineering")
    response = operator_client.post(
        f"/admin/accounts/group/{group.pk}/change/",
        {
            "display_name": "Engineering",
            "external_id": "",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-group": str(group.pk),
            "memberships-0-user": str(outsider.pk),
        },
    )
    assert response.status_code == 403
    assert not group.memberships.exists()


def test_adding_a_user_in_the_admin_goes_through_the_services(
    operator_client, operator, organization
):
    response = operator_client.post(
        "/admin/accounts/user/add/",
        {
            "organization": str(organization.pk),
            "username": "new@acme.example",
            "email": "new@acme.example",
            "enterprise": "{}",
            "role": Role.ADMIN,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED, actor_id=str(operator.pk))
    assert event.target_label == "new@acme.example"
    assert event.changes["role"] == Role.ADMIN


def test_adding_a_user_without_an_organization_in_the_admin_is_refused_on_the_form(
    operator_client,
):
    from accounts.models import User

    response = operator_client.post(
        "/admin/accounts/user/add/",
        {"username": "stray", "enterprise": "{}", "role": Role.MEMBER, "is_active": "on"},
    )
    assert response.status_code == 200
    assert b"Choose the user&#x27;s organization" in response.content
    assert not User.objects.filter(username="stray").exists()


def test_adding_a_group_in_the_admin_goes_through_the_services(
    operator_client, operator, organization, make_user
):
    ada = make_user(organization, "ada@example.com")
    response = operator_client.post(
        "/admin/accounts/group/add/",
        {
            "organization": str(organization.pk),
            "display_name": "Engineering",
            "external_id": "",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-0-user": str(ada.pk),
        },
    )
    assert response.status_code == 302
    from accounts.models import Group

    group = Group.objects.get(display_name="Engineering")
    assert list(group.memberships.values_list("user_id", flat=True)) == [ada.pk]
    actions = set(
        AuditEvent.objects.filter(target_id=str(group.pk), actor_id=str(operator.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == {AuditAction.GROUP_CREATED, AuditAction.GROUP_MEMBERS_ADDED}


def test_organizations_cannot_be_deleted_in_the_admin(operator_client, organization):
    from accounts.models import Organization

    response = operator_client.post(
        f"/admin/accounts/organization/{organization.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_membership_changed_in_the_admin_follows_the_group_role_mapping(
    operator_client, operator, organization, make_user, make_group
):
    from accounts.services import group_set_grants_admin

    ada = make_user(organization, "ada@example.com")
    grace = make_user(organization, "grace@example.com")
    group = make_group(organization, "Roster admins", members=[ada])
    group_set_grants_admin(
        group=group, grants_admin=True, actor=Actor.for_user(operator), acting_user=operator
    )
    membership = group.memberships.get()
    response = operator_client.post(
        f"/admin/accounts/group/{group.pk}/change/",
        {
            "display_name": "Roster admins",
            "external_id": "",
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": str(membership.pk),
            "memberships-0-group": str(group.pk),
            "memberships-0-user": str(ada.pk),
            "memberships-0-DELETE": "on",
            "memberships-1-group": str(group.pk),
            "memberships-1-user": str(grace.pk),
        },
    )
    assert response.status_code == 302
    ada.refresh_from_db()
    grace.refresh_from_db()
    assert (ada.role, grace.role) == (Role.MEMBER, Role.ADMIN)
    assert grace.role_from_mapping
