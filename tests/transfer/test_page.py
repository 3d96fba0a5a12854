"""The person's File transfer page: what each person sees, and each form's paths."""

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import user_deactivate
from config.env import env_endpoints
from tests.conftest import ADMIN_PASSWORD
from tests.sso import conftest as sso_fixtures
from tests.sso.conftest import post_acs, start_login
from tests.transfer.conftest import new_public_key
from transfer import ssh_keys, views
from transfer.models import APP_PASSWORD, AppPassword, CredentialSource, SshKey, TransferMode
from transfer.recent_sign_in import FRESH_SECONDS, SESSION_KEY
from transfer.services import (
    MAX_APP_PASSWORDS,
    app_password_create,
    folder_grant_set,
    ssh_key_add,
    transfer_policy_set,
)

pytestmark = pytest.mark.django_db

PAGE = "/transfer/"
ADD_KEY = "/transfer/keys/add/"
CREATE_PASSWORD = "/transfer/app-passwords/create/"
NEXT_PAGE = "next=%2Ftransfer%2F"
ENDPOINTS = "sftp=sftp.acme.example:2222,ftps=ftp.acme.example:21"
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


# The SAML fixtures of tests/sso, for sign-ins through the real login and ACS.
idp = sso_fixtures.idp
saml_idp = sso_fixtures.saml_idp
assertion_for = sso_fixtures.assertion_for


@pytest.fixture(autouse=True)
def _endpoints(settings):
    settings.TRANSFER_ENDPOINTS = env_endpoints({"ENDPOINTS": ENDPOINTS}, "ENDPOINTS")


@pytest.fixture
def sso(settings, saml_idp):
    """The organization signs in through the test identity provider, over HTTPS."""
    settings.PUBLIC_BASE_URL = sso_fixtures.PUBLIC_BASE_URL
    settings.PUBLIC_IS_HTTPS = True
    return saml_idp


def sign_in(client, user, *, minutes_ago: float = 0):
    """Signed in as `user`, the sign-in made `minutes_ago` (the receiver records it)."""
    client.force_login(user, backend="sso.backends.SamlBackend")
    if minutes_ago:
        session = client.session
        session[SESSION_KEY] = int(time.time() - minutes_ago * 60)
        session.save()
    return client


@pytest.fixture
def bob_client(client, bob, transfer_on):
    return sign_in(client, bob)


def make_stale(client):
    session = client.session
    session[SESSION_KEY] -= FRESH_SECONDS + 1
    session.save()


def live_keys(user):
    return list(SshKey.objects.filter(user=user, revoked_at=None))


def live_passwords(user):
    return list(AppPassword.objects.filter(user=user, revoked_at=None))


# -- Who sees what -----------------------------------------------------------------------


