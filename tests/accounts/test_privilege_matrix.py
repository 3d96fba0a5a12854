"""The privilege model as a table: actor x action x target, each allowed or refused.

docs/security.md states the same rules in words. Every row runs the real service with
the actor the console, SCIM, the operations admin or a command would pass.
"""

import pytest

from accounts.actors import Actor
from accounts.domain_verification import record_name, record_value
from accounts.errors import PrivilegeRefused
from accounts.models import AuditEvent, Organization, OrganizationDomain, Role, Source, User
from accounts.services import (
    domain_add,
    domain_check,
    domain_remove,
    group_set_grants_admin,
    operator_create,
    organization_set_sso_required,
    user_deactivate,
    user_delete,
    user_link_to_idp,
    user_reactivate,
    user_record_sso_sign_in,
    user_set_role,
    user_update,
)
from sso.selectors import idp_of
from sso.services import idp_configure, sso_requirement_set

ALLOW, REFUSE = True, False


@pytest.fixture
def people(organization, make_user, system_actor):
    """An acting owner plus one target of each kind; a second owner keeps owners removable."""
    acting_owner = make_user(organization, "boss@acme.example", role=Role.OWNER, source="manual")
    made = {
        "owner": make_user(organization, "owner2@acme.example", role=Role.OWNER, source="manual"),
        "admin": make_user(organization, "admin2@acme.example", role=Role.ADMIN, source="manual"),
        "scim_admin": make_user(organization, "okta-admin@acme.example", role=Role.ADMIN),
        "member": make_user(organization, "member@acme.example"),
        "linked_owner": make_user(
            organization, "linked@acme.example", role=Role.OWNER, source=Source.MANUAL
        ),
    }
    user_link_to_idp(user=made["linked_owner"], linked=True, actor=system_actor, acting_user=None)
    made["acting_owner"] = acting_owner
    made["acting_admin"] = make_user(
        organization, "actingadmin@acme.example", role=Role.ADMIN, source=Source.MANUAL
    )
    return made


def _actor(kind, people, make_scim_token, organization, make_user):
    """(Actor, acting_user) as each path passes them."""
    if kind == "owner":
        return Actor.for_user(people["acting_owner"]), people["acting_owner"]
    if kind == "admin":
        return Actor.for_user(people["acting_admin"]), people["acting_admin"]
    if kind == "token":
        token, _ = make_scim_token(organization)
        return Actor.for_token(token_id=token.pk, prefix=token.prefix), None
    if kind == "operator":
        operator = operator_create(username="ops", email="", password="an-operator-pass-42")
        return Actor.for_user(operator), None
    assert kind == "command"
    return Actor.system("a management command"), None


def _deactivate(user, actor, acting_user):
    user_deactivate(user=user, actor=actor, acting_user=acting_user)
    user.refresh_from_db()
    return not user.is_active


def _reactivate(user, actor, acting_user):
    User.objects.filter(pk=user.pk).update(is_active=False)
    user_reactivate(user=user, actor=actor, acting_user=acting_user)
    user.refresh_from_db()
    return user.is_active


def _delete(user, actor, acting_user):
    user_delete(user=user, actor=actor)
    return not User.objects.filter(pk=user.pk).exists()


def _change_role(user, actor, acting_user):
    role = Role.MEMBER if user.role != Role.MEMBER else Role.ADMIN
    user_set_role(user=user, role=role, actor=actor, acting_user=acting_user)
    user.refresh_from_db()
    return user.role == role


def _rename(user, actor, acting_user):
    user_update(user=user, username="renamed@acme.example", actor=actor)
    user.refresh_from_db()
    return user.username == "renamed@acme.example"


def _link(user, actor, acting_user):
    user_link_to_idp(user=user, linked=True, actor=actor, acting_user=acting_user)
    user.refresh_from_db()
    return user.idp_linked


ACTIONS = {
    "deactivate": _deactivate,
    "reactivate": _reactivate,
    "delete": _delete,
    "change_role": _change_role,
    "rename": _rename,
    "link": _link,
}

