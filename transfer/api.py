"""The decision API file servers ask at every login (`/transfer/v1/`, docs/transfer.md).

Every request carries `Authorization: Bearer <transfer key>`. The views translate HTTP
(or SFTPGo's hook body, transfer.sftpgo) to an `Attempt` and a `Decision` to JSON; the
decision itself is transfer.decisions.
Hostile input is a 400, never a 500: every field is type-checked before it reaches a
query, and no value is echoed back.
"""

import functools
import ipaddress
import json
import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission

from accounts.api.pagination import DirectoryCursorPagination
from accounts.api.throttling import ApiKeyRateThrottle
from accounts.keyed_secrets import credential_mark_used
from config import metrics, ratelimit, request_context
from transfer import answers, decisions, selectors, sftpgo, sign_in_log, ssh_keys
from transfer.models import TRANSFER_KEY, Protocol, TransferKey
from transfer.services import transfer_decision_record

logger = logging.getLogger(__name__)

API_401 = "The transfer key is missing, unknown or revoked."
API_400_BODY = "The body must be a JSON object."
API_429_FAILURES = "Too many refused logins for this login name; retry later."
API_429_KEY = "Too many requests for this transfer key; retry later."
KEY_RATE = "transfer-key"
FAILURE_RATE = "transfer-failures"
# Longest value any field may have (a public key line is at most 16 KiB).
MAX_FIELD_CHARS = ssh_keys.MAX_LINE_BYTES
# Protocol.values builds its list on every use.
PROTOCOLS = frozenset(Protocol.values)