def test_anonymous_visitors_go_to_the_sign_in_page(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/signin/?{NEXT_PAGE}"


def test_a_person_in_scope_sees_how_to_connect(bob_client, bob):
    response = bob_client.get(PAGE)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response.context["login"] == "bob@acme.example"
    assert response.context["sftp_command"] == "sftp -P 2222 'bob@acme.example'@sftp.acme.example"
    page = response.content.decode()
    assert 'value="bob@acme.example"' in page
    assert 'value="sftp.acme.example"' in page and "<code>2222</code>" in page
    assert 'value="ftp.acme.example"' in page and "<code>21</code>" in page
    assert "not with OpenSSH" not in page
    assert 'name="key-public_key"' in page and 'action="/transfer/app-passwords/create/"' in page


def test_a_login_name_that_system_accounts_cannot_take_says_so(
    client, organization, make_user, transfer_on
):
    person = make_user(organization, "o'brien@gmail.com")
    response = sign_in(client, person).get(PAGE)

    assert response.context["login"] == "acme+o'brien@gmail.com"
    assert "It works with SFTPGo and WebDAV, but not with OpenSSH" in response.content.decode()
    # Quoted for a POSIX shell: the quote inside the login name is closed and escaped.
    assert response.context["sftp_command"] == (
        "sftp -P 2222 'acme+o'\\''brien@gmail.com'@sftp.acme.example"
    )


def test_a_person_sees_their_folders_keys_passwords_and_recent_sign_ins(
    bob_client, bob, organization, make_group, bob_password, server, system_actor
):
    group = make_group(organization, "Finance", members=[bob])
    folder_grant_set(group=group, path="/Finance", access="write", actor=system_actor)
    ssh_key_add(
        user=bob,
        public_key=new_public_key(),
        label="Work laptop",
        source="personal",
        actor=system_actor,
    )
    for _ in range(21):
        assert server.authenticate("bob@acme.example", password=bob_password[1]).status_code == 200

    response = bob_client.get(PAGE)

    page = response.content.decode()
    assert response.context["folders"] == [{"path": "/Finance", "access": "write"}]
    assert "<code>/Finance</code></td><td>Read and write" in page
    assert "Work laptop" in page and "FileZilla" in page
    assert len(response.context["sign_ins"]) == 20
    assert "Allowed" in page


def test_the_page_costs_the_same_with_more_credentials(
    bob_client, bob, system_actor, django_assert_max_num_queries
):
    for index in range(5):
        ssh_key_add(
            user=bob,
            public_key=new_public_key(),
            label=f"key {index}",
            source="personal",
            actor=system_actor,
        )
        app_password_create(user=bob, label=f"pw {index}", source="personal", actor=system_actor)
    # Session, user, organization, setting and its scope groups, verified domain,
    # folders, keys, passwords, sign-ins, the session save.
    with django_assert_max_num_queries(11):
        assert bob_client.get(PAGE).status_code == 200


def test_with_file_transfer_off_the_page_says_why_and_has_no_forms(client, bob):
    response = sign_in(client, bob).get(PAGE)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Your organization has not turned on file transfer." in page
    assert 'name="key-public_key"' not in page and "app-passwords/create" not in page
    assert 'id="login-name"' not in page


def test_a_person_out_of_scope_is_told_which_groups_have_it(
    client, organization, bob, make_group, system_actor
):
    group = make_group(organization, "Transfer users")
    transfer_policy_set(
        organization=organization, mode=TransferMode.GROUPS, groups=[group], actor=system_actor
    )
    page = sign_in(client, bob).get(PAGE).content.decode()

    assert "File transfer is on for members of Transfer users; you are not one of them." in page
    assert 'name="key-public_key"' not in page


def test_a_deactivated_person_is_signed_out_and_sent_to_sign_in(
    client, bob, transfer_on, system_actor
):
    # Even before deactivation ends the session (after commit), the authentication
    # backends refuse an inactive user: the page never shows to them.
    sign_in(client, bob)
    user_deactivate(user=bob, actor=system_actor)

    response = client.get(PAGE)

    assert response["Location"] == f"/signin/?{NEXT_PAGE}"


def test_a_person_without_access_cannot_add_credentials(client, bob):
    sign_in(client, bob)

    key = client.post(ADD_KEY, {"key-public_key": new_public_key()})
    password = client.post(CREATE_PASSWORD, {"password-label": "FileZilla"})

    assert key.status_code == password.status_code == 403
    assert "has not turned on file transfer" in key.content.decode()
    assert live_keys(bob) == [] and live_passwords(bob) == []


def test_the_landing_page_links_to_the_file_transfer_page(client, bob):
    page = sign_in(client, bob).get("/").content.decode()
    assert 'href="/transfer/">File transfer</a>' in page


# -- SSH keys ----------------------------------------------------------------------------


def test_a_person_adds_an_ssh_key(bob_client, bob):
    text = new_public_key("laptop")

    response = bob_client.post(ADD_KEY, {"key-label": "Work laptop", "key-public_key": text})

    assert response.status_code == 302
    assert response["Location"] == PAGE
    (key,) = live_keys(bob)
    assert (key.label, key.source) == ("Work laptop", CredentialSource.PERSONAL)
    assert "SSH key “Work laptop” added." in bob_client.get(PAGE).content.decode()


def test_a_refused_key_is_a_form_error_and_is_never_echoed(bob_client, bob):
    response = bob_client.post(ADD_KEY, {"key-label": "mine", "key-public_key": PRIVATE_KEY})

    page = response.content.decode()
    assert response.status_code == 400
    assert ssh_keys.PRIVATE_KEY in page
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU" not in page
    assert 'value="mine"' in page
    assert live_keys(bob) == []


def test_a_key_that_is_not_a_key_is_not_echoed_either(bob_client, bob):
    response = bob_client.post(ADD_KEY, {"key-public_key": "ssh-ed25519 not-base64!"})
    assert response.status_code == 400
    assert ssh_keys.UNREADABLE_KEY in response.content.decode()
    assert "not-base64!" not in response.content.decode()


def test_a_key_registered_to_another_person_is_refused(
    bob_client, organization, make_user, system_actor
):
    text = new_public_key()
    other = make_user(organization, "carol@acme.example")
    ssh_key_add(user=other, public_key=text, source="personal", actor=system_actor)

    response = bob_client.post(ADD_KEY, {"key-public_key": text})

    assert response.status_code == 400
    assert "This key is already registered to another person." in response.content.decode()


def test_a_person_removes_their_own_key(bob_client, bob, system_actor):
    key = ssh_key_add(user=bob, public_key=new_public_key(), source="personal", actor=system_actor)

    response = bob_client.post(f"/transfer/keys/{key.pk}/remove/")

    assert response["Location"] == PAGE
    assert live_keys(bob) == []


def test_a_key_from_the_identity_provider_cannot_be_removed_by_the_person(bob_client, bob, bob_key):
    key, _ = bob_key
    page = bob_client.get(PAGE).content.decode()
    assert "Managed by your identity provider" in page
    assert f"/transfer/keys/{key.pk}/remove/" not in page

    response = bob_client.post(f"/transfer/keys/{key.pk}/remove/", follow=True)

    assert "Your identity provider manages this key" in response.content.decode()
    assert live_keys(bob) == [key]


def test_another_persons_key_is_not_found(bob_client, organization, make_user, system_actor):
    other = make_user(organization, "carol@acme.example")
    key = ssh_key_add(
        user=other, public_key=new_public_key(), source="personal", actor=system_actor
    )

    assert bob_client.post(f"/transfer/keys/{key.pk}/remove/").status_code == 404
    assert live_keys(other) == [key]


# -- App passwords -----------------------------------------------------------------------


def test_a_new_app_password_is_shown_once_with_no_store(bob_client, bob, server):
    response = bob_client.post(CREATE_PASSWORD, {"password-label": "FileZilla"})
    (password,) = live_passwords(bob)
    assert response["Location"] == f"/transfer/app-passwords/{password.pk}/created/"

    shown = bob_client.get(response["Location"])

    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    secret = shown.context["secret"]
    assert secret.startswith(f"{APP_PASSWORD.head}{password.prefix}.")
    assert f'value="{secret}"' in shown.content.decode()
    assert server.authenticate("bob@acme.example", password=secret).status_code == 200

    again = bob_client.get(response["Location"], follow=True)
    assert again.redirect_chain == [(PAGE, 302)]
    assert secret not in again.content.decode()
    assert "was shown once and cannot be shown again" in again.content.decode()


def test_an_app_password_not_shown_within_minutes_is_gone(bob_client, bob, monkeypatch):
    handoff = replace(views.NEW_APP_PASSWORD, readable_seconds=-1)
    monkeypatch.setattr(views, "NEW_APP_PASSWORD", handoff)
    response = bob_client.post(CREATE_PASSWORD, {"password-label": "FileZilla"})
    # The session holds it sealed, never in the clear.
    sealed = bob_client.session[handoff.session_key]["sealed"]
    assert APP_PASSWORD.head not in sealed

    shown = bob_client.get(response["Location"], follow=True)

    assert shown.redirect_chain == [(PAGE, 302)]
    assert "cannot be shown again" in shown.content.decode()
    assert handoff.session_key not in bob_client.session


def test_an_app_password_with_an_expiry_date(bob_client, bob):
    day = (timezone.now() + timedelta(days=30)).date()
    bob_client.post(
        CREATE_PASSWORD, {"password-label": "WinSCP", "password-expires_on": day.isoformat()}
    )
    (password,) = live_passwords(bob)
    assert password.expires_at.date() == day


def test_an_expiry_date_in_the_past_is_a_form_error(bob_client, bob):
    day = (timezone.now() - timedelta(days=1)).date()
    response = bob_client.post(
        CREATE_PASSWORD, {"password-label": "WinSCP", "password-expires_on": day.isoformat()}
    )
    assert response.status_code == 400
    assert "The expiry date must be in the future." in response.content.decode()
    assert live_passwords(bob) == []


def test_an_app_password_needs_a_label(bob_client, bob):
    response = bob_client.post(CREATE_PASSWORD, {"password-label": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_too_many_app_passwords_is_a_form_error(bob_client, bob, system_actor):
    for index in range(MAX_APP_PASSWORDS):
        app_password_create(user=bob, label=f"pw {index}", source="personal", actor=system_actor)

    response = bob_client.post(CREATE_PASSWORD, {"password-label": "one more"})

    assert response.status_code == 400
    assert f"A person has at most {MAX_APP_PASSWORDS} app passwords" in response.content.decode()


def test_a_person_revokes_their_app_password(bob_client, bob, bob_password, server):
    password, secret = bob_password

    response = bob_client.post(f"/transfer/app-passwords/{password.pk}/revoke/")

    assert response["Location"] == PAGE
    assert live_passwords(bob) == []
    assert server.authenticate("bob@acme.example", password=secret).status_code == 403


def test_another_persons_app_password_is_not_found(
    bob_client, organization, make_user, system_actor
):
    other = make_user(organization, "carol@acme.example")
    password, _ = app_password_create(
        user=other, label="theirs", source="personal", actor=system_actor
    )

    assert bob_client.post(f"/transfer/app-passwords/{password.pk}/revoke/").status_code == 404
    assert bob_client.get(f"/transfer/app-passwords/{password.pk}/created/").status_code == 404
    assert live_passwords(other) == [password]


# -- A recent sign-in --------------------------------------------------------------------


def test_signing_in_records_when(client, bob):
    before = int(time.time())
    sign_in(client, bob)
    assert before <= client.session[SESSION_KEY] <= time.time()


def test_a_console_password_sign_in_records_when(client, org_owner):
    client.post("/console/login/", {"email": org_owner.email, "password": ADMIN_PASSWORD})
    assert int(time.time()) - client.session[SESSION_KEY] <= 1


def test_a_stale_sign_in_shows_a_link_to_sign_in_again_through_sso(bob_client, sso):
    make_stale(bob_client)
    page = bob_client.get(PAGE).content.decode()

    assert f'href="/sso/acme/login/?{NEXT_PAGE}"' in page
    assert 'name="key-public_key"' not in page


def test_a_stale_add_goes_through_sso_and_comes_back(
    client, organization, sso, idp, bob, transfer_on, assertion_for
):
    sign_in(client, bob, minutes_ago=11)

    response = client.post(ADD_KEY, {"key-public_key": new_public_key()}, follow=True)

    # Back to the page, whose link goes to the IdP: a POST's redirects cannot (CSP).
    assert response.redirect_chain == [(PAGE, 302)]
    assert "Sign in again to add an SSH key" in response.content.decode()
    assert live_keys(bob) == []
    _, request, _ = start_login(client, organization, next_path=PAGE)
    xml = idp.response(assertion_for(name_id=bob.username, in_response_to=request.get("ID")))

    back = post_acs(client, organization, xml, relay_state=PAGE)

    assert back["Location"] == PAGE
    assert client.post(ADD_KEY, {"key-public_key": new_public_key()})["Location"] == PAGE
    assert len(live_keys(bob)) == 1


def test_a_stale_add_without_sso_signs_out_to_the_console_sign_in_and_back(
    client, org_owner, transfer_on
):
    sign_in(client, org_owner, minutes_ago=11)

    response = client.post(CREATE_PASSWORD, {"password-label": "FileZilla"})

    assert response["Location"] == f"/console/login/?{NEXT_PAGE}"
    assert "_auth_user_id" not in client.session
    assert live_passwords(org_owner) == []
    login = client.post(
        response["Location"], {"email": org_owner.email, "password": ADMIN_PASSWORD}
    )
    assert login["Location"] == PAGE
    created = client.post(CREATE_PASSWORD, {"password-label": "FileZilla"})
    assert created["Location"].startswith("/transfer/app-passwords/")


def test_the_sign_in_again_button_without_sso_signs_out(client, org_owner, transfer_on):
    sign_in(client, org_owner, minutes_ago=11)
    assert 'action="/transfer/sign-in-again/"' in client.get(PAGE).content.decode()

    response = client.post("/transfer/sign-in-again/")

    assert response["Location"] == f"/console/login/?{NEXT_PAGE}"
    assert "_auth_user_id" not in client.session


def test_the_sign_in_again_button_with_sso_goes_back_to_the_pages_link(bob_client, sso):
    # SSO turned on after the page loaded: a POST may not be redirected to the IdP.
    make_stale(bob_client)

    response = bob_client.post("/transfer/sign-in-again/")

    assert response["Location"] == PAGE
    assert "_auth_user_id" in bob_client.session


def test_revoking_needs_no_recent_sign_in(client, bob, transfer_on, bob_password):
    password, _ = bob_password
    sign_in(client, bob, minutes_ago=60)

    response = client.post(f"/transfer/app-passwords/{password.pk}/revoke/")

    assert response["Location"] == PAGE
    assert live_passwords(bob) == []


def test_the_forms_need_the_csrf_token(bob, transfer_on, bob_password):
    client = sign_in(Client(enforce_csrf_checks=True), bob)
    password, _ = bob_password

    assert client.post(ADD_KEY, {"key-public_key": new_public_key()}).status_code == 403
    assert client.post(CREATE_PASSWORD, {"password-label": "FileZilla"}).status_code == 403
    assert client.post(f"/transfer/app-passwords/{password.pk}/revoke/").status_code == 403
    assert client.post("/transfer/sign-in-again/").status_code == 403
    assert live_keys(bob) == [] and live_passwords(bob) == [password]
