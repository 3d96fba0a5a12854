"""RFC 7643/7644 conformance, checked by scim2-tester against the live test server.

scim2-tester reads the discovery endpoints, then creates, reads, queries, replaces and
deletes each resource type it finds, over real HTTP with a real provisioning token.
"""

from collections import Counter

import httpx
import pytest
from scim2_client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException
from scim2_models import ResourceType, Schema, ScimProvider
from scim2_tester import Status, check_server

from provisioning.attributes import ROSTER_USER

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

FAILING = {Status.ERROR, Status.CRITICAL}


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client's network engine, over the httpx release this project pins.

    scim2-client ships its engine for the `httpx2` fork; the API it uses is the same.
    """

    def __init__(self, client: httpx.Client, **kwargs):
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        try:
            url = self.client.build_request("GET", endpoint).url
        except httpx.InvalidURL:
            return False
        return (
            url.scheme == base.scheme
            and url.netloc == base.netloc
            and url.raw_path.startswith(base.raw_path)
        )

    def _parse_json(self, response):
        return response.json()

    def request(self, method, url, **kwargs):
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise RequestNetworkException() from exc


@pytest.fixture
def scim_client(live_server, organization, make_scim_token):
    _token, secret = make_scim_token(organization, label="scim2-tester")
    http = httpx.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    with http:
        yield HttpxSCIMClient(http, provider=described_without_roster_extension(http))


def described_without_roster_extension(http: httpx.Client) -> ScimProvider:
    """The server as its discovery endpoints describe it, less Roster's extension.

    scim2-tester fills every attribute with random strings, and sshPublicKeys takes
    OpenSSH public keys only (test_ssh_public_keys.py covers it). The discovery
    endpoints themselves, the extension's schema among them, are still checked.
    """
    schemas = [
        Schema.model_validate(schema)
        for schema in http.get("/Schemas").json()["Resources"]
        if schema["id"] != ROSTER_USER
    ]
    resource_types = []
    for resource_type in http.get("/ResourceTypes").json()["Resources"]:
        extensions = resource_type.get("schemaExtensions", [])
        resource_type["schemaExtensions"] = [e for e in extensions if e["schema"] != ROSTER_USER]
        resource_types.append(ResourceType.model_validate(resource_type))
    return ScimProvider.from_discovery(schemas, resource_types)


def summary(results):
    counts = Counter(result.status.name for result in results)
    lines = [f"scim2-tester: {dict(sorted(counts.items()))}"]
    for result in results:
        if result.status not in (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE):
            where = f"[{result.resource_type}] " if result.resource_type else ""
            lines.append(f"  {result.status.name} {where}{result.title}: {result.reason}")
    return "\n".join(lines)


def test_scim2_tester_finds_no_error_or_critical_result(scim_client):
    results = check_server(scim_client)

    report = summary(results)
    print(report)
    assert results
    assert {r.resource_type for r in results if r.resource_type} >= {"User", "Group"}, report
    assert not [r for r in results if r.status in FAILING], report
