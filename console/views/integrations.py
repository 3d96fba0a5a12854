"""Integrations: the platform's API keys and webhook endpoints, with their deliveries.

A new key's or signing secret's plaintext is shown once, as a new provisioning token's
is (console.secret_handoff): the POST hands it on encrypted, the page that shows it
takes it out and answers `Cache-Control: no-store`.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.actors import Actor
from accounts.errors import AccountsError
from accounts.events.fanout import queue_available
from accounts.events.selectors import api_keys_of, deliveries_of, endpoints_of
from accounts.services import integrations as services
from console import secret_handoff
from console.forms import ApiKeyCreateForm, WebhookEndpointCreateForm, WebhookEventTypesForm
from console.permissions import console_admin_required

RECENT_DELIVERIES = 50


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _key_or_404(request, key_id):
    key = api_keys_of(request.user.organization).filter(pk=key_id).first()
    if key is None:
        raise Http404("No such API key in this organization.")
    return key


def _endpoint_or_404(request, endpoint_id):
    endpoint = endpoints_of(request.user.organization).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint in this organization.")
    return endpoint


def _index(request, *, key_form=None, endpoint_form=None):
    bound = any(form is not None and form.is_bound for form in (key_form, endpoint_form))
    return render(
        request,
        "console/integrations/index.html",
        {
            "nav": "integrations",
            "api_keys": api_keys_of(request.user.organization),
            "endpoints": endpoints_of(request.user.organization),
            "key_form": key_form or ApiKeyCreateForm(),
            "endpoint_form": endpoint_form or WebhookEndpointCreateForm(),
            "queue_available": queue_available(),
        },
        status=400 if bound else 200,
    )


@console_admin_required
def integrations(request):
    return _index(request)


def _show_secret_once(request, *, handoff_id: str, context: dict):
    return secret_handoff.show_once(
        request,
        handoff_id=handoff_id,
        template="console/integrations/secret.html",
        context={"nav": "integrations", **context},
        gone="That secret was shown once and cannot be shown again.",
        gone_to="console:integrations",
    )


@console_admin_required
@require_POST
def api_key_create_view(request):
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return _index(request, key_form=form)
    try:
        key, secret = services.api_key_create(
            organization=request.user.organization,
            label=form.cleaned_data["label"],
            actor=_actor(request),
            created_by=request.user,
        )
    except AccountsError as error:
        form.add_error(None, str(error))
        return _index(request, key_form=form)
    secret_handoff.hand_off(request.session, token_id=f"api-key:{key.pk}", secret=secret)
    return redirect("console:api_key_created", key_id=key.pk)


@console_admin_required
def api_key_created(request, key_id):
    key = _key_or_404(request, key_id)
    return _show_secret_once(
        request,
        handoff_id=f"api-key:{key.pk}",
        context={"title": f"API key “{key.label}” created", "kind": "api_key", "key": key},
    )


@console_admin_required
def api_key_revoke_view(request, key_id):
    """GET asks for confirmation; POST revokes."""
    key = _key_or_404(request, key_id)
    if request.method != "POST":
        return render(
            request, "console/integrations/revoke_key.html", {"nav": "integrations", "key": key}
        )
    key = services.api_key_revoke(key=key, actor=_actor(request))
    messages.success(
        request, f"API key “{key.label}” ({key.prefix}) is revoked; its requests get 401."
    )
    return redirect("console:integrations")


@console_admin_required
@require_POST
def endpoint_create_view(request):
    form = WebhookEndpointCreateForm(request.POST)
    if not form.is_valid():
        return _index(request, endpoint_form=form)
    try:
        endpoint, secret = services.webhook_endpoint_create(
            organization=request.user.organization,
            url=form.cleaned_data["url"],
            event_types=form.cleaned_data["event_types"],
            actor=_actor(request),
        )
    except AccountsError as error:
        form.add_error("url", str(error))
        return _index(request, endpoint_form=form)
    secret_handoff.hand_off(request.session, token_id=f"webhook:{endpoint.pk}", secret=secret)
    return redirect("console:endpoint_secret", endpoint_id=endpoint.pk)


@console_admin_required
def endpoint_secret(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    return _show_secret_once(
        request,
        handoff_id=f"webhook:{endpoint.pk}",
        context={"title": "Signing secret", "kind": "webhook", "endpoint": endpoint},
    )


def _endpoint_page(request, endpoint, *, form=None):
    return render(
        request,
        "console/integrations/endpoint.html",
        {
            "nav": "integrations",
            "endpoint": endpoint,
            "form": form or WebhookEventTypesForm(initial={"event_types": endpoint.event_types}),
            "deliveries": deliveries_of(endpoint)[:RECENT_DELIVERIES],
            "queue_available": queue_available(),
        },
        status=400 if form is not None else 200,
    )


@console_admin_required
def endpoint_detail(request, endpoint_id):
    return _endpoint_page(request, _endpoint_or_404(request, endpoint_id))


@console_admin_required
@require_POST
def endpoint_events_view(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    form = WebhookEventTypesForm(request.POST)
    if not form.is_valid():
        return _endpoint_page(request, endpoint, form=form)
    services.webhook_endpoint_update(
        endpoint=endpoint, event_types=form.cleaned_data["event_types"], actor=_actor(request)
    )
    messages.success(request, "The event filter is saved.")
    return redirect("console:endpoint", endpoint_id=endpoint.pk)


@console_admin_required
@require_POST
def endpoint_enabled_view(request, endpoint_id, enabled):
    endpoint = _endpoint_or_404(request, endpoint_id)
    services.webhook_endpoint_update(endpoint=endpoint, enabled=enabled, actor=_actor(request))
    messages.success(
        request, "The endpoint is enabled." if enabled else "The endpoint is disabled."
    )
    return redirect("console:endpoint", endpoint_id=endpoint.pk)


@console_admin_required
@require_POST
def endpoint_rotate_view(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    secret = services.webhook_secret_rotate(endpoint=endpoint, actor=_actor(request))
    secret_handoff.hand_off(request.session, token_id=f"webhook:{endpoint.pk}", secret=secret)
    return redirect("console:endpoint_secret", endpoint_id=endpoint.pk)


@console_admin_required
@require_POST
def endpoint_test_view(request, endpoint_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    services.webhook_send_test(endpoint=endpoint, actor=_actor(request))
    messages.success(request, "A webhook.test message is queued; it appears below once sent.")
    return redirect("console:endpoint", endpoint_id=endpoint.pk)


@console_admin_required
@require_POST
def delivery_resend_view(request, endpoint_id, delivery_id):
    endpoint = _endpoint_or_404(request, endpoint_id)
    delivery = deliveries_of(endpoint).filter(pk=delivery_id).first()
    if delivery is None or delivery.event_id is None:
        raise Http404("No such event delivery for this endpoint.")
    services.webhook_delivery_resend(delivery=delivery, actor=_actor(request))
    messages.success(request, f"Event {delivery.event_id} is queued again.")
    return redirect("console:endpoint", endpoint_id=endpoint.pk)
