"""Home-realm discovery in a real headless Chromium: /signin/ must reach the IdP.

Every page is served with `form-action 'self'`, which Chromium applies to each redirect
of a form's navigation: a redirect chain from the /signin/ POST to the IdP is blocked.
The browser, the live server and the axe checks are those of tests/console/test_browser.py
(whose `page` fails a test on any CSP violation in the console). The identity provider's
origin is answered by Playwright: nothing leaves the machine.
"""

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.services import organization_set_sso_required
from tests.conftest import ADMIN_PASSWORD
from tests.console import test_browser as console_browser
from tests.console.test_browser import (
    WIDTHS,
    axe_violations,
    check_every_page,
    screenshot,
    sideways_overflow,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

browser = console_browser.browser
page = console_browser.page
axe_page = console_browser.axe_page

IDP_PAGE = "<html><body>IdP</body></html>"


@pytest.fixture
def base_url(live_server, settings):
    # The live server speaks plain HTTP; tests/sso/conftest.py sets an HTTPS public URL.
    settings.PUBLIC_BASE_URL = live_server.url
    settings.PUBLIC_IS_HTTPS = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    return live_server.url


@pytest.fixture
def at_the_idp(page, idp):
    """The IdP's origin answers with a small page; returns a wait for its SSO URL that
    gives the query of the AuthnRequest's redirect.

    Playwright's page.route() never sees the hop to the IdP (it is called only for the
    first URL of a redirect chain), so the DevTools protocol's Fetch domain answers it.
    """
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(idp.sso_url))
    devtools = page.context.new_cdp_session(page)
    devtools.on(
        "Fetch.requestPaused",
        lambda event: devtools.send(
            "Fetch.fulfillRequest",
            {
                "requestId": event["requestId"],
                "responseCode": 200,
                "responseHeaders": [{"name": "Content-Type", "value": "text/html"}],
                "body": base64.b64encode(IDP_PAGE.encode()).decode(),
            },
        ),
    )
    devtools.send("Fetch.enable", {"patterns": [{"urlPattern": f"{origin}/*"}]})

    def wait() -> dict[str, list[str]]:
        page.wait_for_url(re.compile(rf"^{re.escape(idp.sso_url)}\?"))
        assert page.locator("body").inner_text() == "IdP"
        return parse_qs(urlsplit(page.url).query)

    return wait


def test_a_work_email_at_signin_arrives_at_the_identity_provider(
    page, base_url, saml_idp, acme_domain, at_the_idp
):
    page.goto("/signin/?next=/api/v1/me")
    page.get_by_label("Work email").fill("someone.new@acme.example")
    page.get_by_role("button", name="Continue").click()

    query = at_the_idp()
    assert query["RelayState"] == ["/api/v1/me"]
    assert "SAMLRequest" in query
    # The continuing page replaced its history entry: Back is the form, not a resubmission.
    page.go_back()
    assert page.url == f"{base_url}/signin/?next=/api/v1/me"
    assert page.get_by_label("Work email").is_visible()


def test_an_organization_id_at_signin_arrives_at_the_identity_provider(
    page, base_url, saml_idp, at_the_idp
):
    page.goto("/signin/")
    page.get_by_label("Or your organization's ID").fill("acme")
    page.keyboard.press("Enter")

    assert at_the_idp()["RelayState"] == ["/"]


def test_sign_in_with_sso_from_the_console_login_arrives_at_the_identity_provider(
    page, base_url, saml_idp, acme_domain, at_the_idp
):
    page.goto("/console/login/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_label("Work email").fill("admin@acme.example")
    page.get_by_role("button", name="Continue").click()

    assert at_the_idp()["RelayState"] == ["/console/"]


def test_a_password_refused_for_sso_links_on_to_the_identity_provider(
    page, base_url, organization, saml_idp, org_admin, system_actor, at_the_idp
):
    organization_set_sso_required(organization=organization, required=True, actor=system_actor)
    page.goto("/console/login/")
    page.get_by_label("Work email").fill(org_admin.email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("link", name="Sign in with single sign-on").click()

    assert at_the_idp()["RelayState"] == ["/console/"]


def test_the_sign_in_pages_are_accessible_at_both_widths(axe_page, base_url, saml_idp):
    check_every_page(axe_page, {"signin": "/signin/"})

    # The continuing page is held on screen: its navigation to the login is aborted.
    axe_page.route("**/sso/acme/login/**", lambda route: route.abort("aborted"))
    problems = []
    for width, viewport in WIDTHS.items():
        axe_page.set_viewport_size(viewport)
        axe_page.goto("/signin/")
        axe_page.get_by_label("Or your organization's ID").fill("acme")
        axe_page.get_by_role("button", name="Continue").click()
        axe_page.get_by_role("heading", name="Continuing to sign in").wait_for()
        link = axe_page.get_by_role("link", name="Continue to your identity provider")
        assert link.get_attribute("href") == "/sso/acme/login/"
        problems += axe_violations(axe_page)
        if overflow := sideways_overflow(axe_page):
            problems.append(f"scrolls sideways by {overflow}px at {viewport['width']}px")
        screenshot(axe_page, "signin-continue" if width == "wide" else "signin-continue-narrow")
    assert problems == [], "\n".join(problems)
