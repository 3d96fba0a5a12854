"""The console sign-in: email and password, for owners and admins, rate limited."""

import pytest

from accounts.models import AuditAction, AuditEvent, Role
from tests.conftest import ADMIN_PASSWORD

LOGIN = "/console/login/"


def _attempt(client, email, password="wrong-password-000", address="203.0.113.5", **extra):
    return client.post(LOGIN, {"email": email, "password": password, **extra}, REMOTE_ADDR=address)


def test_login_page_renders(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b'name="password"' in response.content


def test_good_login_opens_a_session_redirects_home_and_is_audited(client, org_admin):
    response = _attempt(client, "Admin@Acme.example", ADMIN_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/console/"
    assert client.session["_auth_user_id"] == str(org_admin.pk)
    event = AuditEvent.objects.get(action=AuditAction.CONSOLE_LOGIN)
    assert (event.actor_type, event.actor_id) == ("user", str(org_admin.pk))
    assert (event.target_type, event.target_id) == ("user", str(org_admin.pk))
    assert event.organization == org_admin.organization
    assert event.request_id == response["X-Request-ID"]


def test_bad_password_is_refused_with_a_message_and_no_session(client, org_admin):
    response = _attempt(client, "admin@acme.example", "not-the-password")
    assert response.status_code == 400
    assert b"do not match an account" in response.content
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action=AuditAction.CONSOLE_LOGIN).exists()


def test_unknown_email_gets_the_same_answer_as_a_bad_password(client, org_admin):
    unknown = _attempt(client, "nobody@acme.example")
    wrong = _attempt(client, "admin@acme.example")
    assert unknown.status_code == wrong.status_code == 400
    assert b"do not match an account" in unknown.content


def test_deactivated_user_cannot_log_in(client, org_admin, system_actor):
    from accounts.services import user_deactivate

    user_deactivate(user=org_admin, actor=system_actor)
    assert _attempt(client, "admin@acme.example", ADMIN_PASSWORD).status_code == 400
    assert "_auth_user_id" not in client.session


def test_malformed_email_is_a_400_not_a_500(client, db):
    response = _attempt(client, "not an email")
    assert response.status_code == 400


def test_member_who_logs_in_is_told_to_ask_an_administrator(client, organization, make_user):
    make_user(organization, "member@acme.example", password=ADMIN_PASSWORD, role=Role.MEMBER)
    assert _attempt(client, "member@acme.example", ADMIN_PASSWORD).status_code == 302
    response = client.get("/console/")
    assert response.status_code == 403
    assert b"Ask your administrator" in response.content


def test_anonymous_console_visit_redirects_to_login(client, db):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"] == "/console/login/?next=/console/"


def test_safe_next_is_followed(client, org_admin):
    response = _attempt(client, "admin@acme.example", ADMIN_PASSWORD, next="/console/users/")
    assert response["Location"] == "/console/users/"


@pytest.mark.parametrize(
    "unsafe",
    ["https://evil.example/", "//evil.example/console/", "javascript:alert(1)", "\\\\evil.example"],
)
def test_unsafe_next_is_ignored(client, org_admin, unsafe):
    response = _attempt(client, "admin@acme.example", ADMIN_PASSWORD, next=unsafe)
    assert response.status_code == 302
    assert response["Location"] == "/console/"


def test_unsafe_next_is_not_echoed_into_the_form(client, db):
    response = client.get(LOGIN, {"next": "https://evil.example/"})
    assert b"evil.example" not in response.content


class TestRateLimit:
    def test_the_51st_failure_from_one_address_across_accounts_is_refused(self, client, db):
        for n in range(50):
            assert _attempt(client, f"guess{n}@acme.example").status_code == 400
        response = _attempt(client, "guess50@acme.example")
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 300
        assert b"Too many sign-in attempts" in response.content

    def test_an_office_behind_one_address_is_not_locked_out_by_one_persons_typos(
        self, client, organization, make_user
    ):
        colleagues = [
            make_user(
                organization, f"admin{n}@acme.example", password=ADMIN_PASSWORD, role=Role.ADMIN
            )
            for n in range(15)
        ]
        # One person mistypes until their own account is throttled, and keeps trying.
        statuses = [_attempt(client, "admin0@acme.example").status_code for _ in range(30)]
        assert statuses == [400] * 10 + [429] * 20

        for colleague in colleagues[1:]:
            client.logout()
            response = _attempt(client, colleague.email, ADMIN_PASSWORD)
            assert response.status_code == 302, colleague.email

    def test_successful_sign_ins_are_not_counted(self, client, org_admin, settings):
        settings.CONSOLE_LOGIN_RATE = "2/5m"
        settings.CONSOLE_LOGIN_ADDRESS_RATE = "2/5m"
        for _ in range(5):
            client.logout()
            assert _attempt(client, "admin@acme.example", ADMIN_PASSWORD).status_code == 302
        assert [_attempt(client, "admin@acme.example").status_code for _ in range(3)] == [
            400,
            400,
            429,
        ]

    def test_eleventh_attempt_at_one_account_is_refused_from_any_address(self, client, org_admin):
        for n in range(10):
            assert (
                _attempt(client, "admin@acme.example", address=f"198.51.100.{n}").status_code == 400
            )
        # Even the right password is refused once the account's window is spent.
        response = _attempt(client, "ADMIN@acme.example", ADMIN_PASSWORD, address="198.51.100.99")
        assert response.status_code == 429
        assert "Retry-After" in response
        assert "_auth_user_id" not in client.session

    def test_other_addresses_and_accounts_are_not_affected(self, client, org_admin):
        for n in range(11):
            _attempt(client, f"guess{n}@acme.example", address="203.0.113.5")
        response = _attempt(client, "admin@acme.example", ADMIN_PASSWORD, address="203.0.113.6")
        assert response.status_code == 302

    def test_the_rate_comes_from_the_console_login_rate_setting(self, client, db, settings):
        settings.CONSOLE_LOGIN_RATE = "3/m"
        for _ in range(3):
            assert _attempt(client, "someone@acme.example").status_code == 400
        response = _attempt(client, "someone@acme.example")
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 60

    def test_attempts_are_allowed_again_in_the_next_window(
        self, client, org_admin, settings, monkeypatch
    ):
        import time

        settings.CONSOLE_LOGIN_RATE = "2/m"
        now = (int(time.time()) // 60) * 60 + 1
        monkeypatch.setattr("config.ratelimit.clock", lambda: now)
        for _ in range(2):
            _attempt(client, "admin@acme.example")
        assert _attempt(client, "admin@acme.example").status_code == 429
        monkeypatch.setattr("config.ratelimit.clock", lambda: now + 60)
        assert _attempt(client, "admin@acme.example", ADMIN_PASSWORD).status_code == 302


def test_a_refused_sign_in_is_recorded_in_the_accounts_organization(client, org_admin):
    _attempt(client, "Admin@Acme.example", "not-the-password")

    event = AuditEvent.objects.get(action=AuditAction.CONSOLE_LOGIN_FAILED)
    assert event.organization == org_admin.organization
    assert (event.target_type, event.target_id) == ("user", str(org_admin.pk))
    assert (event.actor_type, event.actor_label) == ("system", "console sign-in")
    assert event.changes == {
        "reason": "wrong email or password",
        "client_address": "203.0.113.5",
    }
    assert "not-the-password" not in str(event.changes)


def test_a_refused_sign_in_for_an_unknown_email_writes_nothing(client, org_admin):
    _attempt(client, "nobody@acme.example")
    _attempt(client, "not an email")
    assert not AuditEvent.objects.filter(action=AuditAction.CONSOLE_LOGIN_FAILED).exists()


def test_throttled_sign_ins_are_not_recorded(client, org_admin, settings):
    settings.CONSOLE_LOGIN_RATE = "2/5m"
    statuses = [_attempt(client, "admin@acme.example").status_code for _ in range(4)]

    assert statuses == [400, 400, 429, 429]
    assert AuditEvent.objects.filter(action=AuditAction.CONSOLE_LOGIN_FAILED).count() == 2


def test_the_activity_filter_finds_refused_sign_ins(client, owner_client, org_admin):
    _attempt(client, "admin@acme.example")
    body = owner_client.get(
        "/console/activity/", {"action": AuditAction.CONSOLE_LOGIN_FAILED}
    ).content.decode()
    assert "Console sign-in failed" in body
    assert "admin@acme.example" in body
