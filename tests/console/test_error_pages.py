"""Error pages: the console's layout, what happened, and a way back."""

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import RequestFactory
from django.views import defaults

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    body = response.content.decode()
    assert 'class="topbar"' in body, "error pages use the console layout"
    return body


def test_an_unknown_console_address_is_a_404_in_the_console_with_a_way_back(owner_client):
    response = owner_client.get("/console/no-such-page/")
    body = _page(response)

    assert response.status_code == 404
    assert "There is no page at this address" in body
    assert 'href="/console/">Go to the console overview</a>' in body
    assert 'aria-label="Console"' in body


def test_a_404_for_a_visitor_offers_the_sign_in_pages(client):
    body = _page(client.get("/console/users/00000000-0000-0000-0000-000000000000/x"))
    assert 'href="/console/login/">Sign in to the console</a>' in body
    assert 'aria-label="Console"' not in body


def test_a_bad_host_is_a_400_page(client, settings):
    settings.ALLOWED_HOSTS = ["roster.example.com"]
    response = client.get("/console/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "This request could not be understood" in _page(response)


def test_the_400_and_403_handlers_render_the_console_pages(rf: RequestFactory, org_owner):
    request = rf.get("/console/")
    request.user = org_owner
    bad = defaults.bad_request(request, SuspiciousOperation("x"))
    denied = defaults.permission_denied(request, PermissionDenied())

    assert "Go to the console overview" in _page(bad)
    assert denied.status_code == 403
    assert "You are not allowed to open this page" in _page(denied)


def test_the_500_page_renders_without_a_request_context(rf: RequestFactory):
    response = defaults.server_error(rf.get("/console/"))
    body = _page(response)
    assert response.status_code == 500
    assert "Something went wrong on our side" in body
    assert 'href="/console/">Go to the console overview</a>' in body


def test_an_expired_form_is_explained(client, org_owner):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/console/login/", {"email": "a@b.example", "password": "x"})
    assert response.status_code == 403
    assert "This form has expired" in _page(response)