# (actor, action, target, outcome). Console users never delete or rename (no such path);
# tokens never change roles or links (no such path either).
MATRIX = [
    ("owner", "deactivate", "owner", ALLOW),
    ("owner", "deactivate", "admin", ALLOW),
    ("owner", "deactivate", "member", ALLOW),
    ("admin", "deactivate", "owner", REFUSE),
    ("admin", "deactivate", "linked_owner", REFUSE),
    ("admin", "deactivate", "admin", ALLOW),
    ("admin", "deactivate", "member", ALLOW),
    ("token", "deactivate", "owner", REFUSE),
    ("token", "deactivate", "admin", REFUSE),
    ("token", "deactivate", "scim_admin", ALLOW),
    ("token", "deactivate", "linked_owner", ALLOW),
    ("token", "deactivate", "member", ALLOW),
    ("operator", "deactivate", "owner", ALLOW),
    ("owner", "reactivate", "owner", ALLOW),
    ("admin", "reactivate", "owner", REFUSE),
    ("admin", "reactivate", "admin", ALLOW),
    ("admin", "reactivate", "member", ALLOW),
    ("token", "reactivate", "owner", REFUSE),
    ("token", "reactivate", "admin", REFUSE),
    ("token", "reactivate", "member", ALLOW),
    ("command", "reactivate", "owner", ALLOW),
    ("token", "delete", "owner", REFUSE),
    ("token", "delete", "admin", REFUSE),
    ("token", "delete", "scim_admin", ALLOW),
    ("token", "delete", "member", ALLOW),
    ("operator", "delete", "owner", ALLOW),
    ("operator", "delete", "member", ALLOW),
    ("owner", "change_role", "owner", ALLOW),
    ("owner", "change_role", "admin", ALLOW),
    ("owner", "change_role", "member", ALLOW),
    ("admin", "change_role", "owner", REFUSE),
    ("admin", "change_role", "admin", ALLOW),
    ("admin", "change_role", "member", ALLOW),
    ("token", "change_role", "owner", REFUSE),
    ("command", "change_role", "owner", ALLOW),
    ("token", "rename", "owner", REFUSE),
    ("token", "rename", "admin", REFUSE),
    ("token", "rename", "linked_owner", REFUSE),
    ("token", "rename", "scim_admin", REFUSE),
    ("token", "rename", "member", ALLOW),
    ("operator", "rename", "owner", ALLOW),
    ("owner", "link", "admin", ALLOW),
    ("owner", "link", "owner", ALLOW),
    ("admin", "link", "admin", REFUSE),
    ("admin", "link", "member", REFUSE),
    ("command", "link", "owner", ALLOW),
]


@pytest.mark.parametrize(("actor_kind", "action", "target", "allowed"), MATRIX)
def test_privilege_matrix(
    actor_kind, action, target, allowed, people, organization, make_scim_token, make_user
):
    actor, acting_user = _actor(actor_kind, people, make_scim_token, organization, make_user)
    user = people[target]
    version = User.objects.get(pk=user.pk).version
    if allowed:
        assert ACTIONS[action](user, actor, acting_user) is True
        return
    with pytest.raises(PrivilegeRefused):
        ACTIONS[action](user, actor, acting_user)
    stored = User.objects.filter(pk=user.pk).first()
    assert stored is not None and stored.version == version


LAST_OWNER_ACTIONS = ["deactivate", "delete", "change_role"]


@pytest.mark.parametrize("actor_kind", ["owner", "admin", "token", "operator", "command"])
@pytest.mark.parametrize("action", LAST_OWNER_ACTIONS)
def test_no_actor_removes_the_last_active_owner(
    actor_kind, action, organization, make_user, make_scim_token, system_actor
):
    only_owner = make_user(organization, "only@acme.example", role=Role.OWNER, source="manual")
    # Linked, so the token's "IdP-owned only" rule is not what refuses it.
    user_link_to_idp(user=only_owner, linked=True, actor=system_actor, acting_user=None)
    acting = {
        "owner": only_owner,
        "admin": make_user(organization, "a@acme.example", role=Role.ADMIN, source="manual"),
    }.get(actor_kind)
    if acting is not None:
        actor = Actor.for_user(acting)
    else:
        actor, _ = _actor(actor_kind, {}, make_scim_token, organization, make_user)

    with pytest.raises(PrivilegeRefused):
        ACTIONS[action](only_owner, actor, acting)

    assert User.objects.filter(pk=only_owner.pk, role=Role.OWNER, is_active=True).exists()


