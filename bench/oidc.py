"""In-process OpenID Connect: one callback request, Roster's part only, beside the ACS.

The provider's side is taken out of the clock: the code exchange answers at once with
an ID token minted beforehand for the sign-in's nonce, and the provider's JWKS is
fetched once (answered in process) and then read from the shared cache, as every
sign-in after the first reads it. What is timed is the callback as Django serves it:
middleware, the pending request, the spent state, ID token validation (signature,
claims), the person, the session and the audit event.
"""

import functools
import secrets
import time
from contextlib import ExitStack
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from bench.validation import StepClock, _replaced

ORGANIZATION = "bench-oidc"
ISSUER = "http://127.0.0.1:9"  # never contacted: every answer comes from this process
CLIENT_ID = "bench-client"
SUBJECT = "bench-oidc-person"
USERNAME = "oidc.person@bench-oidc.example"


def _connection(actor):
    from accounts.models import Organization, Source, User
    from accounts.services import organization_create, user_create
    from sso.services.oidc import oidc_configure, provider_metadata

    organization = Organization.objects.filter(slug=ORGANIZATION).first()
    if organization is None:
        organization = organization_create(slug=ORGANIZATION, name="Bench OIDC", actor=actor)
    if not User.objects.filter(organization=organization, username=USERNAME).exists():
        user_create(organization=organization, username=USERNAME, source=Source.SCIM, actor=actor)
    # Configured on every run: each run has its own SECRET_KEY, which encrypts the
    # client secret, so an earlier run's connection could not be read.
    metadata = provider_metadata(
        issuer=ISSUER,
        endpoints={
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
        },
    )
    oidc_configure(
        organization=organization,
        metadata=metadata,
        client_id=CLIENT_ID,
        client_secret="bench-secret",
        discovered=False,
        actor=actor,
    )
    return organization


@functools.cache
def _signing_key():
    """One key per process, under a key id of its own: the JWKS an earlier run cached
    does not hold it, so the first sign-in fetches this one, which then stays cached."""
    from joserfc.jwk import RSAKey

    kid = f"bench-{secrets.token_hex(4)}"
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def callback_in_process(requests: int) -> dict:
    """Mean milliseconds and SQL statements per callback over `requests` sign-ins."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from joserfc import jwt

    from accounts.actors import Actor
    from sso.oidc import fetch
    from sso.oidc.flow import Tokens
    from sso.views import oidc as views

    key = _signing_key()
    jwks = {"keys": [key.as_dict(private=False)]}
    minted = {}

    def exchange_code(**_):
        return Tokens(id_token=minted["id_token"], access_token="")

    def get_json(url, **_):
        return jwks

    clock = StepClock()
    with ExitStack() as stack:
        stack.enter_context(override_settings(OIDC_ALLOW_LOOPBACK=True))
        organization = _connection(Actor.system("bench"))
        stack.enter_context(_replaced(views.flow, "exchange_code", exchange_code))
        stack.enter_context(mock.patch.object(fetch, "get_json", get_json))
        stack.enter_context(
            _replaced(views, "validate_id_token", clock.wrap("validation", views.validate_id_token))
        )
        client = Client(HTTP_HOST=urlsplit(settings.PUBLIC_BASE_URL).netloc)
        login = f"/sso/{organization.slug}/login/"
        callback = f"/sso/{organization.slug}/oidc/callback/"

        def sign_in(timed: bool) -> float:
            client.cookies.clear()
            started = client.get(login)
            query = {k: v[0] for k, v in parse_qs(urlsplit(started["Location"]).query).items()}
            now = int(time.time())
            claims = {
                "iss": ISSUER,
                "aud": CLIENT_ID,
                "sub": SUBJECT,
                "iat": now,
                "exp": now + 300,
                "nonce": query["nonce"],
                "preferred_username": USERNAME,
            }
            minted["id_token"] = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
            with ExitStack() as timing:
                if timed:
                    timing.enter_context(connection.execute_wrapper(clock.sql))
                began = time.perf_counter()
                response = client.get(callback, {"state": query["state"], "code": "bench"})
                seconds = time.perf_counter() - began
            if response.status_code != 302:
                raise RuntimeError(f"in-process OIDC callback answered {response.status_code}")
            return seconds

        sign_in(timed=False)  # warm: the JWKS cached, the subject linked
        clock.seconds.clear()
        clock.statements = 0
        total = sum(sign_in(timed=True) for _ in range(requests))
    return {
        "requests": requests,
        "mean_ms": round(total / requests * 1000, 2),
        "per_s": round(requests / total, 1),
        "statements_per_request": round(clock.statements / requests, 1),
        "steps_ms": {
            "id_token_validation": round(clock.seconds["validation"] / requests * 1000, 2),
            "database": round(clock.seconds["database"] / requests * 1000, 2),
            "rest": round(
                (total - clock.seconds["validation"] - clock.seconds["database"]) / requests * 1000,
                2,
            ),
        },
    }
