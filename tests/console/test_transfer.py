"""The console's file-transfer pages: the setting, folder grants, transfer keys, the
sign-in log, and each person's credentials on their user page."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from tests.transfer.conftest import DecisionClient, new_public_key
from transfer.models import (
    TRANSFER_KEY,
    CredentialSource,
    FolderGrant,
    Refusal,
    SshKey,
    TransferKey,
    TransferMode,
    TransferSignIn,
)
from transfer.selectors import policy_for
from transfer.services import (
    app_password_create,
    folder_grant_set,
    ssh_key_add,
    transfer_key_create,
)

pytestmark = pytest.mark.django_db

PAGE = reverse("console:transfer")
LOG = reverse("console:transfer_sign_ins")
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def audit(action) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def shown_secret(response) -> str:
    return re.search(rb'id="transfer-key-secret" value="([^"]+)"', response.content)[1].decode()


@pytest.fixture
def ada(organization, make_user):
    return make_user(organization, "ada@acme.example", given_name="Ada")


@pytest.fixture
def finance(organization, make_group, ada):
    return make_group(organization, "Finance", members=[ada])


@pytest.fixture
def grant(finance, system_actor):
    return folder_grant_set(group=finance, path="/Finance", access="read", actor=system_actor)


@pytest.fixture
def transfer_key(organization, system_actor):
    return transfer_key_create(organization=organization, label="sftp-1", actor=system_actor)[0]


@pytest.fixture
def ada_key(ada, system_actor):
    return ssh_key_add(
        user=ada,
        public_key=new_public_key("ada-laptop"),
        source=CredentialSource.IDP,
        actor=system_actor,
    )


@pytest.fixture
def ada_password(ada, system_actor):
    return app_password_create(
        user=ada, label="FileZilla", source=CredentialSource.PERSONAL, actor=system_actor
    )[0]


@pytest.fixture
def objects(ada, grant, transfer_key, ada_key, ada_password):
    return {
        "user_id": ada.pk,
        "grant_id": grant.pk,
        "key_id": transfer_key.pk,
        "ssh_key_id": ada_key.pk,
        "password_id": ada_password.pk,
    }


# (url name, kwargs naming an object of `organization`, method)
ROUTES = [
    ("console:transfer", (), "get"),
    ("console:transfer_policy", (), "post"),
    ("console:folder_grant_add", (), "post"),
    ("console:folder_grant_remove", ("grant_id",), "get"),
    ("console:folder_grant_remove", ("grant_id",), "post"),
    ("console:transfer_key_create", (), "post"),
    ("console:transfer_key_created", ("key_id",), "get"),
    ("console:transfer_key_revoke", ("key_id",), "get"),
    ("console:transfer_key_revoke", ("key_id",), "post"),
    ("console:transfer_sign_ins", (), "get"),
    ("console:user_ssh_key_add", ("user_id",), "post"),
    ("console:user_ssh_key_revoke", ("user_id", "ssh_key_id"), "get"),
    ("console:user_ssh_key_revoke", ("user_id", "ssh_key_id"), "post"),
    ("console:user_app_password_revoke", ("user_id", "password_id"), "get"),
    ("console:user_app_password_revoke", ("user_id", "password_id"), "post"),
]


def _url(name, kwargs, objects):
    names = {"ssh_key_id": "credential_id", "password_id": "credential_id"}
    return reverse(name, kwargs={names.get(key, key): objects[key] for key in kwargs})


@pytest.mark.parametrize(("name", "kwargs", "method"), ROUTES)
def test_anonymous_is_sent_to_sign_in(client, objects, name, kwargs, method):
    response = getattr(client, method)(_url(name, kwargs, objects))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login") + "?next=")


@pytest.mark.parametrize(("name", "kwargs", "method"), ROUTES)
def test_a_member_gets_the_ask_your_administrator_page(
    member_client, objects, name, kwargs, method
):
    response = getattr(member_client, method)(_url(name, kwargs, objects))
    assert response.status_code == 403
    assert b"Ask your administrator" in response.content


@pytest.mark.parametrize(("name", "kwargs", "method"), [route for route in ROUTES if route[1]])
def test_another_organizations_admin_gets_404(other_admin_client, objects, name, kwargs, method):
    response = getattr(other_admin_client, method)(_url(name, kwargs, objects))
    assert response.status_code == 404


def test_another_organizations_admin_changes_nothing(other_admin_client, objects, ada_key):
    other_admin_client.post(_url("console:folder_grant_remove", ("grant_id",), objects))
    other_admin_client.post(_url("console:user_ssh_key_revoke", ("user_id", "ssh_key_id"), objects))
    other_admin_client.post(
        _url("console:user_ssh_key_add", ("user_id",), objects),
        {"public_key": new_public_key(), "label": "theirs"},
    )
    assert FolderGrant.objects.filter(pk=objects["grant_id"]).exists()
    assert SshKey.objects.filter(revoked_at=None).count() == 1
    assert TransferKey.objects.get(pk=objects["key_id"]).revoked_at is None


def test_the_page_lists_the_setting_grants_and_keys_of_this_organization_only(
    admin_client, grant, transfer_key, other_organization, make_group, system_actor
):
    theirs = make_group(other_organization, "Globex finance")
    folder_grant_set(group=theirs, path="/Globex", access="write", actor=system_actor)
    transfer_key_create(organization=other_organization, label="globex-sftp", actor=system_actor)

    body = admin_client.get(PAGE).content.decode()

    assert "Off" in body and "/Finance" in body and transfer_key.prefix in body
    assert "/Globex" not in body and "globex-sftp" not in body


def test_the_page_links_to_the_file_transfer_guide_and_the_sign_in_log(admin_client):
    body = admin_client.get(PAGE).content.decode()
    guide = reverse("console:guide", args=["transfer"])

    assert f'href="{guide}"' in body and f'href="{LOG}"' in body
    assert "# File-transfer access" in admin_client.get(guide).content.decode()


# -- The setting ---------------------------------------------------------------------------


def test_an_owner_turns_file_transfer_on_for_a_group(
    owner_client, org_owner, organization, finance
):
    response = owner_client.post(
        reverse("console:transfer_policy"), {"mode": "groups", "groups": [finance.pk]}
    )

    assert response.status_code == 302
    policy = policy_for(organization)
    assert policy.mode == TransferMode.GROUPS
    assert list(policy.scope_groups.all()) == [finance]
    event = audit(AuditAction.TRANSFER_SETTINGS_CHANGED)
    assert (event.actor_id, event.changes["groups"]) == (str(org_owner.pk), ["Finance"])
    page = owner_client.get(PAGE).content.decode()
    assert "File transfer: On for members of chosen groups." in page


def test_chosen_groups_without_a_group_is_a_form_error(owner_client, organization):
    response = owner_client.post(reverse("console:transfer_policy"), {"mode": "groups"})

    assert response.status_code == 400
    assert "Choose at least one group" in response.content.decode()
    assert policy_for(organization).mode == TransferMode.OFF


def test_another_organizations_group_cannot_be_chosen(
    owner_client, organization, other_organization, make_group
):
    theirs = make_group(other_organization, "Globex")
    response = owner_client.post(
        reverse("console:transfer_policy"), {"mode": "groups", "groups": [theirs.pk]}
    )

    assert response.status_code == 400
    assert policy_for(organization).mode == TransferMode.OFF


def test_an_admin_sees_the_setting_but_cannot_change_it(admin_client, organization):
    page = admin_client.get(PAGE).content.decode()
    assert "Only owners change this setting." in page
    assert reverse("console:transfer_policy") not in page

    response = admin_client.post(reverse("console:transfer_policy"), {"mode": "everyone"})

    assert response.status_code == 403
    assert "Only owners can change who may use file transfer." in response.content.decode()
    assert policy_for(organization).mode == TransferMode.OFF
    assert not AuditEvent.objects.filter(action=AuditAction.TRANSFER_SETTINGS_CHANGED).exists()


# -- Folder grants ------------------------------------------------------------------------


def test_an_admin_grants_a_folder(admin_client, org_admin, finance):
    response = admin_client.post(
        reverse("console:folder_grant_add"),
        {"group": finance.pk, "path": "/Finance/Reports/", "access": "write"},
    )

    assert response.status_code == 302
    grant = FolderGrant.objects.get()
    assert (grant.group, grant.path, grant.access) == (finance, "/Finance/Reports", "write")
    event = audit(AuditAction.TRANSFER_FOLDER_GRANTED)
    assert (event.actor_id, event.changes["path"]) == (str(org_admin.pk), "/Finance/Reports")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Finance", "A folder path starts with / and names a folder, e.g. /Finance."),
        ("/Finance/../HR", "&#x27;..&#x27; cannot be part of a folder path."),
    ],
)
def test_a_bad_folder_path_is_a_form_error(admin_client, finance, path, message):
    response = admin_client.post(
        reverse("console:folder_grant_add"), {"group": finance.pk, "path": path, "access": "read"}
    )

    assert response.status_code == 400
    assert f'<p class="field-error">{message}</p>' in response.content.decode()
    assert not FolderGrant.objects.exists()


def test_another_organizations_group_cannot_get_a_folder(
    admin_client, other_organization, make_group
):
    theirs = make_group(other_organization, "Globex")
    response = admin_client.post(
        reverse("console:folder_grant_add"), {"group": theirs.pk, "path": "/X", "access": "read"}
    )

    assert response.status_code == 400
    assert not FolderGrant.objects.exists()


def test_removing_a_grant_asks_first(admin_client, org_admin, grant):
    url = reverse("console:folder_grant_remove", args=[grant.pk])
    confirm = admin_client.get(url).content.decode()
    assert "Remove /Finance from Finance?" in confirm
    assert FolderGrant.objects.filter(pk=grant.pk).exists()  # asking is not removing

    assert admin_client.post(url).status_code == 302

    assert not FolderGrant.objects.exists()
    assert audit(AuditAction.TRANSFER_FOLDER_REMOVED).actor_id == str(org_admin.pk)
    assert admin_client.get(url).status_code == 404


# -- Transfer keys -----------------------------------------------------------------------


def test_an_owner_creates_a_transfer_key_and_sees_it_once(
    client, owner_client, org_owner, organization, ada, ada_key
):
    response = owner_client.post(reverse("console:transfer_key_create"), {"label": "sftp-1"})
    assert response.status_code == 302
    page = owner_client.get(response["Location"])

    assert "no-store" in page["Cache-Control"]
    secret = shown_secret(page)
    key = TransferKey.objects.get(prefix=TRANSFER_KEY.prefix_of(secret))
    assert (key.organization, key.label, key.holds(TRANSFER_KEY, secret)) == (
        organization,
        "sftp-1",
        True,
    )
    again = owner_client.get(response["Location"])
    assert again.status_code == 302
    assert secret.encode() not in owner_client.get(PAGE).content
    event = audit(AuditAction.TRANSFER_KEY_CREATED)
    assert (event.actor_id, event.changes) == (str(org_owner.pk), {"prefix": key.prefix})
    # The key works: the decision API answers it.
    server = DecisionClient(client, secret)
    assert server.authorized_keys("ada@acme.example").status_code == 200


def test_a_transfer_key_without_a_label_is_a_form_error(owner_client):
    response = owner_client.post(reverse("console:transfer_key_create"), {"label": " "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not TransferKey.objects.exists()


def test_an_admin_cannot_create_or_revoke_transfer_keys(admin_client, transfer_key):
    page = admin_client.get(PAGE).content.decode()
    assert "Only owners create and revoke transfer keys." in page
    assert reverse("console:transfer_key_revoke", args=[transfer_key.pk]) not in page

    created = admin_client.post(reverse("console:transfer_key_create"), {"label": "mine"})
    revoke_url = reverse("console:transfer_key_revoke", args=[transfer_key.pk])

    assert created.status_code == 403
    assert admin_client.get(revoke_url).status_code == 403
    assert admin_client.post(revoke_url).status_code == 403
    assert TransferKey.objects.get().revoked_at is None


def test_revoking_a_transfer_key_asks_first_and_is_audited(owner_client, org_owner, transfer_key):
    url = reverse("console:transfer_key_revoke", args=[transfer_key.pk])
    assert "Revoke transfer key “sftp-1”?" in owner_client.get(url).content.decode()
    transfer_key.refresh_from_db()
    assert transfer_key.revoked_at is None

    assert owner_client.post(url).status_code == 302

    transfer_key.refresh_from_db()
    assert transfer_key.revoked_at is not None
    assert audit(AuditAction.TRANSFER_KEY_REVOKED).actor_id == str(org_owner.pk)
    assert "is already revoked" in owner_client.get(url).content.decode()


# -- The sign-in log ---------------------------------------------------------------------


def _sign_ins(organization, n=1, *, user=None, allowed=True, protocol="sftp", at=None, **fields):
    at = at or timezone.now()
    TransferSignIn.objects.bulk_create(
        [
            TransferSignIn(
                organization=organization,
                user=user,
                login=user.username if user else "nobody@acme.example",
                protocol=protocol,
                ip="203.0.113.7",
                allowed=allowed,
                at=at - dt.timedelta(seconds=i),
                **fields,
            )
            for i in range(n)
        ]
    )


def _logins(admin_client, **params) -> list[str]:
    response = admin_client.get(LOG, params)
    assert response.status_code == 200
    return [f"{row.login} {row.protocol}" for row, _ in response.context["rows"]]


def test_the_log_shows_who_how_from_where_the_result_and_the_credential(
    admin_client, organization, ada, ada_key
):
    _sign_ins(organization, user=ada, credential_kind="ssh_key", credential_id=f"key_{ada_key.pk}")
    _sign_ins(
        organization,
        allowed=False,
        reason=Refusal.UNKNOWN_USER,
        protocol="ftps",
        credential_kind="app_password",
    )

    body = admin_client.get(LOG).content.decode()

    for text in (
        "ada@acme.example",
        "SFTP",
        "203.0.113.7",
        "Allowed",
        "SSH key “ada-laptop”",
        "nobody@acme.example",
        "FTPS",
        "Refused</span> Unknown user",
        "App password",
    ):
        assert text in body


def test_the_log_filters_by_person_protocol_result_and_time(
    admin_client, organization, other_organization, ada, make_user
):
    grace = make_user(organization, "grace@acme.example")
    now = timezone.now()
    _sign_ins(organization, user=ada)
    _sign_ins(organization, user=grace, protocol="webdav", allowed=False, reason="bad_credential")
    _sign_ins(organization, user=grace, protocol="sftp", at=now - dt.timedelta(days=3))
    _sign_ins(other_organization, protocol="sftp")

    assert sorted(_logins(admin_client)) == [
        "ada@acme.example sftp",
        "grace@acme.example sftp",
        "grace@acme.example webdav",
    ]
    assert _logins(admin_client, person="GRACE") == [
        "grace@acme.example webdav",
        "grace@acme.example sftp",
    ]
    assert _logins(admin_client, user=ada.pk) == ["ada@acme.example sftp"]
    assert _logins(admin_client, protocol="webdav") == ["grace@acme.example webdav"]
    assert _logins(admin_client, result="refused") == ["grace@acme.example webdav"]
    since = (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert len(_logins(admin_client, since=since, result="allowed")) == 1


def test_an_exact_pick_of_another_organizations_person_is_ignored(
    admin_client, organization, other_organization, ada, make_user
):
    theirs = make_user(other_organization, "ada@globex.example")
    _sign_ins(organization, user=ada)
    _sign_ins(other_organization, user=theirs)

    assert _logins(admin_client, user=theirs.pk) == ["ada@acme.example sftp"]


def test_the_log_pages_newest_first_in_constant_queries(
    admin_client, organization, ada, ada_key, ada_password, django_assert_num_queries
):
    now = timezone.now()
    by_key = {"credential_kind": "ssh_key", "credential_id": f"key_{ada_key.pk}"}
    by_password = {"credential_kind": "app_password", "credential_id": f"pw_{ada_password.pk}"}
    # Interleaved, half a second apart: every page names credentials of both kinds.
    _sign_ins(organization, 20, user=ada, at=now, **by_key)
    _sign_ins(organization, 20, user=ada, at=now - dt.timedelta(seconds=0.5), **by_password)
    for size in (10, 40):
        # session, user, organization, the page (size + 1 rows, with their people), the
        # labels of the page's SSH keys and of its app passwords, and the session's save:
        # nothing per row.
        with django_assert_num_queries(7):
            response = admin_client.get(LOG, {"size": size})
        assert len(response.context["rows"]) == size
    first = admin_client.get(LOG, {"size": 25}).context["page"]
    second = admin_client.get(LOG, {"size": 25, "cursor": first.next_cursor}).context["page"]
    assert first.items[0].at >= first.items[-1].at >= second.items[0].at
    assert len(first.items) + len(second.items) == 40


# -- A person's credentials -------------------------------------------------------------


def test_the_user_page_shows_login_name_credentials_and_recent_sign_ins(
    admin_client, organization, ada, ada_key, ada_password, acme_domain
):
    _sign_ins(organization, user=ada, protocol="scp")

    body = admin_client.get(reverse("console:user_detail", args=[ada.pk])).content.decode()

    for text in (
        "<code>ada@acme.example</code>",
        "ada-laptop",
        ada_key.fingerprint,
        "From the identity provider",
        "FileZilla",
        ada_password.prefix,
        "Added by the person",
        "SCP",
        f"{LOG}?user={ada.pk}",
    ):
        assert text in body


def test_the_user_page_costs_the_same_with_more_credentials_and_sign_ins(
    admin_client, organization, ada, system_actor
):
    url = reverse("console:user_detail", args=[ada.pk])

    def queries() -> int:
        key = ssh_key_add(
            user=ada, public_key=new_public_key(), source=CredentialSource.IDP, actor=system_actor
        )
        password, _ = app_password_create(
            user=ada, label="WinSCP", source=CredentialSource.PERSONAL, actor=system_actor
        )
        _sign_ins(
            organization, 3, user=ada, credential_kind="ssh_key", credential_id=f"key_{key.pk}"
        )
        _sign_ins(
            organization,
            3,
            user=ada,
            credential_kind="app_password",
            credential_id=f"pw_{password.pk}",
        )
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    assert queries() == queries()


def test_a_login_name_outside_a_verified_domain_is_qualified(admin_client, ada):
    body = admin_client.get(reverse("console:user_detail", args=[ada.pk])).content.decode()
    assert "<code>acme+ada@acme.example</code>" in body


def test_an_admin_adds_an_ssh_key_for_a_person(admin_client, org_admin, ada):
    text = new_public_key("ada-desktop")
    response = admin_client.post(
        reverse("console:user_ssh_key_add", args=[ada.pk]), {"public_key": text, "label": ""}
    )

    assert response.status_code == 302
    key = SshKey.objects.get(user=ada)
    assert (key.label, key.source, key.public_key) == (
        "ada-desktop",
        CredentialSource.ADMIN,
        " ".join(text.split()[:2]),
    )
    event = audit(AuditAction.CREDENTIAL_CREATED)
    assert (event.actor_id, event.target_id) == (str(org_admin.pk), str(ada.pk))


def test_a_pasted_private_key_is_refused_and_never_shown_back(admin_client, ada):
    response = admin_client.post(
        reverse("console:user_ssh_key_add", args=[ada.pk]),
        {"public_key": PRIVATE_KEY, "label": "oops"},
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert "This is a private key." in body
    assert "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in body
    assert "PRIVATE KEY-----" not in body
    assert not SshKey.objects.exists()


def test_an_unreadable_key_is_a_form_error_and_the_textarea_stays_empty(admin_client, ada):
    response = admin_client.post(
        reverse("console:user_ssh_key_add", args=[ada.pk]),
        {"public_key": "ssh-ed25519 not-base64!", "label": ""},
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert "This is not an SSH public key that can be read." in body
    assert re.search(r'<textarea name="public_key"[^>]*>\s*</textarea>', body)


def test_a_key_of_another_person_is_refused(admin_client, organization, make_user, ada, ada_key):
    grace = make_user(organization, "grace@acme.example")
    response = admin_client.post(
        reverse("console:user_ssh_key_add", args=[grace.pk]),
        {"public_key": ada_key.public_key, "label": ""},
    )

    assert response.status_code == 400
    assert "This key is already registered to another person." in response.content.decode()


def test_revoking_an_ssh_key_asks_first_and_is_audited(admin_client, org_admin, ada, ada_key):
    url = reverse("console:user_ssh_key_revoke", args=[ada.pk, ada_key.pk])
    assert (
        "Revoke SSH key “ada-laptop” of ada@acme.example?" in admin_client.get(url).content.decode()
    )
    ada_key.refresh_from_db()
    assert ada_key.revoked_at is None

    assert admin_client.post(url)["Location"] == reverse("console:user_detail", args=[ada.pk])

    ada_key.refresh_from_db()
    assert ada_key.revoked_at is not None
    assert audit(AuditAction.CREDENTIAL_REVOKED).actor_id == str(org_admin.pk)
    assert "is already revoked" in admin_client.get(url).content.decode()


def test_revoking_an_app_password_asks_first_and_is_audited(
    admin_client, org_admin, ada, ada_password
):
    url = reverse("console:user_app_password_revoke", args=[ada.pk, ada_password.pk])
    assert "FileZilla" in admin_client.get(url).content.decode()

    admin_client.post(url)

    ada_password.refresh_from_db()
    assert ada_password.revoked_at is not None
    assert audit(AuditAction.CREDENTIAL_REVOKED).actor_id == str(org_admin.pk)


def test_an_admin_cannot_change_an_owners_credentials(admin_client, org_owner, system_actor):
    key = ssh_key_add(
        user=org_owner,
        public_key=new_public_key(),
        source=CredentialSource.PERSONAL,
        actor=system_actor,
    )
    page = admin_client.get(reverse("console:user_detail", args=[org_owner.pk])).content.decode()
    assert "Only owners change an owner's credentials." in page

    added = admin_client.post(
        reverse("console:user_ssh_key_add", args=[org_owner.pk]),
        {"public_key": new_public_key(), "label": ""},
    )
    revoked = admin_client.post(reverse("console:user_ssh_key_revoke", args=[org_owner.pk, key.pk]))

    assert (added.status_code, revoked.status_code) == (403, 403)
    assert "Only owners can change the file-transfer credentials of an owner." in (
        added.content.decode()
    )
    assert list(SshKey.objects.filter(revoked_at=None)) == [key]


def test_another_persons_key_is_not_found_under_this_person(
    admin_client, organization, make_user, ada_key
):
    grace = make_user(organization, "grace@acme.example")
    url = reverse("console:user_ssh_key_revoke", args=[grace.pk, ada_key.pk])
    assert admin_client.post(url).status_code == 404
