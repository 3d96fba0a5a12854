"""User services: the state they leave, the audit event they write, and what they refuse."""

import pytest

from accounts.actors import Actor
from accounts.errors import InvalidValue, PrivilegeRefused, UsernameTaken
from accounts.models import AuditAction, AuditEvent, Role, Source, User
from accounts.services import (
    user_create,
    user_deactivate,
    user_delete,
    user_reactivate,
    user_set_active,
    user_set_password,
    user_set_role,
    user_update,
)


def test_user_create_stores_the_user_and_audits_it(
    organization, admin_actor, org_admin, request_id, events_for
):
    user = user_create(
        organization=organization,
        username="Ada@Example.com",
        email="ada@example.com",
        given_name="Ada",
        external_id="00u1",
        enterprise={"department": "Engineering"},
        source=Source.SCIM,
        actor=admin_actor,
    )
    user.refresh_from_db()
    assert (user.username, user.role, user.is_active, user.version) == (
        "Ada@Example.com",
        Role.MEMBER,
        True,
        1,
    )
    assert user.enterprise == {"department": "Engineering"}
    assert not user.has_usable_password()
    [event] = events_for(user)
    assert event.action == AuditAction.USER_CREATED
    assert (event.actor_type, event.actor_id) == ("user", str(org_admin.pk))
    assert (event.target_type, event.target_label) == ("user", "Ada@Example.com")
    assert event.organization == organization
    assert event.request_id == request_id
    assert event.changes == {
        "userName": "Ada@Example.com",
        "email": "ada@example.com",
        "externalId": "00u1",
        "active": True,
        "role": "member",
        "source": "scim",
    }


def test_user_create_with_a_password_can_check_it(organization, system_actor):
    user = user_create(
        organization=organization,
        username="pw@example.com",
        password="correct horse battery",
        actor=system_actor,
    )
    assert user.check_password("correct horse battery")
    assert "correct horse battery" not in str(
        AuditEvent.objects.get(target_id=str(user.pk)).changes
    )


@pytest.mark.parametrize("taken", ["ada@example.com", "ADA@EXAMPLE.COM", " Ada@Example.com "])
def test_user_create_refuses_a_taken_username_in_any_case(
    organization, make_user, system_actor, taken
):
    make_user(organization, "Ada@Example.com")
    events_before = AuditEvent.objects.count()
    with pytest.raises(UsernameTaken):
        user_create(organization=organization, username=taken, actor=system_actor)
    assert User.objects.filter(organization=organization).count() == 1
    assert AuditEvent.objects.count() == events_before


def test_user_create_allows_a_username_taken_in_another_organization(
    organization, other_organization, make_user, system_actor
):
    make_user(organization, "ada@example.com")
    user = user_create(
        organization=other_organization, username="ada@example.com", actor=system_actor
    )
    assert user.organization == other_organization


@pytest.mark.parametrize(
    ("fields", "error"),
    [({"username": "   "}, InvalidValue), ({"username": "x" * 256}, InvalidValue)],
)
def test_user_create_refuses_invalid_usernames(organization, system_actor, fields, error):
    with pytest.raises(error):
        user_create(organization=organization, actor=system_actor, **fields)
    assert not User.objects.filter(organization=organization).exists()


def test_user_create_refuses_an_unknown_role(organization, system_actor):
    with pytest.raises(InvalidValue):
        user_create(organization=organization, username="x", role="root", actor=system_actor)
    assert not User.objects.filter(organization=organization).exists()


def test_user_create_writes_nothing_when_the_audit_write_fails(
    organization, system_actor, fail_audit
):
    fail_audit()
    with pytest.raises(RuntimeError):
        user_create(organization=organization, username="half@example.com", actor=system_actor)
    assert not User.objects.filter(username="half@example.com").exists()


def test_user_update_changes_fields_bumps_version_and_audits_from_and_to(
    organization, make_user, admin_actor, request_id, events_for
):
    user = make_user(organization, "ada@example.com", given_name="Ada")
    updated = user_update(
        user=user, actor=admin_actor, given_name="Augusta", title="Countess", enterprise={"a": 1}
    )
    updated.refresh_from_db()
    assert (updated.given_name, updated.title, updated.enterprise) == (
        "Augusta",
        "Countess",
        {"a": 1},
    )
    assert updated.version == 2
    [event] = events_for(user, AuditAction.USER_UPDATED)
    assert event.changes == {
        "given_name": {"from": "Ada", "to": "Augusta"},
        "title": {"from": "", "to": "Countess"},
        "enterprise": {"from": {}, "to": {"a": 1}},
    }
    assert event.actor_id == admin_actor.id
    assert event.request_id == request_id


