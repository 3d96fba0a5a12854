"""The message storage is made on first use (config.middleware.LazyMessageMiddleware):
requests that never touch messages do not pay for it, and those that do behave as with
Django's MessageMiddleware."""

from unittest import mock

from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from config.middleware import LazyMessageMiddleware


def _respond(view, request=None):
    request = request or RequestFactory().get("/")
    SessionMiddleware(lambda request: None).process_request(request)
    return request, LazyMessageMiddleware(view)(request)


def test_a_request_that_never_touches_messages_makes_no_storage():
    with mock.patch.object(FallbackStorage, "__init__", side_effect=AssertionError) as made:
        _, response = _respond(lambda request: HttpResponse("ok"))

    assert made.call_count == 0
    assert response.status_code == 200
    assert "messages" not in response.cookies


def test_a_message_added_is_stored_and_read_on_the_next_request():
    def add(request):
        messages.success(request, "Saved.")
        return HttpResponse("ok")

    _, response = _respond(add)
    assert "messages" in response.cookies

    second = RequestFactory().get("/")
    second.COOKIES["messages"] = response.cookies["messages"].value
    seen = []

    def read(request):
        seen.extend(str(message) for message in messages.get_messages(request))
        return HttpResponse("ok")

    _, response = _respond(read, second)
    assert seen == ["Saved."]
    # Read messages are cleared, as Django's middleware clears them.
    assert response.cookies["messages"].value == ""