def uncached(view):
    """Every answer is about this moment: no cache may keep it (RFC 9111 5.2.2.5). A
    constant header, where never_cache would format an Expires date and merge
    Cache-Control on every response of an API that answers at every login."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def _error(status: int, detail: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": detail}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _bearer(request) -> str:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def _unauthorized() -> JsonResponse:
    response = _error(401, API_401)
    response["WWW-Authenticate"] = 'Bearer realm="transfer"'
    return response


def _accepted(request, key: TransferKey | None, secret: str) -> bool:
    """Whether `key`, read by the prefix of the request's secret, is that secret's and
    live (a constant-time digest comparison); if so, it is in use now."""
    if key is None or not key.holds(TRANSFER_KEY, secret) or not key.is_live:
        return False
    credential_mark_used(key)
    request_context.bind(
        organization=key.organization.slug if key.organization else "-",
        actor=f"transfer key {key.prefix}",
    )
    return True


def transfer_key_for(request) -> TransferKey | None:
    """The live transfer key the request carries, or None: one lookup by its prefix, then
    a constant-time digest comparison. Revocation shows on the next request."""
    secret = _bearer(request)
    prefix = TRANSFER_KEY.prefix_of(secret)
    key = selectors.transfer_key_by_prefix(prefix) if prefix is not None else None
    return key if _accepted(request, key, secret) else None


def _throttled(verdict: ratelimit.Verdict, detail: str) -> JsonResponse:
    return _error(429, detail, Retry_After=str(max(verdict.retry_after, 1)))


def _key_rate() -> ratelimit.Rate:
    return ratelimit.Rate.parse(settings.TRANSFER_KEY_RATE)


def _key_throttled(key: TransferKey) -> JsonResponse | None:
    """Count the request against TRANSFER_KEY_RATE; the 429 past it, else None. Counted
    in blocks (ratelimit.hit_reserving): the per-request Redis round trip was a fifth of
    an authorized_keys answer."""
    verdict = ratelimit.hit_reserving(KEY_RATE, key.prefix, _key_rate())
    return None if verdict.allowed else _throttled(verdict, API_429_KEY)


class BadRequest(ValueError):
    """A malformed request; the message names the field, never its value."""


def _text(body: dict, name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string.")
    if len(value) > MAX_FIELD_CHARS or "\x00" in value:
        raise BadRequest(f"{name} is too long or holds a NUL character.")
    return value


def _ip(body: dict) -> str | None:
    value = body.get("ip")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadRequest("ip must be a string.")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise BadRequest("ip is not an IP address.") from None


def _parse_body(request) -> dict:
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest(API_400_BODY) from None
    if not isinstance(body, dict):
        raise BadRequest(API_400_BODY)
    return body


def attempt_from(request) -> decisions.Attempt:
    """The login attempt a request describes; BadRequest names what is wrong."""
    body = _parse_body(request)
    login = decisions.parse_login(_text(body, "username"))
    if login is None:
        raise BadRequest("username is not a login name.")
    protocol = body.get("protocol")
    if not isinstance(protocol, str) or protocol not in PROTOCOLS:
        raise BadRequest(f"protocol must be one of {', '.join(Protocol.values)}.")
    password = _text(body, "password", required=False)
    public_key = _text(body, "public_key", required=False)
    if (password is None) == (public_key is None):
        raise BadRequest("Send either password or public_key.")
    return decisions.Attempt(
        login=login,
        protocol=protocol,
        ip=_ip(body),
        password=password,
        # Garbage, or even a private key, is None: a wrong credential, never echoed or
        # logged.
        public_key=ssh_keys.presented_key(public_key) if public_key is not None else None,
    )


def _count(decision: decisions.Decision, protocol: str) -> None:
    result = "allowed" if decision.allowed else "refused"
    metrics.labelled(metrics.TRANSFER_DECISIONS, result, decision.reason or "-", protocol).inc()


class Throttled(Exception):
    """Past TRANSFER_KEY_RATE for the key or TRANSFER_FAILURE_RATE for the login name:
    no decision is made."""

    def __init__(self, verdict: ratelimit.Verdict, detail: str):
        super().__init__(detail)
        self.verdict = verdict
        self.detail = detail

    def response(self) -> JsonResponse:
        return _throttled(self.verdict, self.detail)


def decide_and_record(
    attempt: decisions.Attempt, key: TransferKey, found: tuple
) -> decisions.Decision:
    """The decision every file server's login gets, whatever protocol asked for it:
    throttled per key and per login name, logged, audited when refused and counted in
    /metrics."""
    # The decision is made first (a read; nothing is answered, logged or counted yet),
    # then one round trip counts the key's request and, for a refusal, the login name's
    # refused attempt, or for an allowed login only looks at that count. Each count is
    # atomic and no answer is given before it, so parallel guesses cannot slip under the
    # limit: past it they get a 429, never the decision. With Redis, the same round trip
    # appends the decision's log row when neither limit refuses it (transfer.sign_in_log).
    now = timezone.now()
    decision = decisions.decide(attempt, found, now=now)
    failures = ratelimit.Rate.parse(settings.TRANSFER_FAILURE_RATE)
    login_key = attempt.login.username_key
    row = sign_in_log.row_of(decision=decision, attempt=attempt, key=key, now=now)
    (key_verdict, verdict), buffered = ratelimit.hit_all_appending(
        [(KEY_RATE, key.prefix, _key_rate()), (FAILURE_RATE, login_key, failures)],
        counting=[True, not decision.allowed],
        append=sign_in_log.append_of(row),
    )
    if not key_verdict.allowed:
        # The server asked too often; nothing is answered about the login name.
        if not decision.allowed:
            ratelimit.refund(FAILURE_RATE, login_key, failures)
        raise Throttled(key_verdict, API_429_KEY)
    if not verdict.allowed:
        raise Throttled(verdict, API_429_FAILURES)
    transfer_decision_record(
        decision=decision, attempt=attempt, key=key, row=row, buffered=bool(buffered)
    )
    sign_in_log.drain_after_decision(buffered)
    _count(decision, attempt.protocol)
    if not decision.allowed:
        logger.info(
            "transfer login refused",
            extra={"event": "transfer.login_refused", "reason": decision.reason},
        )
    return decision


def deciding(parse):
    """For the views that make a login decision: the attempt `parse` reads from the
    request (BadRequest names what is wrong), then the transfer key, the person and their
    groups in one statement (`decisions.find_presented`), the key's digest compared, and
    the decision made and recorded (`decide_and_record`). The view gets the attempt and
    the decision; a wrong key is a 401 and a malformed request from a right one a 400,
    as on every /transfer/v1/ endpoint."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request):
            secret = _bearer(request)
            prefix = TRANSFER_KEY.prefix_of(secret)
            if prefix is None:
                return _unauthorized()
            try:
                attempt = parse(request)
            except BadRequest as exc:
                key = transfer_key_for(request)
                if key is None:
                    return _unauthorized()
                return _key_throttled(key) or _error(400, str(exc))
            key, found = decisions.find_presented(attempt, prefix)
            if not _accepted(request, key, secret):
                return _unauthorized()
            try:
                decision = decide_and_record(attempt, key, found)
            except Throttled as exc:
                return exc.response()
            return view(request, attempt, decision)

        return wrapped

    return decorator


