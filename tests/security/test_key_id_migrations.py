"""The key-id migrations keep every token and API key made before them working."""

import hashlib
import hmac

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from accounts.derived_keys import derive_key

BEFORE = [("accounts", "0012_rate_limit_counters"), ("provisioning", "0002_scim_request_log")]
SCIM_SECRET = "oldtok01." + "s" * 43
API_SECRET = "rk_oldkey01." + "a" * 43


def _hmac(key: bytes, secret: str) -> str:
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scim_token_hash_key", ["", "a-scim-token-hash-key-of-before"])
def test_credentials_made_before_key_ids_work_after_the_migrations(settings, scim_token_hash_key):
    settings.SCIM_TOKEN_HASH_KEY = scim_token_hash_key
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    organization = old.get_model("accounts", "Organization").objects.create(
        slug="acme", name="Acme Inc."
    )
    # The digests as they were made before: provisioning tokens under
    # SCIM_TOKEN_HASH_KEY as is, or a SHA-256 of SECRET_KEY; API keys under HKDF.
    scim_key = (
        scim_token_hash_key.encode()
        or hashlib.sha256(
            b"roster.provisioning-token-digest:" + settings.SECRET_KEY.encode()
        ).digest()
    )
    old.get_model("provisioning", "ProvisioningToken").objects.create(
        organization=organization,
        prefix="oldtok01",
        digest=_hmac(scim_key, SCIM_SECRET),
    )
    old.get_model("accounts", "ApiKey").objects.create(
        organization=organization,
        label="File service",
        prefix="oldkey01",
        digest=_hmac(derive_key("roster.api-key-digest.v1"), API_SECRET),
    )

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    client = Client()
    scim = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {SCIM_SECRET}"})
    api = client.get("/api/v1/events", headers={"Authorization": f"Bearer {API_SECRET}"})
    assert (scim.status_code, api.status_code) == (200, 200)
