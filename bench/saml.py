"""5. SAML ACS: signed responses validated per second per worker, against /readyz.

Responses come from the suite's test identity provider (RSA-SHA256 signed Response
and Assertion, shaped like Okta's), each with a fresh assertion ID because a second
use of one is refused as a replay. They are signed before the clock starts, so the
measurement is the service provider's work: signature and condition checks, the
replay record, the user lookup, the session and the audit event.
"""

import os
from urllib.parse import urlsplit

from bench import load, seed, validation
from bench.scenarios import Budget, ratio, readyz
from bench.server import Server

IDP_ENTITY_ID = "http://www.okta.com/exk1roster0bench0idp"


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


def acs(server: Server, data: seed.Dataset, budget: Budget, workers: int) -> dict:
    from sso.sp import sp_urls

    count = budget.push_operations
    # Signed in one go: configuring the identity provider again would replace the SP
    # keys the server has loaded.
    in_process = budget.samples * 4
    responses = signed_responses(data.main, count + 2 * workers + in_process)
    path = urlsplit(sp_urls(data.main.organization)["acs_url"]).path
    warm = iter(responses[count : count + 2 * workers])
    measured = iter(responses[:count])

    async def post(http, index):
        encoded = next(warm) if index < 0 else next(measured)
        response = await http.post(path, data={"SAMLResponse": encoded})
        return [response.status_code]

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
    sample = load.run(
        base_url=server.base_url,
        name="acs",
        operation=post,
        concurrency=2 * workers,
        operations=count,
        max_seconds=budget.seconds,
        warmup=2 * workers,
    ).require(302)
    return {
        "workers": workers,
        "summary": sample.summary(),
        "readyz": ceiling.summary(),
        "acs_over_readyz": ratio(sample.throughput, ceiling.throughput),
        "target": 0.15,
        "per_worker_per_s": round(sample.throughput / workers, 2),
        # With more workers than cores, a core is the unit that sets the ceiling.
        "per_cpu_per_s": round(sample.throughput / (os.cpu_count() or 1), 2),
        "validation": validation.validation(data.main, responses[-in_process:], budget),
    }