def _sftpgo_attempt(request) -> decisions.Attempt:
    try:
        return sftpgo.attempt_from(_parse_body(request))
    except sftpgo.InvalidHookBody as exc:
        raise BadRequest(str(exc)) from None


@csrf_exempt  # A file server, not a browser; the transfer key is the proof.
@uncached
@require_POST
@deciding(attempt_from)
def authenticate(request, attempt: decisions.Attempt, decision: decisions.Decision):
    """May this login name log in now with this key or password, and to what?"""
    if not decision.allowed:
        return JsonResponse({"allowed": False, "reason": decision.reason}, status=403)
    return JsonResponse({"allowed": True, **answers.allowed_answer(decision)})


@csrf_exempt  # SFTPGo, not a browser; the transfer key is the proof.
@uncached
@require_POST
@deciding(_sftpgo_attempt)
def sftpgo_auth(request, attempt: decisions.Attempt, decision: decisions.Decision):
    """SFTPGo's external authentication hook: the decision /authenticate makes, answered
    as the SFTPGo user to log in, or as `{"username": ""}` to refuse (docs/sftpgo.md)."""
    if not decision.allowed:
        return JsonResponse(sftpgo.refused())
    user = sftpgo.user_for(
        attempt.login.login,
        answers.allowed_answer(decision),
        home_root=settings.TRANSFER_SFTPGO_HOME_ROOT,
        folders_root=settings.TRANSFER_SFTPGO_FOLDERS_ROOT,
    )
    return JsonResponse(user)


@uncached
@require_GET
def authorized_keys(request):
    """What OpenSSH's AuthorizedKeysCommand prints: the usable keys of an allowed person,
    or nothing. The transfer key, the person and their keys are one statement."""
    secret = _bearer(request)
    prefix = TRANSFER_KEY.prefix_of(secret)
    if prefix is None:
        return _unauthorized()
    login = decisions.parse_login(request.GET.get("username"))
    if login is None:
        key, lines = transfer_key_for(request), []
    else:
        key, lines = answers.authorized_keys_presented(login, prefix)
        key = key if _accepted(request, key, secret) else None
    if key is None:
        return _unauthorized()
    if (throttled := _key_throttled(key)) is not None:
        return throttled
    body = "".join(f"{line}\n" for line in lines)
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


# -- The Events API and the accounts list (DRF, like the read API) -----------------------


class TransferKeyClient:
    """The file server calling with a transfer key; stands in for request.user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: TransferKey):
        self.key = key
        self.organization = key.organization

    def __str__(self):
        return f"transfer key {self.key.prefix}"


class TransferKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer rtk_...`; other secrets are left to the next authenticator."""

    def authenticate(self, request):
        if not _bearer(request).startswith(TRANSFER_KEY.head):
            return None
        key = transfer_key_for(request)
        if key is None:
            raise AuthenticationFailed(API_401)
        return TransferKeyClient(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="transfer"'


class HasTransferKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, TransferKey)


class AccountSerializer(serializers.BaseSerializer):
    def to_representation(self, instance):
        return answers.listed_account(instance)


class AccountList(ListAPIView):
    """Every login that is allowed now, for servers that must know their users ahead of a
    login (NSS, precreated homes); paginated like /api/v1/users."""

    authentication_classes = [TransferKeyAuthentication]
    permission_classes = [HasTransferKey]
    throttle_classes = [ApiKeyRateThrottle]
    pagination_class = DirectoryCursorPagination
    serializer_class = AccountSerializer

    def get_queryset(self):
        return answers.allowed_accounts(self.request.auth)
