"""Every console page and action: anonymous → sign-in, member → 403 explanation,
another organization's admin → 404 on this organization's objects."""

import pytest
from django.urls import reverse

from accounts.models import Role


@pytest.fixture
def objects(organization, make_user, make_group, make_scim_token, org_owner):
    person = make_user(organization, "ada@acme.example")
    group = make_group(organization, "Engineering", members=[person])
    token, _ = make_scim_token(organization, label="Okta")
    return {"user_id": person.pk, "group_id": group.pk, "token_id": token.pk}


# (url name, kwargs that name an object of `organization`, method)
PAGES = [
    ("console:home", (), "get"),
    ("console:users", (), "get"),
    ("console:user_detail", ("user_id",), "get"),
    ("console:user_deactivate", ("user_id",), "get"),
    ("console:user_deactivate", ("user_id",), "post"),
    ("console:user_reactivate", ("user_id",), "get"),
    ("console:user_reactivate", ("user_id",), "post"),
    ("console:user_role", ("user_id",), "post"),
    ("console:groups", (), "get"),
    ("console:group_detail", ("group_id",), "get"),
    ("console:activity", (), "get"),
    ("console:activity_export", (), "get"),
    ("console:provisioning", (), "get"),
    ("console:token_create", (), "post"),
    ("console:token_created", ("token_id",), "get"),
    ("console:token_revoke", ("token_id",), "get"),
    ("console:token_revoke", ("token_id",), "post"),
    ("console:sso", (), "get"),
    ("console:sso_metadata", (), "post"),
    ("console:sso_manual", (), "post"),
    ("console:sso_enabled", (), "post"),
    ("console:sp_certificate", (), "get"),
]
OBJECT_PAGES = [page for page in PAGES if page[1]]


def _url(name, kwargs, objects):
    return reverse(name, kwargs={key: objects[key] for key in kwargs})


@pytest.mark.parametrize(("name", "kwargs", "method"), PAGES)
def test_anonymous_is_sent_to_sign_in(client, objects, name, kwargs, method):
    url = _url(name, kwargs, objects)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login") + "?next=")


@pytest.mark.parametrize(("name", "kwargs", "method"), PAGES)
def test_member_gets_the_ask_your_administrator_page(member_client, objects, name, kwargs, method):
    response = getattr(member_client, method)(_url(name, kwargs, objects))
    assert response.status_code == 403
    assert "console/not_admin.html" in [t.name for t in response.templates]
    assert b"Ask your administrator" in response.content


@pytest.mark.parametrize(("name", "kwargs", "method"), OBJECT_PAGES)
def test_another_organizations_admin_gets_404(other_admin_client, objects, name, kwargs, method):
    response = getattr(other_admin_client, method)(_url(name, kwargs, objects))
    assert response.status_code == 404


def test_another_organizations_admin_changes_nothing(other_admin_client, objects):
    from accounts.models import User
    from provisioning.models import ProvisioningToken

    other_admin_client.post(reverse("console:user_deactivate", args=[objects["user_id"]]))
    other_admin_client.post(
        reverse("console:user_role", args=[objects["user_id"]]), {"role": Role.ADMIN}
    )
    other_admin_client.post(reverse("console:token_revoke", args=[objects["token_id"]]))
    person = User.objects.get(pk=objects["user_id"])
    assert person.is_active and person.role == Role.MEMBER
    assert ProvisioningToken.objects.get(pk=objects["token_id"]).revoked_at is None


@pytest.mark.parametrize(
    "name",
    [
        "console:home",
        "console:users",
        "console:groups",
        "console:activity",
        "console:provisioning",
        "console:sso",
    ],
)
def test_admin_sees_every_page(admin_client, objects, name):
    response = admin_client.get(reverse(name))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_deactivated_admin_is_refused(organization, make_user):
    from django.test import Client

    admin = make_user(organization, "gone@acme.example", role=Role.ADMIN, is_active=False)
    client = Client()
    client.force_login(admin, backend="accounts.backends.ConsoleEmailBackend")
    response = client.get(reverse("console:home"))
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/")


def test_the_no_access_page_names_the_organization_without_a_double_period(member_client):
    body = member_client.get("/console/").content.decode()
    assert "<strong>Acme Inc.</strong> without console access" in body
    assert "Inc.." not in body
