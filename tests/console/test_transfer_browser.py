"""The console's file-transfer pages in a real headless Chromium, as an owner uses them:
each page axe-clean and without sideways scrolling at 1280px and at 375px."""

import re

import httpx
import pytest

from accounts.actors import Actor
from tests.console import test_browser as shared
from tests.console.test_browser import (
    LONG_TOKEN_LABEL,
    WIDTHS,
    axe_violations,
    check_every_page,
    screenshot,
    sideways_overflow,
    sign_in,
)
from tests.transfer.conftest import new_public_key
from transfer.models import AppPassword, CredentialSource, SshKey, TransferKey
from transfer.services import (
    app_password_create,
    folder_grant_set,
    ssh_key_add,
    transfer_key_create,
    transfer_policy_set,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The browser tests' fixtures, found by name in this module.
browser, base_url, page, axe_page = shared.browser, shared.base_url, shared.page, shared.axe_page

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----"
)


def authenticate(base_url: str, secret: str, login: str, public_key: str) -> httpx.Response:
    """What the file server's adapter asks at a login, with the organization's key."""
    return httpx.post(
        f"{base_url}/transfer/v1/authenticate",
        headers={"Authorization": f"Bearer {secret}"},
        json={"username": login, "protocol": "sftp", "ip": "203.0.113.7", "public_key": public_key},
        timeout=10,
    )


def check_this_page(page, name: str) -> None:
    """check_every_page's checks for a page that cannot be opened again (a new secret)."""
    assert axe_violations(page) == []
    screenshot(page, name)
    page.set_viewport_size(WIDTHS["narrow"])
    assert sideways_overflow(page) == 0, "the page scrolls sideways at 375px"
    screenshot(page, f"{name}-narrow")
    page.set_viewport_size(WIDTHS["wide"])


@pytest.fixture
def people(organization, make_user, make_group):
    ada = make_user(organization, "ada@acme.example", given_name="Ada", family_name="Lovelace")
    grace = make_user(organization, "grace@acme.example", given_name="Grace")
    make_group(organization, "Engineering", members=[ada])
    # Enough groups for the list of choices to scroll inside its box.
    for n in range(14):
        make_group(organization, f"Regional office {n:02} " + "with-a-long-name-" * 3)
    return {"ada": ada, "grace": grace}


def test_an_owner_turns_transfer_on_for_a_group_grants_a_folder_and_creates_a_key(
    axe_page, base_url, organization, org_owner, people
):
    page = axe_page
    sign_in(page)
    page.get_by_role("link", name="File transfer", exact=True).click()
    page.wait_for_url(re.compile(r"/console/transfer/$"))

    page.get_by_label("On for members of chosen groups").check()
    page.get_by_label("Engineering", exact=True).check()
    page.get_by_role("button", name="Save the file-transfer setting").click()
    assert page.get_by_text("File transfer: On for members of chosen groups.").is_visible()

    page.get_by_label("Group", exact=True).select_option(label="Engineering")
    page.get_by_label("Folder", exact=True).fill("Finance")
    page.get_by_label("Read and write").check()
    page.get_by_role("button", name="Grant the folder").click()
    error = page.get_by_text("A folder path starts with / and names a folder, e.g. /Finance.")
    assert error.is_visible()
    page.get_by_label("Folder", exact=True).fill("/Finance")
    page.get_by_role("button", name="Grant the folder").click()
    row = page.get_by_role("row").filter(has_text="/Finance")
    assert "Engineering" in row.inner_text() and "Read and write" in row.inner_text()

    page.get_by_label("Label", exact=True).fill("sftp-1.acme.example")
    page.get_by_role("button", name="Create transfer key").click()
    page.wait_for_url(re.compile(r"/transfer/keys/\d+/created/"))
    secret = page.get_by_label("Transfer key", exact=True).input_value()
    assert page.get_by_text("It is shown only once").is_visible()
    check_this_page(page, "transfer-key-created")

    ada = people["ada"]
    text = new_public_key("ada-laptop")
    ssh_key_add(user=ada, public_key=text, source=CredentialSource.IDP, actor=Actor.system())
    answer = authenticate(base_url, secret, f"{organization.slug}+ada@acme.example", text)
    assert answer.json()["allowed"] is True
    assert answer.json()["folders"] == [{"path": "/Finance", "access": "write"}]

    page.reload()
    assert re.search(r"/console/transfer/(#keys)?$", page.url)
    assert secret not in page.content()
    assert page.get_by_text("cannot be shown again").is_visible()

    key = TransferKey.objects.get()
    grant_id = page.get_by_role("link", name="Remove /Finance from Engineering").get_attribute(
        "href"
    )
    check_every_page(
        page,
        {
            "file-transfer": "/console/transfer/",
            "transfer-sign-ins": "/console/transfer/sign-ins/",
            "transfer-sign-ins-of-ada": f"/console/transfer/sign-ins/?user={ada.pk}",
            "folder-grant-remove": grant_id,
            "transfer-key-revoke": f"/console/transfer/keys/{key.pk}/revoke/",
        },
    )
    page.goto("/console/transfer/sign-ins/")
    assert (
        "Allowed" in page.get_by_role("row").filter(has_text="acme+ada@acme.example").inner_text()
    )