@pytest.mark.parametrize(
    ("actor_kind", "allowed"),
    [
        ("owner", ALLOW),
        ("admin", REFUSE),
        ("token", REFUSE),
        ("operator", ALLOW),
        ("command", ALLOW),
    ],
)
def test_only_owners_and_the_platform_change_sso_settings(
    actor_kind, allowed, people, organization, make_scim_token, make_user, idp_fields
):
    actor, acting_user = _actor(actor_kind, people, make_scim_token, organization, make_user)
    if actor_kind == "operator":
        acting_user = User.objects.get(username="ops")
    if allowed:
        idp_configure(organization=organization, actor=actor, acting_user=acting_user, **idp_fields)
        assert idp_of(organization).entity_id == idp_fields["entity_id"]
        return
    with pytest.raises(PrivilegeRefused):
        idp_configure(organization=organization, actor=actor, acting_user=acting_user, **idp_fields)
    assert idp_of(organization) is None


@pytest.mark.parametrize(
    ("actor_kind", "allowed"),
    [
        ("owner", ALLOW),
        ("admin", REFUSE),
        ("token", REFUSE),
        ("operator", ALLOW),
        ("command", ALLOW),
    ],
)
def test_only_owners_and_the_platform_map_a_group_to_the_admin_role(
    actor_kind, allowed, people, organization, make_scim_token, make_user, make_group
):
    group = make_group(organization, "Roster admins", members=[people["member"]])
    actor, acting_user = _actor(actor_kind, people, make_scim_token, organization, make_user)
    if actor_kind == "operator":
        acting_user = User.objects.get(username="ops")

    def mapped():
        group.refresh_from_db()
        people["member"].refresh_from_db()
        return group.grants_admin, people["member"].role

    if allowed:
        group_set_grants_admin(group=group, grants_admin=True, actor=actor, acting_user=acting_user)
        assert mapped() == (True, Role.ADMIN)
        return
    with pytest.raises(PrivilegeRefused):
        group_set_grants_admin(group=group, grants_admin=True, actor=actor, acting_user=acting_user)
    assert mapped() == (False, Role.MEMBER)


def test_a_user_actor_without_acting_user_cannot_map_a_group(organization, org_admin, make_group):
    with pytest.raises(TypeError):
        group_set_grants_admin(
            group=make_group(organization, "IT"), grants_admin=True, actor=Actor.for_user(org_admin)
        )


def test_a_user_actor_without_acting_user_cannot_change_sso(organization, org_admin, idp_fields):
    with pytest.raises(TypeError):
        idp_configure(organization=organization, actor=Actor.for_user(org_admin), **idp_fields)


@pytest.fixture
def idp_fields():
    from tests.console.conftest import make_certificate

    return {
        "entity_id": "http://www.okta.com/exk1matrix",
        "sso_url": "https://acme.okta.example/sso/saml",
        "certificates": [make_certificate()],
    }


def _add_domain(organization, actor, acting_user, fake_dns):
    domain_add(
        organization=organization, domain="acme.example", actor=actor, acting_user=acting_user
    )
    return OrganizationDomain.objects.filter(organization=organization).exists()


def _check_domain(organization, actor, acting_user, fake_dns):
    domain = domain_add(
        organization=organization, domain="acme.example", actor=Actor.system(), acting_user=None
    )
    fake_dns.publish(record_name(domain.domain), record_value(domain.verification_token))
    domain_check(domain=domain, actor=actor, acting_user=acting_user)
    return OrganizationDomain.objects.get(pk=domain.pk).is_verified


