"""In-process SAML: validate_response per second, and where an ACS request's time goes.

Two measurements, in this process, one thread, against the bench organization's
identity provider:

1. `sso.validation.validate_response` on signed responses, in alternating rounds:
   Roster's path (schemas and XPath compiled once, sso/compiled_xml.py, and the
   library's settings object reused) against python3-saml's own path (its validate_xml
   and query, which compile on every call, and a settings object built per response,
   as before that change). Same responses, same checks; the ratio is the speed-up.
2. A whole ACS request (Django's test client: middleware, validation, the replay row,
   the user lookup, the session and the audit event) with the time of each step
   summed by wrapping the functions that do it: parse (base64 and XML parsing),
   schema (XSD validation), signature (xmlsec, both signatures), checks (the rest of
   validate_response: conditions, audience, destination, XPath queries), database
   (every SQL statement, timed at the connection) and the rest of the request.
"""

import statistics
import time
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

from bench import seed
from bench.scenarios import Budget, ratio

ROUNDS = 5


class StepClock:
    """Seconds spent inside wrapped functions, summed by step name."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.statements = 0

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed

    def sql(self, execute, sql, params, many, context):
        self.statements += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds["database"] += time.perf_counter() - started


@contextmanager
def _replaced(owner, name: str, value):
    original = owner.__dict__[name]
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextmanager
def library_path():
    """python3-saml's own validate_xml and query, which compile on every call."""
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    from sso import compiled_xml

    with ExitStack() as stack:
        for name, function in (
            ("validate_xml", compiled_xml.LIBRARY_VALIDATE_XML),
            ("query", compiled_xml.LIBRARY_QUERY),
        ):
            stack.enter_context(_replaced(OneLogin_Saml2_XML, name, staticmethod(function)))
        yield


def _inputs(tenant: seed.Tenant) -> dict:
    from django.conf import settings
    from django.urls import reverse

    from sso.selectors import enabled_idp_of, sp_keys_of
    from sso.sp import build_saml_settings, sp_urls

    organization = tenant.organization
    idp = enabled_idp_of(organization)
    public = urlsplit(settings.PUBLIC_BASE_URL)
    return {
        "saml_settings": build_saml_settings(
            organization=organization, idp=idp, keys=sp_keys_of(organization)
        ),
        "request_data": {
            "https": "on" if public.scheme == "https" else "off",
            "http_host": public.netloc,
            "script_name": reverse("sso:acs", args=[organization.slug]),
            "get_data": {},
            "post_data": {},
        },
        "urls": sp_urls(organization),
        "pending_request_id": "",
        "allow_unsolicited": idp.allow_idp_initiated,
        "skew_seconds": settings.SAML_CLOCK_SKEW_SECONDS,
    }


def _validate_all(inputs: dict, responses: list[str], *, library: bool) -> float:
    """Responses validated per second."""
    from sso import validation

    started = time.perf_counter()
    for encoded in responses:
        if library:
            validation._LIBRARY_SETTINGS.clear()  # built per response, as before the cache
        validation.validate_response(encoded_response=encoded, **inputs)
    return len(responses) / (time.perf_counter() - started)


def validate_rates(tenant: seed.Tenant, responses: list[str]) -> dict:
    inputs = _inputs(tenant)
    rates = {"compiled": [], "library": []}
    _validate_all(inputs, responses[:5], library=False)  # compile once, outside the clock
    for round_number in range(ROUNDS):
        for path in ("library", "compiled") if round_number % 2 else ("compiled", "library"):
            if path == "library":
                with library_path():
                    rates[path].append(_validate_all(inputs, responses, library=True))
            else:
                rates[path].append(_validate_all(inputs, responses, library=False))
    medians = {path: statistics.median(values) for path, values in rates.items()}
    return {
        "responses_per_round": len(responses),
        "rounds": ROUNDS,
        "per_s": {path: [round(v, 1) for v in values] for path, values in rates.items()},
        "median_per_s": {path: round(value, 1) for path, value in medians.items()},
        "median_ms": {path: round(1000 / value, 2) for path, value in medians.items()},
        "compiled_over_library": ratio(medians["compiled"], medians["library"]),
        "target": 2.0,
    }


def acs_steps(tenant: seed.Tenant, responses: list[str]) -> dict:
    """Mean milliseconds per ACS request, by step, over `responses` (each consumed)."""
    from django.db import connection
    from django.test import Client
    from onelogin.saml2.utils import OneLogin_Saml2_Utils
    from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

    from sso import validation
    from sso.sp import sp_urls
    from sso.views import saml as views

    path = urlsplit(sp_urls(tenant.organization)["acs_url"]).path
    client = Client(HTTP_HOST=urlsplit(views.settings.PUBLIC_BASE_URL).netloc)
    clock = StepClock()
    wrapped = [
        (validation, "_parse", "parse"),
        (views, "validate_response", "validate"),
    ]
    with ExitStack() as stack:
        for owner, name, step in wrapped:
            stack.enter_context(_replaced(owner, name, clock.wrap(step, owner.__dict__[name])))
        for owner, name, step in (
            (OneLogin_Saml2_XML, "validate_xml", "schema"),
            (OneLogin_Saml2_Utils, "validate_sign", "signature"),
        ):
            timed = staticmethod(clock.wrap(step, getattr(owner, name)))
            stack.enter_context(_replaced(owner, name, timed))
        client.post(path, {"SAMLResponse": responses[0]})  # warm, outside the clock
        clock.seconds.clear()
        clock.statements = 0
        stack.enter_context(connection.execute_wrapper(clock.sql))
        started = time.perf_counter()
        for encoded in responses[1:]:
            response = client.post(path, {"SAMLResponse": encoded})
            if response.status_code != 302:
                raise RuntimeError(f"in-process ACS answered {response.status_code}")
            client.cookies.clear()
        total = time.perf_counter() - started
    count = len(responses) - 1
    seconds = dict(clock.seconds)
    steps = {
        "parse": seconds["parse"],
        "schema": seconds["schema"],
        "signature": seconds["signature"],
        "checks": seconds["validate"] - seconds["parse"] - seconds["schema"] - seconds["signature"],
        "database": seconds["database"],
    }
    steps["rest"] = total - seconds["validate"] - seconds["database"]
    return {
        "requests": count,
        "mean_ms": round(total / count * 1000, 2),
        "per_s": round(count / total, 1),
        "statements_per_request": round(clock.statements / count, 1),
        "steps_ms": {name: round(value / count * 1000, 2) for name, value in steps.items()},
    }


def validation(tenant: seed.Tenant, responses: list[str], budget: Budget) -> dict:
    from bench import oidc

    half = len(responses) // 2
    acs = acs_steps(tenant, responses[half:])
    callback = oidc.callback_in_process(acs["requests"])
    return {
        "validate_response": validate_rates(tenant, responses[:half]),
        "acs_in_process": acs,
        # OpenID Connect's callback, Roster's part, against the same ACS cost: at most 1.
        "oidc_callback_in_process": callback,
        "oidc_callback_over_acs": ratio(callback["mean_ms"], acs["mean_ms"]),
        "oidc_callback_over_acs_target": 1.0,
    }
