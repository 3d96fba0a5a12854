"""The console in a real headless Chromium, against a live server, as an admin uses it.

Screenshots of each main page land in test-artifacts/screenshots/.
"""

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.actors import Actor
from accounts.events.models import ApiKey
from accounts.models import OrganizationDomain
from provisioning.models import ProvisioningToken
from provisioning.services import token_mark_used, token_revoke
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import idp_metadata

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCIM_JSON = "application/scim+json"


def _chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _chromium_path()
    if executable is None:
        message = "No Chromium found (apt-get install chromium) for the browser tests."
        if os.environ.get("CI"):
            pytest.fail(message + " CI must run them.")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are synchronous and safe, so Django's async guard is relaxed for this module.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def base_url(live_server, settings):
    # SCIM and SAML URLs shown in the console are built from PUBLIC_BASE_URL.
    settings.PUBLIC_BASE_URL = live_server.url
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    return live_server.url


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.csp_violations = violations
    yield page
    context.close()
    assert violations == [], "the console must run under its CSP without violations"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, email="owner@acme.example", landing=r"/console/$"):
    page.goto("/console/login/")
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(landing))


def scim_get_users(base_url: str, secret: str) -> httpx.Response:
    return httpx.get(
        f"{base_url}/scim/v2/Users",
        headers={"Authorization": f"Bearer {secret}", "Accept": SCIM_JSON},
        timeout=10,
    )


def test_token_lifecycle_in_the_browser(page, base_url, org_owner):
    sign_in(page)
    page.get_by_role("link", name="User Provisioning", exact=True).click()
    assert page.get_by_label("SCIM base URL").input_value() == f"{base_url}/scim/v2/"

    page.get_by_label("Label").fill("Okta production")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url(re.compile(r"/tokens/\d+/created/$"))
    secret = page.get_by_label("Token", exact=True).input_value()
    assert page.get_by_text("It is shown only once").is_visible()
    screenshot(page, "token-created")

    assert scim_get_users(base_url, secret).status_code == 200

    page.reload()
    assert page.url.endswith("/console/provisioning/")
    assert secret not in page.content()
    assert page.get_by_text("cannot be shown again").is_visible()
    page.go_back()
    assert secret not in page.content()

    page.goto("/console/provisioning/")
    page.get_by_role("link", name=re.compile(r"Revoke token Okta production")).click()
    assert page.get_by_role("heading", name="Revoke token “Okta production”?").is_visible()
    page.get_by_role("button", name="Revoke “Okta production”").click()
    page.wait_for_url(re.compile(r"/console/provisioning/$"))
    assert page.get_by_text("is revoked").is_visible()
    assert scim_get_users(base_url, secret).status_code == 401


def test_pasting_idp_metadata_saves_the_sso_settings(page, base_url, org_owner):
    sign_in(page)
    page.get_by_role("link", name="Single sign-on", exact=True).click()
    assert page.get_by_label("Entity ID (Audience URI)").input_value() == (
        f"{base_url}/sso/acme/metadata/"
    )
    page.get_by_label("IdP metadata XML").fill(idp_metadata())
    page.get_by_role("button", name="Save from metadata").click()
    assert page.get_by_text("Single sign-on settings saved.").is_visible()
    assert page.get_by_text("http://www.okta.com/exk1abcd").first.is_visible()
    assert page.get_by_role("link", name="Test sign-in").count() == 0

    page.get_by_label("Email attribute").fill("email")
    page.get_by_role("button", name="Save sign-in options").click()
    assert page.get_by_label("Email attribute").input_value() == "email"
    page.get_by_role("button", name="Turn single sign-on on").click()
    assert page.get_by_text("Single sign-on is on.").is_visible()
    assert page.get_by_role("link", name="Test sign-in").is_visible()
    screenshot(page, "single-sign-on-configured")

    page.get_by_label("IdP metadata XML").fill("<not metadata")
    page.get_by_role("button", name="Save from metadata").click()
    assert page.get_by_text("The metadata is not well-formed XML.").is_visible()