def _remove_domain(organization, actor, acting_user, fake_dns):
    domain = domain_add(
        organization=organization, domain="acme.example", actor=Actor.system(), acting_user=None
    )
    domain_remove(domain=domain, actor=actor, acting_user=acting_user)
    return not OrganizationDomain.objects.filter(pk=domain.pk).exists()


DOMAIN_ACTIONS = {"add": _add_domain, "check": _check_domain, "remove": _remove_domain}
# Domains feed single sign-on (discovery, just-in-time creation, email matching), so
# they follow the SSO settings' rule: owners and the platform only.
DOMAIN_MATRIX = [
    (actor_kind, action, allowed)
    for action in DOMAIN_ACTIONS
    for actor_kind, allowed in [
        ("owner", ALLOW),
        ("admin", REFUSE),
        ("token", REFUSE),
        ("other_owner", REFUSE),
        ("operator", ALLOW),
        ("command", ALLOW),
    ]
]


@pytest.mark.parametrize(("actor_kind", "action", "allowed"), DOMAIN_MATRIX)
def test_only_owners_and_the_platform_manage_domains(
    actor_kind,
    action,
    allowed,
    people,
    organization,
    other_organization,
    make_scim_token,
    make_user,
    fake_dns,
):
    if actor_kind == "other_owner":
        acting_user = make_user(
            other_organization, "boss@globex.example", role=Role.OWNER, source="manual"
        )
        actor = Actor.for_user(acting_user)
    else:
        actor, acting_user = _actor(actor_kind, people, make_scim_token, organization, make_user)
    if actor_kind == "operator":
        acting_user = User.objects.get(username="ops")
    events = AuditEvent.objects.count()
    if allowed:
        assert DOMAIN_ACTIONS[action](organization, actor, acting_user, fake_dns) is True
        return
    with pytest.raises(PrivilegeRefused):
        DOMAIN_ACTIONS[action](organization, actor, acting_user, fake_dns)
    setup_events = 0 if action == "add" else 1  # the system's domain_add before the refusal
    assert AuditEvent.objects.count() == events + setup_events
    assert fake_dns.queries == []


# Turning the SSO requirement on needs an owner's own working SSO sign-in; an operator
# in Django's admin may only turn it off (recovery). `manage.py require_sso --on` is the
# operator's deliberate act at the shell, answered for by whoever runs it: it needs an
# active connection, not a sign-in. Tokens and admins never change it.
REQUIREMENT_MATRIX = [
    ("owner", True, ALLOW),
    ("admin", True, REFUSE),
    ("token", True, REFUSE),
    ("operator", True, REFUSE),
    ("command", True, ALLOW),
    ("owner", False, ALLOW),
    ("admin", False, REFUSE),
    ("token", False, REFUSE),
    ("operator", False, ALLOW),
    ("command", False, ALLOW),
]


@pytest.mark.parametrize(("actor_kind", "required", "allowed"), REQUIREMENT_MATRIX)
def test_who_may_require_single_sign_on(
    actor_kind,
    required,
    allowed,
    people,
    organization,
    make_scim_token,
    make_user,
    idp_fields,
    system_actor,
):
    idp_configure(organization=organization, actor=system_actor, enabled=True, **idp_fields)
    organization_set_sso_required(
        organization=organization, required=not required, actor=system_actor
    )
    actor, acting_user = _actor(actor_kind, people, make_scim_token, organization, make_user)
    if actor_kind == "operator":
        acting_user = User.objects.get(username="ops")
    if acting_user is not None:
        user_record_sso_sign_in(user=acting_user)  # every user here has a working SSO sign-in

    def change():
        sso_requirement_set(
            organization=organization, required=required, actor=actor, acting_user=acting_user
        )

    if allowed:
        change()
    else:
        with pytest.raises(PrivilegeRefused):
            change()
    stored = Organization.objects.get(pk=organization.pk).sso_required
    assert stored == (required if allowed else not required)