def test_an_owner_adds_an_ssh_key_for_a_person_and_revokes_it(
    axe_page, base_url, organization, org_owner, people, system_actor
):
    page = axe_page
    ada = people["ada"]
    app_password_create(
        user=ada, label=LONG_TOKEN_LABEL, source=CredentialSource.PERSONAL, actor=system_actor
    )
    engineering = ada.memberships.get().group
    folder_grant_set(group=engineering, path="/Finance", access="read", actor=system_actor)
    _, secret = transfer_key_create(organization=organization, label="sftp-1", actor=system_actor)
    sign_in(page)
    page.goto(f"/console/users/{ada.pk}/")

    form = page.locator("#add-ssh-key")
    form.get_by_label("Public key").fill(PRIVATE_KEY)
    form.get_by_role("button", name="Add the SSH key").click()
    assert page.get_by_text("This is a private key.").is_visible()
    assert page.locator("#add-ssh-key").get_by_label("Public key").input_value() == ""
    assert "b3BlbnNzaC1rZXktdjE" not in page.content()

    text = new_public_key("ada-desktop")
    form = page.locator("#add-ssh-key")
    form.get_by_label("Label").fill("Ada's desktop")
    form.get_by_label("Public key").fill(text)
    form.get_by_role("button", name="Add the SSH key").click()
    key = SshKey.objects.get(user=ada)
    assert page.get_by_text(f"SSH key {key.fingerprint} added").is_visible()
    keys = page.get_by_role("table", name="SSH keys")
    assert (
        "Added by an admin" in keys.get_by_role("row").filter(has_text=key.fingerprint).inner_text()
    )

    # Her first login with it shows on her page.
    transfer_policy_set(organization=organization, mode="everyone", actor=system_actor)
    assert authenticate(base_url, secret, "acme+ada@acme.example", text).json()["allowed"]
    password = AppPassword.objects.get()
    check_every_page(
        page,
        {
            "user-detail-file-transfer": f"/console/users/{ada.pk}/",
            "user-detail-no-credentials": f"/console/users/{people['grace'].pk}/",
            "ssh-key-revoke": f"/console/users/{ada.pk}/ssh-keys/{key.pk}/revoke/",
            "app-password-revoke": (f"/console/users/{ada.pk}/app-passwords/{password.pk}/revoke/"),
        },
    )

    page.goto(f"/console/users/{ada.pk}/")
    assert "SSH key “Ada's desktop”" in page.get_by_role("row").filter(has_text="SFTP").inner_text()
    page.get_by_role("link", name="Revoke SSH key Ada's desktop").click()
    heading = page.get_by_role(
        "heading", name="Revoke SSH key “Ada's desktop” of ada@acme.example?"
    )
    assert heading.is_visible()
    page.get_by_role("button", name="Revoke “Ada's desktop”").click()
    page.wait_for_url(re.compile(rf"/console/users/{ada.pk}/$"))
    assert page.get_by_text("is revoked").is_visible()
    assert page.get_by_role("table", name="SSH keys").count() == 0
    assert page.get_by_text("No SSH keys.").is_visible()
    assert authenticate(base_url, secret, "acme+ada@acme.example", text).json()["allowed"] is False