def test_a_user_pushed_by_scim_shows_in_users_and_activity(
    page, base_url, organization, org_owner, make_scim_token
):
    token, secret = make_scim_token(organization, label="Okta")
    created = httpx.post(
        f"{base_url}/scim/v2/Users",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": SCIM_JSON},
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "hedy@acme.example",
            "name": {"givenName": "Hedy", "familyName": "Lamarr"},
            "emails": [{"value": "hedy@acme.example", "type": "work", "primary": True}],
            "active": True,
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text

    sign_in(page)
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Search").fill("lamarr")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="hedy@acme.example").click()
    assert page.get_by_role("heading", name="Hedy Lamarr").is_visible()
    assert page.get_by_text("SCIM provisioning").first.is_visible()
    screenshot(page, "user-detail")

    page.get_by_role("link", name="Activity", exact=True).click()
    row = page.get_by_role("row").filter(has_text="hedy@acme.example").first
    assert "User created" in row.inner_text()
    assert token.prefix in row.inner_text()
    row.get_by_role("link", name="hedy@acme.example").click()
    assert page.get_by_role("heading", name="Hedy Lamarr").is_visible()


def _tab_to(page, selector: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


def test_keyboard_only_token_creation(page, base_url, org_owner):
    page.goto("/console/login/")
    _tab_to(page, "#id_email")
    page.keyboard.type("owner@acme.example")
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/$"))

    _tab_to(page, "a[href='/console/provisioning/']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/provisioning/$"))
    _tab_to(page, "#id_label")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focus must be visible"
    page.keyboard.type("Entra ID")
    page.keyboard.press("Tab")  # the expiry select
    page.keyboard.press("ArrowDown")  # "In 30 days"
    _tab_to(page, "form[action$='/tokens/'] button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/tokens/\d+/created/$"))

    secret = page.locator("#token-secret").input_value()
    _tab_to(page, "button[data-copy-target='token-secret']")
    page.keyboard.press("Enter")
    page.get_by_role("button", name=re.compile("^Copied")).wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert scim_get_users(base_url, secret).status_code == 200
    page.goto("/console/provisioning/")
    assert page.get_by_role("cell", name="Entra ID", exact=True).is_visible()
    token = ProvisioningToken.objects.get(label="Entra ID")
    assert token.expires_at - token.created_at > dt.timedelta(days=29)


OKTA_ENTITY_ID = "http://www.okta.com/exk1q2w3e4r5t6y7u8i9"
LONG_TOKEN_LABEL = "okta-production-" + "x" * 84  # 100 characters, no spaces
AXE_SCRIPT = Path(django_settings.BASE_DIR) / "tests/browser/node_modules/axe-core/axe.min.js"
# Impacts that fail a page; "minor" and "moderate" findings are reported by axe only.
AXE_FAILING_IMPACTS = {"serious", "critical"}
WIDTHS = {"wide": {"width": 1280, "height": 900}, "narrow": {"width": 375, "height": 800}}


@pytest.fixture
def axe_page(page):
    """The page with axe-core loaded into every document it opens.

    An init script runs before the page's own scripts and outside its Content Security
    Policy, so checking a page does not weaken the policy it is checked under.
    """
    if not AXE_SCRIPT.exists():
        message = "axe-core is not installed (make browser-js) for the accessibility checks."
        if os.environ.get("CI"):
            pytest.fail(message + " CI must run them.")
        pytest.skip(message)
    page.context.add_init_script(path=str(AXE_SCRIPT))
    return page


def axe_violations(page) -> list[str]:
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in AXE_FAILING_IMPACTS
    ]