def test_user_update_without_a_change_writes_nothing(
    organization, make_user, system_actor, events_for
):
    user = make_user(organization, "ada@example.com", given_name="Ada")
    user_update(user=user, actor=system_actor, given_name="Ada", email="ada@example.com")
    user.refresh_from_db()
    assert user.version == 1
    assert events_for(user, AuditAction.USER_UPDATED) == []


def test_user_update_renames_across_case_only(organization, make_user, system_actor):
    user = make_user(organization, "ada@example.com")
    user_update(user=user, username="ADA@example.com", actor=system_actor)
    user.refresh_from_db()
    assert user.username == "ADA@example.com"


@pytest.mark.parametrize("new_name", ["grace@example.com", "GRACE@example.com"])
def test_user_update_refuses_a_rename_onto_another_users_name(
    organization, make_user, system_actor, events_for, new_name
):
    make_user(organization, "grace@example.com")
    user = make_user(organization, "ada@example.com")
    with pytest.raises(UsernameTaken):
        user_update(user=user, username=new_name, actor=system_actor)
    user.refresh_from_db()
    assert (user.username, user.version) == ("ada@example.com", 1)
    assert events_for(user, AuditAction.USER_UPDATED) == []


def test_user_update_refuses_fields_that_are_not_profile_fields(
    organization, make_user, system_actor
):
    user = make_user(organization)
    with pytest.raises(TypeError):
        user_update(user=user, actor=system_actor, is_staff=True)
    user.refresh_from_db()
    assert not user.is_staff


def test_user_update_leaves_the_user_unchanged_when_the_audit_write_fails(
    organization, make_user, system_actor, fail_audit
):
    user = make_user(organization, "ada@example.com", title="Engineer")
    fail_audit()
    with pytest.raises(RuntimeError):
        user_update(user=user, title="Countess", actor=system_actor)
    user.refresh_from_db()
    assert (user.title, user.version) == ("Engineer", 1)


def test_user_deactivate_deactivates_and_audits(
    organization, make_user, admin_actor, request_id, events_for
):
    user = make_user(organization)
    user_deactivate(user=user, actor=admin_actor)
    user.refresh_from_db()
    assert (user.is_active, user.version) == (False, 2)
    [event] = events_for(user, AuditAction.USER_DEACTIVATED)
    assert (event.actor_id, event.request_id, event.changes) == (admin_actor.id, request_id, {})


def test_deactivating_a_deactivated_user_changes_nothing_and_writes_no_event(
    organization, make_user, system_actor, events_for
):
    user = make_user(organization, is_active=False)
    user_deactivate(user=user, actor=system_actor)
    user.refresh_from_db()
    assert (user.is_active, user.version) == (False, 1)
    assert events_for(user, AuditAction.USER_DEACTIVATED) == []


def test_user_deactivate_leaves_the_user_active_when_the_audit_write_fails(
    organization, make_user, system_actor, fail_audit
):
    user = make_user(organization)
    fail_audit()
    with pytest.raises(RuntimeError):
        user_deactivate(user=user, actor=system_actor)
    user.refresh_from_db()
    assert (user.is_active, user.version) == (True, 1)


def test_user_reactivate_reactivates_and_audits_once(
    organization, make_user, system_actor, events_for
):
    user = make_user(organization, is_active=False)
    user_reactivate(user=user, actor=system_actor)
    user_reactivate(user=user, actor=system_actor)
    user.refresh_from_db()
    assert (user.is_active, user.version) == (True, 2)
    assert len(events_for(user, AuditAction.USER_REACTIVATED)) == 1


def test_user_set_active_dispatches_on_the_wanted_state(
    organization, make_user, system_actor, events_for
):
    user = make_user(organization)
    user_set_active(user=user, active=False, actor=system_actor)
    user_set_active(user=user, active=False, actor=system_actor)
    user_set_active(user=user, active=True, actor=system_actor)
    user.refresh_from_db()
    assert user.is_active
    assert [e.action for e in events_for(user)] == [
        AuditAction.USER_CREATED,
        AuditAction.USER_DEACTIVATED,
        AuditAction.USER_REACTIVATED,
    ]


def test_user_delete_removes_the_user_and_memberships_and_audits(
    organization, make_user, make_group, admin_actor, request_id
):
    user = make_user(organization, "ada@example.com", external_id="00u1")
    group = make_group(organization, members=[user])
    user_id = user.pk
    user_delete(user=user, actor=admin_actor)
    assert not User.objects.filter(pk=user_id).exists()
    assert not group.memberships.exists()
    event = AuditEvent.objects.get(target_id=str(user_id), action=AuditAction.USER_DELETED)
    assert event.changes == {"userName": "ada@example.com", "externalId": "00u1"}
    assert (event.actor_id, event.request_id) == (admin_actor.id, request_id)


