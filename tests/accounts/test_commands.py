"""The operator commands the README and later set-up steps rely on."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditAction, AuditEvent, Group, Membership, Organization, Role, User
from accounts.selectors import user_by_username


def _run(*args, **options):
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_create_organization_creates_and_audits(db):
    output = _run("create_organization", "initech", name="Initech LLC")
    organization = Organization.objects.get(slug="initech")
    assert organization.name == "Initech LLC"
    assert "initech" in output
    event = AuditEvent.objects.get(organization=organization)
    assert event.action == AuditAction.ORGANIZATION_CREATED
    assert event.actor_type == "system"


def test_create_organization_refuses_a_taken_slug(organization):
    with pytest.raises(CommandError, match="already exists"):
        _run("create_organization", "acme", name="Other Acme")
    assert Organization.objects.get(slug="acme").name == "Acme Inc."


def test_create_organization_refuses_a_slug_that_is_not_url_safe(db):
    with pytest.raises(CommandError):
        _run("create_organization", "Not A Slug", name="Nope")
    assert not Organization.objects.exists()


def test_create_org_admin_with_a_password_creates_an_owner_who_can_log_in(organization, client):
    output = _run(
        "create_org_admin", "acme", "boss@acme.example", password="a-very-long-password-1"
    )
    user = user_by_username(organization, "boss@acme.example")
    assert (user.role, user.email, user.is_active) == (Role.OWNER, "boss@acme.example", True)
    assert "a-very-long-password-1" not in output
    response = client.post(
        "/console/login/", {"email": "boss@acme.example", "password": "a-very-long-password-1"}
    )
    assert response.status_code == 302


def test_create_org_admin_without_a_password_prints_a_generated_one_once(organization, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal, as in a script
    output = _run("create_org_admin", "acme", "boss@acme.example")
    lines = output.strip().splitlines()
    assert lines[-2] == "Generated password (shown once):"
    password = lines[-1]
    assert len(password) >= 20
    assert output.count(password) == 1
    assert user_by_username(organization, "boss@acme.example").check_password(password)
    events = AuditEvent.objects.filter(organization=organization)
    assert password not in str(list(events.values_list("changes", flat=True)))


def test_create_org_admin_on_a_terminal_prompts_twice_and_prints_nothing_secret(
    organization, monkeypatch
):
    answers = iter(["typed-password-on-tty-1", "typed-password-on-tty-1"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(
        "accounts.management.commands.create_org_admin.Command.stdin_is_tty", lambda self: True
    )
    output = _run("create_org_admin", "acme", "boss@acme.example")
    assert "typed-password-on-tty-1" not in output
    assert "Generated password" not in output
    user = user_by_username(organization, "boss@acme.example")
    assert user.check_password("typed-password-on-tty-1")


def test_create_org_admin_refuses_mismatched_prompted_passwords(organization, monkeypatch):
    answers = iter(["typed-password-on-tty-1", "typed-password-on-tty-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(
        "accounts.management.commands.create_org_admin.Command.stdin_is_tty", lambda self: True
    )
    with pytest.raises(CommandError, match="did not match"):
        _run("create_org_admin", "acme", "boss@acme.example")
    assert user_by_username(organization, "boss@acme.example") is None


def test_create_org_admin_for_an_existing_user_sets_role_and_password(organization, make_user):
    user = make_user(organization, "boss@acme.example")
    _run("create_org_admin", "acme", "BOSS@acme.example", password="a-very-long-password-1")
    user.refresh_from_db()
    assert user.role == Role.OWNER
    assert user.check_password("a-very-long-password-1")
    assert User.objects.filter(organization=organization).count() == 1


def test_create_org_admin_refuses_an_unknown_organization(db):
    with pytest.raises(CommandError, match="No organization"):
        _run("create_org_admin", "nowhere", "a@b.example", password="a-very-long-password-1")


def test_create_org_admin_refuses_a_weak_password(organization):
    with pytest.raises(CommandError):
        _run("create_org_admin", "acme", "boss@acme.example", password="short")
    assert user_by_username(organization, "boss@acme.example") is None


def _counts():
    return (
        Organization.objects.count(),
        User.objects.count(),
        Group.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    )


def test_seed_demo_is_idempotent(db, monkeypatch):
    monkeypatch.delenv("DEMO_OWNER_PASSWORD", raising=False)
    _run("seed_demo")
    first = _counts()
    _run("seed_demo")
    assert _counts() == first
    assert first[:4] == (1, 6, 3, 9)


def test_seed_demo_owner_logs_in_with_demo_owner_password(db, client, monkeypatch):
    monkeypatch.setenv("DEMO_OWNER_PASSWORD", "demo-owner-password-123")
    output = _run("seed_demo")
    assert "owner@demo.example" in output
    response = client.post(
        "/console/login/", {"email": "owner@demo.example", "password": "demo-owner-password-123"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/"


def test_seed_demo_resets_the_owner_password_when_it_changes(db, client, monkeypatch):
    monkeypatch.setenv("DEMO_OWNER_PASSWORD", "first-demo-password-1")
    _run("seed_demo")
    monkeypatch.setenv("DEMO_OWNER_PASSWORD", "second-demo-password-2")
    _run("seed_demo")
    owner = user_by_username(Organization.objects.get(slug="demo"), "owner@demo.example")
    assert owner.check_password("second-demo-password-2")


def test_createsuperuser_makes_an_operator_outside_every_organization(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-operator-password-1")
    call_command(
        "createsuperuser",
        "--noinput",
        username="ops",
        email="ops@example.com",
        stdout=io.StringIO(),
    )
    operator = User.objects.get(username="ops")
    assert operator.organization is None
    assert operator.is_superuser and operator.is_staff


def test_createsuperuser_refuses_a_taken_operator_name_in_any_case(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-operator-password-1")
    call_command("createsuperuser", "--noinput", username="ops", email="", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists among platform operators"):
        call_command("createsuperuser", "--noinput", username="OPS", email="", stdout=io.StringIO())
    assert User.objects.filter(organization__isnull=True).count() == 1


def test_createsuperuser_asks_for_the_username_and_password_twice(db, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "ops")
    answers = iter(["a-long-operator-password-1", "a-long-operator-password-1"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    output = _run("createsuperuser")
    operator = User.objects.get(username="ops")
    assert operator.check_password("a-long-operator-password-1")
    assert output == "Operator ops created.\n"


def test_createsuperuser_refuses_passwords_that_differ(db, monkeypatch):
    answers = iter(["a-long-operator-password-1", "a-long-operator-password-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="The passwords did not match"):
        _run("createsuperuser", username="ops")
    assert not User.objects.exists()


def test_createsuperuser_refuses_a_weak_password_with_the_validators_message(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "short")
    with pytest.raises(CommandError, match="too short"):
        _run("createsuperuser", "--noinput", username="ops")
    assert not User.objects.exists()


def test_createsuperuser_without_input_needs_a_username(db):
    with pytest.raises(CommandError, match="--username is required with --noinput"):
        _run("createsuperuser", "--noinput")
    assert not User.objects.exists()


def test_createsuperuser_without_a_password_variable_makes_an_operator_without_password(
    db, monkeypatch
):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    _run("createsuperuser", "--noinput", username="ops")
    assert not User.objects.get(username="ops").has_usable_password()
