import datetime as dt

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from console import secret_handoff
from provisioning.models import ProvisioningToken
from provisioning.selectors import token_for_secret
from provisioning.services import token_revoke


def _create(client, **data):
    return client.post(reverse("console:token_create"), {"label": "Okta production", **data})


def test_page_shows_the_scim_base_url_and_guides(owner_client, settings):
    settings.PUBLIC_BASE_URL = "https://roster.example.com"
    response = owner_client.get(reverse("console:provisioning"))
    body = response.content.decode()
    assert 'value="https://roster.example.com/scim/v2/"' in body
    assert 'data-copy-target="scim-base-url"' in body
    assert "Okta" in body and "Microsoft Entra ID" in body


def test_created_token_secret_is_shown_once(owner_client, organization, org_owner):
    response = _create(owner_client)
    token = ProvisioningToken.objects.get(organization=organization)
    assert response.status_code == 302
    assert response["Location"] == reverse("console:token_created", args=[token.pk])

    page = owner_client.get(response["Location"])
    secret = page.context["secret"]
    assert token_for_secret(secret) == token
    assert secret.encode() in page.content
    assert "no-store" in page["Cache-Control"]
    assert b"shown only once" in page.content
    assert token.created_by == org_owner and token.label == "Okta production"
    assert AuditEvent.objects.get(action=AuditAction.TOKEN_CREATED).actor_label == (org_owner.email)

    again = owner_client.get(response["Location"], follow=True)
    assert secret.encode() not in again.content
    assert b"cannot be shown again" in again.content


def test_the_secret_never_reaches_the_list_page_or_the_session_afterwards(owner_client):
    location = _create(owner_client)["Location"]
    secret = owner_client.get(location).context["secret"]
    assert secret.encode() not in owner_client.get(reverse("console:provisioning")).content
    assert secret not in str(dict(owner_client.session))


def test_the_session_never_holds_the_plaintext_secret_between_create_and_show(owner_client):
    location = _create(owner_client)["Location"]
    stored_before_showing = str(dict(owner_client.session))
    secret = owner_client.get(location).context["secret"]
    assert secret not in stored_before_showing
    assert secret.split(".")[1] not in stored_before_showing


def test_a_secret_not_shown_within_minutes_is_never_shown(owner_client, monkeypatch):
    location = _create(owner_client)["Location"]
    monkeypatch.setattr(secret_handoff, "READABLE_SECONDS", -1)
    page = owner_client.get(location, follow=True)
    assert "secret" not in (page.context or {})
    assert b"cannot be shown again" in page.content


def test_expiry_choices(owner_client, organization):
    _create(owner_client, label="ninety", expires="90")
    token = ProvisioningToken.objects.get(label="ninety")
    assert abs(token.expires_at - (timezone.now() + dt.timedelta(days=90))) < dt.timedelta(
        minutes=1
    )
    day = timezone.now().date() + dt.timedelta(days=10)
    _create(owner_client, label="dated", expires="date", expires_on=day.isoformat())
    assert ProvisioningToken.objects.get(label="dated").expires_at.date() == day
    _create(owner_client, label="forever", expires="")
    assert ProvisioningToken.objects.get(label="forever").expires_at is None


def test_invalid_create_forms_explain_themselves(owner_client, organization):
    past = (timezone.now().date() - dt.timedelta(days=1)).isoformat()
    cases = [
        ({"label": ""}, b"This field is required."),
        ({"expires": "date"}, b"Pick the date the token should stop working."),
        ({"expires": "date", "expires_on": past}, b"Pick a date in the future."),
        ({"label": "x" * 101}, b"at most 100 characters"),
    ]
    for data, message in cases:
        response = _create(owner_client, **data)
        assert response.status_code == 400
        assert message in response.content
    assert not ProvisioningToken.objects.exists()


def test_token_list_columns(owner_client, organization, make_scim_token, system_actor):
    live, _ = make_scim_token(organization, label="Okta")
    gone, _ = make_scim_token(organization, label="Old Entra")
    token_revoke(token=gone, actor=system_actor)
    response = owner_client.get(reverse("console:provisioning"))
    body = response.content.decode()
    assert live.prefix in body and gone.prefix in body
    assert "Revoked" in body and "Active" in body and "Never" in body
    assert reverse("console:token_revoke", args=[live.pk]) in body
    assert reverse("console:token_revoke", args=[gone.pk]) not in body


def test_token_list_queries_do_not_grow(
    owner_client, organization, make_scim_token, django_assert_max_num_queries
):
    for i in range(8):
        make_scim_token(organization, label=f"t{i}")
    counts = []
    for size in (2, 8):
        # 7 for the page and its tokens, 2 for provisioning health (live tokens, latest),
        # 1 for the last request (the newest row of the request log).
        with django_assert_max_num_queries(10) as captured:
            response = owner_client.get(reverse("console:provisioning"), {"size": size})
        assert len(response.context["page"].items) == size
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_revoke_confirms_with_the_tokens_name_then_revokes(
    owner_client, organization, make_scim_token
):
    token, _ = make_scim_token(organization, label="Okta production")
    url = reverse("console:token_revoke", args=[token.pk])
    page = owner_client.get(url)
    assert "Revoke token “Okta production”?" in page.content.decode()
    assert token.prefix.encode() in page.content
    token.refresh_from_db()
    assert token.revoked_at is None

    done = owner_client.post(url, follow=True)
    token.refresh_from_db()
    assert token.status == "revoked"
    assert "Token “Okta production”" in done.content.decode()
    assert owner_client.get(url).content.count(b"already revoked") == 1


def test_another_organizations_token_secret_page_is_404(
    other_admin_client, owner_client, organization
):
    location = _create(owner_client)["Location"]
    assert other_admin_client.get(location).status_code == 404


def test_page_shows_the_last_scim_request(owner_client, organization, make_scim_token):
    token, secret = make_scim_token(organization, label="Okta")
    assert (
        b"No SCIM request has arrived yet."
        in owner_client.get(reverse("console:provisioning")).content
    )
    Client().get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"})
    body = owner_client.get(reverse("console:provisioning")).content.decode()
    assert "GET /scim/v2/Users" in body and token.prefix in body
