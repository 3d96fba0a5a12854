"""OpenID Connect sign-in in a real headless Chromium, through a real OpenID Provider.

The provider is panva's oidc-provider (tests/oidc_provider) on 127.0.0.1, Roster is the
live server on localhost: two sites, as in production, so the sign-in's SameSite=Lax
cookies cross from one to the other for real; nothing leaves the machine. A person
signs in from Roster (RP-initiated) and from the provider (third-party initiated login,
OIDC Core §4), signs out through the provider's end_session_endpoint (RP-Initiated
Logout 1.0), is signed out by the provider's back-channel logout token (Back-Channel
Logout 1.0), and both keep working after the provider rotates its signing key.

One provider serves the module; each test signs in its own account, so that ending one
account's provider sessions never reaches another test's. The browser, the live server
and the CSP check on every page are those of tests/console/test_browser.py.
"""

import itertools
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session

from accounts.actors import Actor
from accounts.models import AuditAction, AuditEvent
from sso.models import OidcSession
from sso.services.oidc import oidc_configure, provider_metadata
from tests.console import test_browser as console_browser
from tests.oidc_provider.conftest import module_oidc_provider_factory  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

browser = console_browser.browser
page = console_browser.page

CLIENT_ID = "roster-acme"
CLIENT_SECRET = "roster-acme-client-secret"
# DRF's answer to a request without a session (SessionAuthentication sends no
# WWW-Authenticate challenge, so NotAuthenticated is a 403, not a 401).
ANONYMOUS_ME = (403, {"detail": "Authentication credentials were not provided."})

_accounts = itertools.count(1)


@pytest.fixture(scope="module")
def provider(module_oidc_provider_factory, live_server):  # noqa: F811
    roster = f"{live_server.url}/sso/acme"
    return module_oidc_provider_factory(
        clients=[
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "token_endpoint_auth_method": "client_secret_basic",
                "redirect_uris": [f"{roster}/oidc/callback/"],
                "post_logout_redirect_uris": [f"{roster}/slo/"],
                "backchannel_logout_uri": f"{roster}/oidc/backchannel-logout/",
            }
        ]
    )


@pytest.fixture
def base_url(live_server, settings):
    # The live server speaks plain HTTP; tests/sso/conftest.py sets an HTTPS public URL.
    settings.PUBLIC_BASE_URL = live_server.url
    settings.PUBLIC_IS_HTTPS = False
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    settings.OIDC_ALLOW_LOOPBACK = True
    return live_server.url


@pytest.fixture
def connection(base_url, organization, provider):
    """Acme's connection to the provider, from its discovery document; with no SAML
    identity provider it is the active one at once.

    Discovery runs its request on an event loop of its own (sso.oidc.fetch), which
    cannot start in this thread: Playwright's sync API keeps a loop running here.
    """
    with ThreadPoolExecutor(max_workers=1) as discovery:
        metadata = discovery.submit(provider_metadata, issuer=provider.issuer).result()
    return oidc_configure(
        organization=organization,
        metadata=metadata,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        actor=Actor.system("tests"),
    )


@pytest.fixture
def person(organization, make_user):
    """A member pushed by SCIM whose username is the provider account's
    preferred_username (the provider derives it from the account id)."""
    return make_user(
        organization,
        f"alice.{next(_accounts)}@acme.example",
        given_name="Alice",
        family_name="Liddell",
    )