def test_a_deleted_users_name_may_be_used_again(organization, make_user, system_actor):
    user = make_user(organization, "ada@example.com")
    user_delete(user=user, actor=system_actor)
    again = user_create(organization=organization, username="ADA@example.com", actor=system_actor)
    assert again.pk != user.pk


def test_user_delete_keeps_the_user_when_the_audit_write_fails(
    organization, make_user, system_actor, fail_audit
):
    user = make_user(organization)
    fail_audit()
    with pytest.raises(RuntimeError):
        user_delete(user=user, actor=system_actor)
    assert User.objects.filter(pk=user.pk).exists()


def test_user_set_password_changes_the_hash_and_audits_without_the_secret(
    organization, make_user, system_actor, events_for
):
    user = make_user(organization)
    user_set_password(user=user, password="a brand new secret 9", actor=system_actor)
    user.refresh_from_db()
    assert user.check_password("a brand new secret 9")
    [event] = events_for(user, AuditAction.USER_PASSWORD_SET)
    assert event.changes == {}
    assert "a brand new secret 9" not in str(event.__dict__)


def test_user_set_password_keeps_the_old_password_when_the_audit_write_fails(
    organization, make_user, system_actor, fail_audit
):
    user = make_user(organization, password="the original secret 1")
    fail_audit()
    with pytest.raises(RuntimeError):
        user_set_password(user=user, password="a brand new secret 9", actor=system_actor)
    user.refresh_from_db()
    assert user.check_password("the original secret 1")


class TestUserSetRole:
    def test_changes_the_role_bumps_version_and_audits(
        self, organization, make_user, system_actor, request_id, events_for
    ):
        user = make_user(organization)
        user_set_role(user=user, role=Role.ADMIN, actor=system_actor)
        user.refresh_from_db()
        assert (user.role, user.version) == (Role.ADMIN, 2)
        [event] = events_for(user, AuditAction.USER_ROLE_CHANGED)
        assert event.changes == {"role": {"from": "member", "to": "admin"}}
        assert event.request_id == request_id

    def test_setting_the_current_role_writes_nothing(
        self, organization, make_user, system_actor, events_for
    ):
        user = make_user(organization, role=Role.ADMIN)
        user_set_role(user=user, role=Role.ADMIN, actor=system_actor)
        user.refresh_from_db()
        assert user.version == 1
        assert events_for(user, AuditAction.USER_ROLE_CHANGED) == []

    def test_refuses_an_unknown_role(self, organization, make_user, system_actor):
        user = make_user(organization)
        with pytest.raises(InvalidValue):
            user_set_role(user=user, role="root", actor=system_actor)

    def test_the_last_active_owner_keeps_the_role(self, org_owner, system_actor, events_for):
        with pytest.raises(PrivilegeRefused):
            user_set_role(user=org_owner, role=Role.ADMIN, actor=system_actor)
        org_owner.refresh_from_db()
        assert org_owner.role == Role.OWNER
        assert events_for(org_owner, AuditAction.USER_ROLE_CHANGED) == []

    def test_an_owner_may_step_down_when_another_active_owner_remains(
        self, org_owner, second_owner, system_actor
    ):
        user_set_role(user=org_owner, role=Role.ADMIN, actor=system_actor)
        org_owner.refresh_from_db()
        assert org_owner.role == Role.ADMIN

    def test_an_inactive_other_owner_does_not_count(self, org_owner, second_owner, system_actor):
        user_deactivate(user=second_owner, actor=system_actor)
        with pytest.raises(PrivilegeRefused):
            user_set_role(user=org_owner, role=Role.MEMBER, actor=system_actor)

    def test_a_deactivated_owner_may_be_demoted_while_an_active_owner_remains(
        self, org_owner, second_owner, system_actor
    ):
        user_deactivate(user=second_owner, actor=system_actor)
        user_set_role(user=second_owner, role=Role.MEMBER, actor=system_actor)
        second_owner.refresh_from_db()
        assert second_owner.role == Role.MEMBER

    def test_an_admin_may_not_grant_the_owner_role(
        self, organization, make_user, org_admin, org_owner, admin_actor
    ):
        user = make_user(organization)
        with pytest.raises(PrivilegeRefused):
            user_set_role(user=user, role=Role.OWNER, actor=admin_actor, acting_user=org_admin)
        user.refresh_from_db()
        assert user.role == Role.MEMBER

    def test_an_admin_may_not_demote_an_owner(
        self, org_owner, second_owner, org_admin, admin_actor
    ):
        with pytest.raises(PrivilegeRefused):
            user_set_role(
                user=second_owner, role=Role.MEMBER, actor=admin_actor, acting_user=org_admin
            )
        second_owner.refresh_from_db()
        assert second_owner.role == Role.OWNER

    def test_an_admin_may_make_a_member_an_admin(
        self, organization, make_user, org_admin, admin_actor
    ):
        user = make_user(organization)
        user_set_role(user=user, role=Role.ADMIN, actor=admin_actor, acting_user=org_admin)
        user.refresh_from_db()
        assert user.role == Role.ADMIN

    def test_an_owner_may_grant_the_owner_role(self, organization, make_user, org_owner):
        from accounts.actors import Actor

        user = make_user(organization)
        user_set_role(
            user=user, role=Role.OWNER, actor=Actor.for_user(org_owner), acting_user=org_owner
        )
        user.refresh_from_db()
        assert user.role == Role.OWNER

    def test_an_admin_of_another_organization_is_refused(
        self, organization, other_organization, make_user
    ):
        from accounts.actors import Actor

        user = make_user(organization)
        outsider = make_user(other_organization, "boss@globex.example", role=Role.OWNER)
        with pytest.raises(PrivilegeRefused):
            user_set_role(
                user=user, role=Role.ADMIN, actor=Actor.for_user(outsider), acting_user=outsider
            )
        user.refresh_from_db()
        assert user.role == Role.MEMBER

    def test_a_member_may_not_change_roles(self, organization, make_user):
        from accounts.actors import Actor

        member = make_user(organization)
        user = make_user(organization)
        with pytest.raises(PrivilegeRefused):
            user_set_role(
                user=user, role=Role.ADMIN, actor=Actor.for_user(member), acting_user=member
            )

    def test_role_is_unchanged_when_the_audit_write_fails(
        self, organization, make_user, system_actor, fail_audit
    ):
        user = make_user(organization)
        fail_audit()
        with pytest.raises(RuntimeError):
            user_set_role(user=user, role=Role.ADMIN, actor=system_actor)
        user.refresh_from_db()
        assert (user.role, user.version) == (Role.MEMBER, 1)


