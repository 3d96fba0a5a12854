"""The File transfer page in a real headless Chromium, as a person uses it.

The browser, the live server and the axe checks are those of tests/console/test_browser.py.
Screenshots land in test-artifacts/screenshots/.
"""

import re

import httpx
import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from config.env import env_endpoints
from tests.console import test_browser as console_browser
from tests.console.test_browser import axe_violations, check_every_page, screenshot
from tests.transfer.conftest import new_public_key
from transfer.models import CredentialSource
from transfer.recent_sign_in import FRESH_SECONDS, SESSION_KEY
from transfer.services import app_password_create, folder_grant_set, ssh_key_add

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

browser = console_browser.browser
base_url = console_browser.base_url
page = console_browser.page
axe_page = console_browser.axe_page

ENDPOINTS = (
    "sftp=sftp.files.acme-corporation.example:2222,ftps=ftps.files.acme-corporation.example:21"
)
LONG_LABEL = "work-laptop-" + "x" * 88  # 100 characters, no spaces


@pytest.fixture(autouse=True)
def _endpoints(settings):
    settings.TRANSFER_ENDPOINTS = env_endpoints({"ENDPOINTS": ENDPOINTS}, "ENDPOINTS")


def sign_in_as(page, base_url, user) -> Client:
    """The browser carries a session of `user`, signed in just now (the receiver records
    when); the returned client holds the same session."""
    client = Client()
    client.force_login(user, backend="sso.backends.SamlBackend")
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    return client


def authenticate(base_url, transfer_secret, *, login, password) -> int:
    """A file server's question to the decision API, over HTTP."""
    return httpx.post(
        f"{base_url}/transfer/v1/authenticate",
        json={"username": login, "protocol": "sftp", "ip": "203.0.113.7", "password": password},
        headers={"Authorization": f"Bearer {transfer_secret}"},
        timeout=10,
    ).status_code


def test_a_person_adds_a_key_and_creates_and_revokes_an_app_password(
    page, base_url, bob, transfer_on, org_key
):
    sign_in_as(page, base_url, bob)
    page.goto("/transfer/")
    assert page.get_by_label("Login name").input_value() == "bob@acme.example"
    page.get_by_role("button", name="Copy Login name").click()
    assert page.evaluate("navigator.clipboard.readText()") == "bob@acme.example"

    add_key = page.locator("form", has=page.get_by_role("button", name="Add key"))
    add_key.get_by_label("Label").fill("Work laptop")
    add_key.get_by_label("Public key").fill(new_public_key("bob@laptop"))
    add_key.get_by_role("button", name="Add key").click()
    expect(page.get_by_text("SSH key “Work laptop” added.")).to_be_visible()
    expect(page.get_by_role("button", name="Remove key Work laptop")).to_be_visible()

    create = page.locator("form", has=page.get_by_role("button", name="Create app password"))
    create.get_by_label("Label").fill("FileZilla")
    create.get_by_role("button", name="Create app password").click()
    page.wait_for_url(re.compile(r"/transfer/app-passwords/\d+/created/$"))
    secret = page.get_by_label("App password", exact=True).input_value()
    assert page.get_by_text("It is shown only once").is_visible()
    screenshot(page, "transfer-app-password-created")
    assert authenticate(base_url, org_key[1], login="bob@acme.example", password=secret) == 200

    page.reload()
    assert page.url.endswith("/transfer/")
    assert secret not in page.content()
    expect(page.get_by_text("cannot be shown again")).to_be_visible()
    page.go_back()
    assert secret not in page.content()

    page.goto("/transfer/")
    page.get_by_role("button", name="Revoke app password FileZilla").click()
    expect(page.get_by_text("App password “FileZilla” revoked.")).to_be_visible()
    assert authenticate(base_url, org_key[1], login="bob@acme.example", password=secret) == 403


@pytest.fixture
def lived_in_transfer(organization, bob, transfer_on, make_group, bob_key, system_actor, server):
    """Bob after a while: folders, his own keys and the IdP's, passwords, sign-ins."""
    group = make_group(organization, "Finance and accounting", members=[bob])
    for path in ("/Finance", "/Finance/Quarterly-reports-" + "2026" * 10):
        folder_grant_set(group=group, path=path, access="write", actor=system_actor)
    ssh_key_add(
        user=bob,
        public_key=new_public_key(),
        label=LONG_LABEL,
        source=CredentialSource.PERSONAL,
        actor=system_actor,
    )
    _, secret = app_password_create(
        user=bob, label=LONG_LABEL, source=CredentialSource.PERSONAL, actor=system_actor
    )
    server.authenticate("bob@acme.example", password=secret)
    server.authenticate("bob@acme.example", password="rap_wrongpw1.not-the-password-at-all")


def test_the_file_transfer_pages_are_accessible_and_fit_both_widths(
    axe_page, base_url, lived_in_transfer, bob, make_user, other_organization
):
    client = sign_in_as(axe_page, base_url, bob)
    check_every_page(axe_page, {"transfer": "/transfer/"})

    session = client.session
    session[SESSION_KEY] -= FRESH_SECONDS + 1
    session.save()
    check_every_page(axe_page, {"transfer-sign-in-again": "/transfer/"})

    sign_in_as(axe_page, base_url, make_user(other_organization, "carol@globex.example"))
    check_every_page(axe_page, {"transfer-off": "/transfer/"})


def test_the_shown_once_page_is_accessible_and_fits_375px(axe_page, base_url, bob, transfer_on):
    sign_in_as(axe_page, base_url, bob)
    axe_page.set_viewport_size(console_browser.WIDTHS["narrow"])
    axe_page.goto("/transfer/")
    create = axe_page.locator(
        "form", has=axe_page.get_by_role("button", name="Create app password")
    )
    create.get_by_label("Label").fill(LONG_LABEL)
    create.get_by_role("button", name="Create app password").click()
    axe_page.wait_for_url(re.compile(r"/created/$"))

    assert console_browser.sideways_overflow(axe_page) <= 0
    assert axe_violations(axe_page) == []
    screenshot(axe_page, "transfer-app-password-created-narrow")