def sideways_overflow(page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def check_every_page(page, pages: dict[str, str], *, status: int = 200) -> None:
    """Each page at both widths: its status, one h1, axe, no sideways scroll, a screenshot."""
    problems = []
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        for name, path in pages.items():
            response = page.goto(path)
            assert response.status == status, path
            assert page.locator("h1").count() == 1, path
            if width == "wide":
                problems += [f"{path}: {violation}" for violation in axe_violations(page)]
                # Long labels wrap: at desktop width no table hides its last columns.
                hidden = page.locator(".table-wrap").evaluate_all(
                    "wraps => wraps.filter(w => w.scrollWidth > w.clientWidth).length"
                )
                if hidden:
                    problems.append(f"{path}: a table scrolls sideways at 1280px")
            overflow = sideways_overflow(page)
            if overflow > 0:
                problems.append(f"{path} scrolls sideways by {overflow}px at {viewport['width']}px")
            screenshot(page, name if width == "wide" else f"{name}-narrow")
    page.set_viewport_size(WIDTHS["wide"])
    assert problems == [], "\n".join(problems)


@pytest.fixture
def lived_in_organization(
    settings, organization, org_owner, make_user, make_group, make_scim_token, system_actor
):
    """An organization as an admin sees it after setup: people, a group, Okta, long labels."""
    from sso.services import idp_configure
    from tests.console.conftest import make_certificate

    people = [
        make_user(organization, f"{name.lower()}@acme.example", given_name=name, family_name=last)
        for name, last in [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing")]
    ]
    group = make_group(organization, "Engineering", members=people[:2])
    okta, _ = make_scim_token(organization, label="Okta production", created_by=org_owner)
    token_mark_used(token=okta)
    long_label, _ = make_scim_token(organization, label=LONG_TOKEN_LABEL, created_by=org_owner)
    retired, _ = make_scim_token(organization, label="Okta sandbox", created_by=org_owner)
    token_revoke(token=retired, actor=Actor.for_user(org_owner))
    idp_configure(
        organization=organization,
        actor=Actor.for_user(org_owner),
        acting_user=org_owner,
        entity_id=OKTA_ENTITY_ID,
        sso_url="https://acme.okta.com/app/acme_roster_1/exk1q2w3e4r5t6y7u8i9/sso/saml",
        certificates=[make_certificate(common_name="dev-12345678", email="info@okta.com")],
        enabled=True,
    )
    return {"people": people, "group": group, "tokens": [okta, long_label, retired]}


@pytest.fixture
def integrations_in_use(monkeypatch, organization, org_owner):
    """An API key, a retired one, and a webhook endpoint with sent, failed and queued deliveries."""
    from accounts.events.models import DeliveryStatus, WebhookDelivery
    from accounts.events.webhooks import addresses
    from accounts.services.integrations import (
        api_key_create,
        api_key_revoke,
        webhook_endpoint_create,
    )

    # The endpoint's host resolves from this stub: no lookup leaves the machine.
    monkeypatch.setattr(addresses, "resolve_addresses", lambda hostname: ["93.184.215.14"])
    actor = Actor.for_user(org_owner)
    api_key_create(organization=organization, label="File service", actor=actor)
    retired, _ = api_key_create(organization=organization, label="Old file service", actor=actor)
    api_key_revoke(key=retired, actor=actor)
    endpoint, _ = webhook_endpoint_create(
        organization=organization,
        url="https://files.example.com/hooks/roster/" + "directory-events-" * 6,
        actor=actor,
        event_types=["user.deactivated", "group.member_added"],
    )
    now = timezone.now()
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        status=DeliveryStatus.SUCCEEDED,
        attempts=1,
        last_attempt_at=now,
        last_status_code=200,
        delivered_at=now,
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        status=DeliveryStatus.FAILED,
        attempts=8,
        last_attempt_at=now,
        last_status_code=503,
        last_error="The receiver answered 503 Service Unavailable after 10 seconds " * 3,
        response_excerpt="<html><body>upstream connect error or disconnect</body></html>",
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, status=DeliveryStatus.PENDING, next_attempt_at=now
    )
    return {"endpoint": endpoint}


@pytest.fixture
def domains_in_use(organization, make_verified_domain, system_actor):
    """A verified domain, one flagged by the daily re-check, one pending that failed a check."""
    from accounts.domain_verification import Lookup
    from accounts.models import DomainCheckResult
    from accounts.services import domain_add, domain_check_record

    make_verified_domain(organization, "acme.example")
    flagged = make_verified_domain(organization, "acme-corp.example")
    pending = domain_add(
        organization=organization, domain="acme.co.example", actor=system_actor, acting_user=None
    )
    for domain in (flagged, pending):
        missing = Lookup(
            DomainCheckResult.NOT_FOUND,
            f"_roster-verification.{domain.domain} does not exist in DNS yet.",
        )
        domain_check_record(domain_id=domain.pk, lookup=missing, actor=system_actor)


def test_every_console_page_is_accessible_and_fits_both_widths(
    axe_page,
    base_url,
    settings,
    organization,
    org_owner,
    lived_in_organization,
    integrations_in_use,
    domains_in_use,
):
    people, group = lived_in_organization["people"], lived_in_organization["group"]
    okta = lived_in_organization["tokens"][0]
    endpoint = integrations_in_use["endpoint"]
    live_key = ApiKey.objects.get(label="File service")
    domain = OrganizationDomain.objects.get(domain="acme.example")
    # The addresses an admin would see in production, for the screenshots.
    settings.PUBLIC_BASE_URL = "https://roster.example.com"
    check_every_page(axe_page, {"login": "/console/login/"})
    sign_in(axe_page)
    pages = {
        "overview": "/console/",
        "users": "/console/users/",
        "user-detail": f"/console/users/{people[0].pk}/",
        "user-deactivate": f"/console/users/{people[0].pk}/deactivate/",
        "groups": "/console/groups/",
        "group-detail": f"/console/groups/{group.pk}/",
        "activity": "/console/activity/",
        "user-provisioning": "/console/provisioning/",
        "scim-request-log": "/console/provisioning/requests/",
        "token-revoke": f"/console/provisioning/tokens/{okta.pk}/revoke/",
        "single-sign-on": "/console/sso/",
        "verified-domains": "/console/sso/domains/",
        "domain-remove": f"/console/sso/domains/{domain.pk}/remove/",
        "integrations": "/console/integrations/",
        "api-key-revoke": f"/console/integrations/api-keys/{live_key.pk}/revoke/",
        "webhook-endpoint": f"/console/integrations/webhooks/{endpoint.pk}/",
    }
    check_every_page(axe_page, pages)
    check_every_page(axe_page, {"not-found": "/console/no-such-page/"}, status=404)

    axe_page.get_by_role("button", name="Sign out").click()
    axe_page.wait_for_url(re.compile(r"/console/login/$"))


def test_a_new_organizations_pages_are_accessible_and_fit_both_widths(
    axe_page, base_url, organization, org_owner
):
    sign_in(axe_page)
    pages = {
        "overview-new": "/console/",
        "user-provisioning-empty": "/console/provisioning/",
        "scim-request-log-empty": "/console/provisioning/requests/",
        "single-sign-on-empty": "/console/sso/",
        "verified-domains-empty": "/console/sso/domains/",
        "activity-new": "/console/activity/",
    }
    check_every_page(axe_page, pages)

    axe_page.goto("/console/")
    checklist = axe_page.get_by_role("region", name="Get started")
    assert "0 of 8 steps done" in checklist.inner_text()
    checklist.get_by_role("link", name="Create a provisioning token").click()
    axe_page.get_by_label("Label").fill("Okta")
    axe_page.get_by_role("button", name="Create token").click()
    axe_page.wait_for_url(re.compile(r"/tokens/\d+/created/$"))
    axe_page.goto("/console/")
    assert "1 of 8 steps done" in checklist.inner_text()
    assert checklist.get_by_role("link", name="Create a provisioning token").count() == 0
    screenshot(axe_page, "overview-checklist")


def test_a_member_sees_an_accessible_no_access_page(axe_page, base_url, organization, member):
    sign_in(axe_page, email=member.email, landing=r"/console/$")
    check_every_page(axe_page, {"no-console-access": "/console/"}, status=403)


def test_a_new_token_shows_its_underscores(page, base_url, org_owner):
    sign_in(page)
    page.goto("/console/provisioning/")
    page.get_by_label("Label").fill("Okta")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_url(re.compile(r"/tokens/\d+/created/$"))
    # Descenders (the underscore) need room below the baseline: a content box of less
    # than 1.5 line of the field's font clips them.
    room = page.locator("#token-secret").evaluate(
        """input => {
            const style = getComputedStyle(input);
            const content = input.clientHeight - parseFloat(style.paddingTop)
                - parseFloat(style.paddingBottom);
            return content / parseFloat(style.fontSize);
        }"""
    )
    assert room >= 1.5


def test_a_refused_metadata_paste_reloads_at_its_error(page, base_url, org_owner):
    sign_in(page)
    page.goto("/console/sso/")
    page.get_by_label("IdP metadata XML").fill("<not metadata")
    page.get_by_role("button", name="Save from metadata").click()
    error = page.get_by_text("The metadata is not well-formed XML.")
    error.wait_for()
    assert page.url.endswith("#idp-metadata")
    in_view = error.evaluate(
        "e => { const r = e.getBoundingClientRect(); "
        "return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    assert in_view, "the error must be on screen without scrolling"
    assert page.get_by_role("link", name="See what to fix").count() == 1


def test_the_activity_filters_line_up(page, base_url, org_owner):
    sign_in(page)
    page.goto("/console/activity/")
    # The Target field's help text must not lift its input above its neighbours: inputs
    # that share a row (tops within a label's height) share their top exactly.
    tops = sorted(
        page.locator(".filters input, .filters select").evaluate_all(
            "elements => elements.map(e => Math.round(e.getBoundingClientRect().top))"
        )
    )
    assert len(tops) == 6
    rows = [[tops[0]]]
    for top in tops[1:]:
        if top - rows[-1][0] < 40:
            rows[-1].append(top)
        else:
            rows.append([top])
    assert all(len(set(row)) == 1 for row in rows), f"the filter row is ragged: {tops}"


def test_the_request_log_answers_why_an_okta_push_failed(
    axe_page, base_url, organization, org_owner, make_scim_token
):
    page = axe_page
    _, secret = make_scim_token(organization, label="Okta production")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": SCIM_JSON}
    assert scim_get_users(base_url, secret).status_code == 200
    refused = httpx.post(
        f"{base_url}/scim/v2/Users",
        headers=headers,
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "password": "hunter2"},
        timeout=10,
    )
    assert refused.status_code == 400

    sign_in(page)
    banner = page.get_by_role("alert").filter(has_text="1 of the last 2 requests")
    assert banner.is_visible()
    screenshot(page, "overview-failing-token")
    banner.get_by_role("link", name="See the failed requests").click()
    page.wait_for_url(re.compile(r"/console/provisioning/requests/\?token=\d+&status=failed$"))
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert refused.json()["detail"] in rows.first.inner_text()
    rows.first.get_by_text("Refused body").click()
    assert "[redacted]" in rows.first.inner_text()
    assert "hunter2" not in page.content()
    screenshot(page, "scim-request-log")
    check_every_page(page, {"scim-request-log-failed": page.url.removeprefix(base_url)})


def test_an_owner_maps_an_idp_group_to_the_admin_role(
    axe_page, base_url, organization, org_owner, make_user, make_group, make_scim_token
):
    page = axe_page
    kim = make_user(organization, "kim@acme.example", given_name="Kim", family_name="Lee")
    lee = make_user(organization, "lee@acme.example")
    group = make_group(organization, "Roster admins", members=[kim])
    _, secret = make_scim_token(organization, label="Okta")

    sign_in(page)
    page.goto(f"/console/groups/{group.pk}/")
    page.get_by_role("button", name="Make members console admins").click()
    assert page.get_by_text("Members of Roster admins are console admins.").is_visible()
    row = page.get_by_role("row").filter(has_text="kim@acme.example")
    assert "Admin" in row.inner_text() and "from a mapped group" in row.inner_text()
    check_every_page(page, {"group-mapped": f"/console/groups/{group.pk}/"})

    # The identity provider pushes a new member: the role follows at once.
    pushed = httpx.patch(
        f"{base_url}/scim/v2/Groups/{group.pk}",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": SCIM_JSON},
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": str(lee.pk)}]}],
        },
        timeout=10,
    )
    assert pushed.status_code == 204
    page.goto(f"/console/users/{lee.pk}/")
    assert page.get_by_text("Admin (from a mapped group)").is_visible()
    page.goto("/console/activity/?action=user.role_changed")
    assert page.get_by_role("row").filter(has_text="lee@acme.example").count() == 1