@pytest.mark.parametrize(
    "field", ["email", "given_name", "family_name", "display_name", "external_id", "title"]
)
def test_user_create_refuses_an_over_long_value_with_a_clear_error(
    organization, system_actor, field
):
    with pytest.raises(InvalidValue, match=field):
        user_create(
            organization=organization, username="ada", actor=system_actor, **{field: "x" * 256}
        )
    assert not User.objects.filter(organization=organization).exists()


def test_user_update_refuses_an_over_long_value_and_changes_nothing(
    organization, make_user, system_actor, events_for
):
    user = make_user(organization, given_name="Ada")
    with pytest.raises(InvalidValue, match="given_name"):
        user_update(user=user, given_name="x" * 151, actor=system_actor)
    user.refresh_from_db()
    assert (user.given_name, user.version) == ("Ada", 1)
    assert events_for(user, AuditAction.USER_UPDATED) == []


def test_no_actor_deactivates_the_last_owner(org_owner, system_actor):
    with pytest.raises(PrivilegeRefused, match="at least one active owner"):
        user_deactivate(user=org_owner, actor=system_actor)
    org_owner.refresh_from_db()
    assert org_owner.is_active


def test_console_admins_cannot_deactivate_themselves(org_admin):
    with pytest.raises(PrivilegeRefused, match="yourself"):
        user_deactivate(user=org_admin, actor=Actor.for_user(org_admin), acting_user=org_admin)
    org_admin.refresh_from_db()
    assert org_admin.is_active


def test_only_owners_deactivate_owners(organization, org_owner, org_admin, make_user):
    with pytest.raises(PrivilegeRefused, match="Only owners"):
        user_deactivate(user=org_owner, actor=Actor.for_user(org_admin), acting_user=org_admin)
    org_owner.refresh_from_db()
    assert org_owner.is_active
    assert not AuditEvent.objects.filter(
        action=AuditAction.USER_DEACTIVATED, target_id=str(org_owner.pk)
    ).exists()

    second_owner = make_user(organization, "second@acme.example", role=Role.OWNER)
    user_deactivate(user=org_owner, actor=Actor.for_user(second_owner), acting_user=second_owner)
    org_owner.refresh_from_db()
    assert not org_owner.is_active


def test_console_deactivation_stays_in_the_acting_users_organization(
    org_owner, other_organization, make_user
):
    stranger = make_user(other_organization, "stranger@globex.example")
    with pytest.raises(PrivilegeRefused, match="your own organization"):
        user_deactivate(user=stranger, actor=Actor.for_user(org_owner), acting_user=org_owner)
    stranger.refresh_from_db()
    assert stranger.is_active
