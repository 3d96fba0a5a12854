"""Fixtures for file-transfer access: keys, settings and a client for the decision API."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from transfer.models import CredentialSource, TransferMode
from transfer.services import (
    app_password_create,
    ssh_key_add,
    transfer_key_create,
    transfer_policy_set,
)


def new_public_key(comment: str = "laptop") -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return f"{line} {comment}"


class DecisionClient:
    """POSTs to /transfer/v1/ with a transfer key, as a file server does."""

    def __init__(self, client, secret: str):
        self.client = client
        self.secret = secret

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.secret}"}

    def authenticate(self, username, *, protocol="sftp", ip="203.0.113.7", **credential):
        body = {"username": username, "protocol": protocol, "ip": ip, **credential}
        return self.post("/transfer/v1/authenticate", body)

    def post(self, path, body):
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.client.post(path, raw, content_type="application/json", headers=self.headers())

    def authorized_keys(self, username):
        return self.client.get(
            "/transfer/v1/authorized_keys", {"username": username}, headers=self.headers()
        )


@pytest.fixture
def transfer_on(organization, system_actor):
    return transfer_policy_set(
        organization=organization, mode=TransferMode.EVERYONE, actor=system_actor
    )


@pytest.fixture
def org_key(organization, system_actor):
    return transfer_key_create(organization=organization, label="sftp-1", actor=system_actor)


@pytest.fixture
def platform_key(db, system_actor):
    return transfer_key_create(organization=None, label="fleet", actor=system_actor)


@pytest.fixture
def server(client, org_key):
    """The decision API as the organization's own file server asks it."""
    return DecisionClient(client, org_key[1])


@pytest.fixture
def platform_server(client, platform_key):
    return DecisionClient(client, platform_key[1])


@pytest.fixture
def bob(organization, make_user, acme_domain):
    """bob@acme.example: a verified domain, so his login name is his userName."""
    return make_user(organization, "bob@acme.example", given_name="Bob", family_name="Builder")


@pytest.fixture
def bob_key(bob, system_actor):
    text = new_public_key("bob-laptop")
    key = ssh_key_add(user=bob, public_key=text, source=CredentialSource.IDP, actor=system_actor)
    return key, text


@pytest.fixture
def bob_password(bob, system_actor):
    return app_password_create(
        user=bob, label="FileZilla", source=CredentialSource.PERSONAL, actor=system_actor
    )
