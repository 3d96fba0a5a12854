"""5. SAML ACS: signed responses validated per second per worker.

Responses come from the suite's test identity provider (RSA-SHA256 signed Response
and Assertion, shaped like Okta's), each with a fresh assertion ID because a second
use of one is refused as a replay. They are signed before the clock starts, so the
measurement is the service provider's work: signature and condition checks, the
replay record, the user lookup, the session and the audit event.
"""

import os
from urllib.parse import urlsplit

from bench import load, seed
from bench.scenarios import Budget
from bench.server import Server

IDP_ENTITY_ID = "http://www.okta.com/exk1roster0bench0idp"


def _configure(organization):
    from sso.models import SpKeyPair
    from sso.services import idp_configure
    from tests.sso.idp import TestIdentityProvider

    # Each run has its own SECRET_KEY, under which SP private keys are encrypted; the
    # bench organization's keys from an earlier run are dropped and made afresh on
    # first use, as for a newly configured organization.
    SpKeyPair.objects.filter(organization=organization).delete()

    idp = TestIdentityProvider(entity_id=IDP_ENTITY_ID, common_name="bench-okta")
    idp_configure(
        organization=organization,
        actor=seed.ACTOR,
        entity_id=idp.entity_id,
        sso_url=idp.sso_url,
        slo_url=idp.slo_url,
        certificates=[idp.certificate_pem],
        allow_idp_initiated=True,
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
    responses = signed_responses(data.main, count + 2 * workers)
    path = urlsplit(sp_urls(data.main.organization)["acs_url"]).path
    warm = iter(responses[count:])
    measured = iter(responses[:count])

    async def post(http, index):
        encoded = next(warm) if index < 0 else next(measured)
        response = await http.post(path, data={"SAMLResponse": encoded})
        return [response.status_code]

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
        "per_worker_per_s": round(sample.throughput / workers, 2),
        # With more workers than cores, a core is the unit that sets the ceiling.
        "per_cpu_per_s": round(sample.throughput / (os.cpu_count() or 1), 2),
    }