@pytest.fixture
def open_page(browser, base_url):
    """Opens pages in browser contexts of their own (no cookie of another, at Roster or
    at the provider), as tests/console/test_browser.py's `page` does; a test using one
    checks `page.csp_violations` itself. `bypass_csp` has Chromium ignore the pages'
    Content-Security-Policy."""
    contexts = []

    def open_page(*, bypass_csp: bool = False):
        context = browser.new_context(
            base_url=base_url,
            viewport={"width": 1280, "height": 900},
            locale="en-US",
            bypass_csp=bypass_csp,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.csp_violations = []
        page.on(
            "console",
            lambda message: (
                page.csp_violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in_at_the_provider(page, provider, login: str) -> None:
    """The provider's development login (any password) and consent pages."""
    page.wait_for_url(re.compile(rf"^{re.escape(provider.issuer)}/interaction/"))
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def sign_in(page, provider, person, *, start: str = "/sso/acme/login/") -> None:
    page.goto(start)
    sign_in_at_the_provider(page, provider, person.username)


def roster_session_key(page) -> str | None:
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    return cookies.get("sessionid")


def session_user_id(page) -> str | None:
    """Whom the browser's Roster session signs in, read from the session store."""
    session = Session.objects.filter(session_key=roster_session_key(page)).first()
    return None if session is None else session.get_decoded().get(SESSION_KEY)


def me(page) -> tuple[int, dict]:
    response = page.goto("/api/v1/me")
    return response.status, response.json()


def sign_ins(organization) -> list[tuple[str, dict]]:
    return [
        (event.target_id, event.changes)
        for event in AuditEvent.objects.filter(
            organization=organization, action=AuditAction.SSO_LOGIN
        ).order_by("id")
    ]


def expected_me(person) -> dict:
    return {
        "userName": person.username,
        "email": person.email,
        "displayName": "Alice Liddell",
        "organization": {"slug": "acme", "name": "Acme Inc."},
        "groups": [],
    }


# -- Signing in -------------------------------------------------------------------------


def test_a_person_signs_in_at_the_provider_and_lands_on_next(
    page, base_url, organization, connection, provider, person
):
    sign_in(page, provider, person, start="/sso/acme/login/?next=/api/v1/me")

    page.wait_for_url(f"{base_url}/api/v1/me")
    assert me(page) == (200, expected_me(person))
    assert session_user_id(page) == str(person.pk)
    assert sign_ins(organization) == [
        (
            str(person.pk),
            {"protocol": "oidc", "idp_initiated": False, "created": False, "linked": True},
        )
    ]
    [session] = OidcSession.objects.all()
    assert (session.user_id, session.session_key) == (person.pk, roster_session_key(page))


def test_a_sign_in_without_next_lands_on_the_page_that_says_who_signed_in(
    page, base_url, connection, provider, person
):
    sign_in(page, provider, person)

    page.wait_for_url(f"{base_url}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Alice Liddell"
    username = page.get_by_role("row", name="Username").get_by_role("cell")
    assert username.inner_text() == person.username
    assert session_user_id(page) == str(person.pk)


@pytest.mark.parametrize(
    ("target", "landing", "heading"),
    [
        ("{roster}/sso/acme/slo/", "/sso/acme/slo/", "Sign out"),
        ("{roster}/", "/", "Alice Liddell"),
        ("https://evil.example/console/", "/", "Alice Liddell"),
    ],
    ids=["inside-roster", "roster-root", "foreign"],
)
def test_a_sign_in_initiated_at_the_provider_lands_where_target_link_uri_may(
    target, landing, heading, page, base_url, organization, connection, provider, person
):
    initiation = {
        "iss": provider.issuer,
        "login_hint": person.username,
        "target_link_uri": target.format(roster=base_url),
    }
    page.goto(f"/sso/acme/login/?{urlencode(initiation)}")
    assert page.locator("input[name=login]").input_value() == person.username
    sign_in_at_the_provider(page, provider, person.username)

    page.wait_for_url(f"{base_url}{landing}")
    assert session_user_id(page) == str(person.pk)
    assert page.get_by_role("heading", level=1).inner_text() == heading
    [(target_id, changes)] = sign_ins(organization)
    assert target_id == str(person.pk)
    assert changes == {
        "protocol": "oidc",
        "idp_initiated": True,
        "created": False,
        "linked": True,
    }


# -- Signing out ------------------------------------------------------------------------


def test_signing_out_ends_the_session_at_roster_and_at_the_provider(
    open_page, base_url, connection, provider, person
):
    # The page's CSP is enforced: the sign-out form's POST answers with a page that
    # continues to the provider, since form-action 'self' blocks a redirect there.
    page = open_page()
    sign_in(page, provider, person)
    page.wait_for_url(f"{base_url}/")
    signed_in_session = roster_session_key(page)

    page.goto("/sso/acme/slo/")
    page.get_by_role("button", name="Sign out of Acme Inc.").click()
    # The provider answers at once; a blocked redirect would leave the page where it is.
    page.wait_for_url(re.compile(rf"^{re.escape(provider.issuer)}/session/end\?"), timeout=5_000)
    page.get_by_role("button", name="Yes, sign me out").click()

    page.wait_for_url(f"{base_url}/sso/acme/slo/")
    assert page.get_by_role("heading", level=1).inner_text() == "You're signed out"
    assert not Session.objects.filter(session_key=signed_in_session).exists()
    assert OidcSession.objects.count() == 0
    assert me(page) == ANONYMOUS_ME
    # The provider's session ended too: signing in again asks for the login.
    page.goto("/sso/acme/login/")
    page.wait_for_url(re.compile(rf"^{re.escape(provider.issuer)}/interaction/"))
    assert page.get_by_role("button", name="Sign-in").is_visible()
    assert page.csp_violations == []


def test_the_providers_back_channel_logout_ends_the_browsers_session(
    page, base_url, organization, connection, provider, person
):
    sign_in(page, provider, person)
    page.wait_for_url(f"{base_url}/")
    [session] = OidcSession.objects.all()

    answer = provider.end_sessions(person.username)

    assert answer == {
        "sessions": 1,
        "backchannel_logout": [{"client_id": CLIENT_ID, "sid": session.sid, "ok": True}],
    }
    assert me(page) == ANONYMOUS_ME
    assert session_user_id(page) is None
    [event] = AuditEvent.objects.filter(
        organization=organization, action=AuditAction.SSO_SESSIONS_ENDED
    )
    assert event.changes == {
        "channel": "backchannel",
        "sessions": 1,
        "sub": person.username,
        "sid": session.sid,
    }


# -- Key rotation -----------------------------------------------------------------------


def test_a_key_rotation_at_the_provider_keeps_logout_and_sign_in_working(
    page, open_page, base_url, organization, connection, provider, person
):
    sign_in(page, provider, person)
    page.wait_for_url(f"{base_url}/")
    [old_kid] = provider.kids
    [session] = OidcSession.objects.all()

    new_kid = provider.rotate_keys(drop_old=True)
    answer = provider.end_sessions(person.username)

    assert new_kid != old_kid
    assert answer["backchannel_logout"] == [
        {"client_id": CLIENT_ID, "sid": session.sid, "ok": True}
    ]
    assert me(page) == ANONYMOUS_ME
    assert AuditEvent.objects.filter(action=AuditAction.SSO_SESSIONS_ENDED).count() == 1

    another_page = open_page()
    sign_in(another_page, provider, person, start="/sso/acme/login/?next=/api/v1/me")

    another_page.wait_for_url(f"{base_url}/api/v1/me")
    assert me(another_page) == (200, expected_me(person))
    assert session_user_id(another_page) == str(person.pk)
    assert another_page.csp_violations == []
    assert [changes["linked"] for _, changes in sign_ins(organization)] == [True, False]
