"""The console's setup guides link to the full guides of docs/, shown in the console."""

from pathlib import Path

import pytest
from django.urls import reverse

from console.views.guides import GUIDES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_every_guide_is_a_page_of_docs(name):
    assert (ROOT / "docs" / f"{name}.md").is_file()


def test_an_admin_reads_the_okta_guide_as_written_in_docs(admin_client):
    response = admin_client.get(reverse("console:guide", args=["okta"]))
    assert response.status_code == 200
    text = (ROOT / "docs" / "okta.md").read_text()
    assert response.context["text"] == text
    assert b"Unique identifier field for users" in response.content


def test_an_unknown_guide_is_404(admin_client):
    assert admin_client.get(reverse("console:guide", args=["settings"])).status_code == 404


def test_a_member_cannot_read_the_guides(client, organization, make_user):
    member = make_user(organization, "member@acme.example")
    client.force_login(member, backend="accounts.backends.ConsoleEmailBackend")
    assert client.get(reverse("console:guide", args=["okta"])).status_code == 403


def test_the_provisioning_guides_link_to_the_full_okta_and_entra_guides(admin_client):
    page = admin_client.get(reverse("console:provisioning")).content.decode()
    assert f'href="{reverse("console:guide", args=["okta"])}"' in page
    assert f'href="{reverse("console:guide", args=["entra"])}"' in page


def test_the_sso_page_links_to_the_full_guides(admin_client):
    page = admin_client.get(reverse("console:sso")).content.decode()
    for name in ("okta", "entra", "saml"):
        assert f'href="{reverse("console:guide", args=[name])}"' in page
