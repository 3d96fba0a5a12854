"""5. SAML ACS: signed responses validated per second per worker, against /readyz.

Responses come from the suite's test identity provider (RSA-SHA256 signed Response
and Assertion, shaped like Okta's), each with a fresh assertion ID because a second
use of one is refused as a replay. They are signed before the clock starts, so the
measurement is the service provider's work: signature and condition checks, the
replay record, the user lookup, the session and the audit event.

The benchmark server keeps the default sign-in limits; the same sign-ins against a
second server with the limits lifted show that they cost a valid sign-in nothing.
"""

import os
from contextlib import AbstractContextManager
from urllib.parse import urlsplit

from bench import load, seed, validation
from bench.scenarios import Budget, ratio, readyz
from bench.server import Server

IDP_ENTITY_ID = "http://www.okta.com/exk1roster0bench0idp"
# The comparison server's sign-in limits (docs/configuration.md, "Rate limits").
LIFTED_LIMITS = {
    "SSO_ACS_RATE": "1000000/1m",
    "SSO_ORGANIZATION_SIGN_IN_RATE": "1000000/1m",
}
# Throughput with the default limits ÷ with them lifted, from one address (±10 %),
# medians of this many rounds of each, taken in turns.
DEFAULT_OVER_LIFTED_TARGET = (0.9, 1.1)
COMPARISON_ROUNDS = 3


def _configure(organization):
    from sso.models import SpKeyPair
    from sso.services import idp_configure, sp_keys_ensure
    from tests.sso.idp import TestIdentityProvider

    # Each run has its own SECRET_KEY, under which SP private keys are encrypted; the
    # bench organization's keys from an earlier run are dropped and made afresh, as
    # for a newly configured organization.
    SpKeyPair.objects.filter(organization=organization).delete()
    sp_keys_ensure(organization=organization, actor=seed.ACTOR)

    idp = TestIdentityProvider(entity_id=IDP_ENTITY_ID, common_name="bench-okta")
    idp_configure(
        organization=organization,
        actor=seed.ACTOR,
        entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        slo_url=idp.slo_url,
        certificates=[idp.certificate_pem],
        allow_idp_initiated=True,
        enabled=True,
    )
    return idp


def signed_responses(tenant: seed.Tenant, count: int) -> list[str]:
    from sso.sp import sp_urls
    from tests.sso.idp import Assertion

    idp = _configure(tenant.organization)
    urls = sp_urls(tenant.organization)
    slug = tenant.organization.slug
    return [
        idp.encode(
            idp.response(
                Assertion(
                    name_id=seed.username(slug, index % tenant.users),
                    audience=urls["entity_id"],
                    recipient=urls["acs_url"],
                    destination=urls["acs_url"],
                )
            )
        )
        for index in range(count)
    ]


def _acs_sample(server: Server, path: str, responses: list[str], budget: Budget, workers: int):
    """Signed responses posted at twice the workers in flight; every one must sign in (302).
    The first twice-the-workers warm the workers up and are not measured."""
    warm = iter(responses[: 2 * workers])
    measured = iter(responses[2 * workers :])

    async def post(http, index):
        encoded = next(warm) if index < 0 else next(measured)
        response = await http.post(path, data={"SAMLResponse": encoded})
        return [response.status_code]

    return load.run(
        base_url=server.base_url,
        name="acs",
        operation=post,
        concurrency=2 * workers,
        operations=len(responses) - 2 * workers,
        max_seconds=budget.seconds,
        warmup=2 * workers,
    ).require(302)


def _median(samples: list):
    """The sample with the median throughput."""
    return sorted(samples, key=lambda one: one.throughput)[len(samples) // 2]


def acs(
    server: Server,
    data: seed.Dataset,
    budget: Budget,
    workers: int,
    *,
    lifted: AbstractContextManager[Server],
) -> dict:
    """`server` runs with the default sign-in limits; `lifted` starts the same server
    with them lifted. Every sign-in comes from 127.0.0.1, like an office behind one
    address: the limits never count a valid sign-in, so both rates must agree."""
    from sso.sp import sp_urls

    count = budget.push_operations
    per_run = count + 2 * workers
    # Signed in one go: configuring the identity provider again would replace the SP
    # keys the servers have loaded.
    in_process = budget.samples * 4
    responses = signed_responses(data.main, 2 * COMPARISON_ROUNDS * per_run + in_process)
    batches = iter(responses[i : i + per_run] for i in range(0, len(responses), per_run))
    path = urlsplit(sp_urls(data.main.organization)["acs_url"]).path

    # The ceiling in the same run, at the same concurrency, just before.
    ceiling = load.run(
        base_url=server.base_url,
        name="readyz",
        operation=readyz,
        concurrency=2 * workers,
        operations=budget.baseline_operations,
        max_seconds=budget.seconds,
        warmup=4,
    ).require(200)
    # Default and lifted in turns, so that the machine's drift falls on both alike.
    samples, lifted_samples = [], []
    with lifted as without_limits:
        for _ in range(COMPARISON_ROUNDS):
            samples.append(_acs_sample(server, path, next(batches), budget, workers))
            lifted_samples.append(_acs_sample(without_limits, path, next(batches), budget, workers))
    sample = _median(samples)
    lifted_sample = _median(lifted_samples)
    return {
        "workers": workers,
        "summary": sample.summary(),
        "readyz": ceiling.summary(),
        "acs_over_readyz": ratio(sample.throughput, ceiling.throughput),
        "target": 0.15,
        "per_worker_per_s": round(sample.throughput / workers, 2),
        # With more workers than cores, a core is the unit that sets the ceiling.
        "per_cpu_per_s": round(sample.throughput / (os.cpu_count() or 1), 2),
        "limits_lifted": lifted_sample.summary(),
        "rounds_per_s": {
            "default": [round(one.throughput, 1) for one in samples],
            "lifted": [round(one.throughput, 1) for one in lifted_samples],
        },
        "default_over_lifted": ratio(sample.throughput, lifted_sample.throughput),
        "default_over_lifted_target": DEFAULT_OVER_LIFTED_TARGET,
        "validation": validation.validation(data.main, responses[-in_process:], budget),
    }
