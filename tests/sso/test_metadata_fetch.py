"""Fetching IdP metadata by URL: pinned to the checked public address, capped, no redirects."""

import contextlib
import socket

import pytest

from sso import metadata
from sso.errors import MetadataError
from sso.metadata import fetch_idp_metadata

DOCUMENTATION_IP = "203.0.113.10"  # TEST-NET-3 (RFC 5737): reserved, not global.
GLOBAL_IP = "8.8.8.8"


class FakeResponse:
    def __init__(self, status_code=200, chunks=(b"<md/>",), redirect=False):
        self.status_code = status_code
        self.is_redirect = redirect
        self._chunks = chunks

    def iter_bytes(self):
        yield from self._chunks


@pytest.fixture
def resolve(monkeypatch):
    def to(*addresses):
        def getaddrinfo(host, port, type=0):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

        monkeypatch.setattr(metadata.socket, "getaddrinfo", getaddrinfo)

    return to


@pytest.fixture
def serve(monkeypatch):
    calls = []

    def to(response):
        @contextlib.contextmanager
        def stream(method, url, **kwargs):
            calls.append({"method": method, "url": url, **kwargs})
            yield response

        monkeypatch.setattr(metadata.httpx, "stream", stream)
        return calls

    return to


def test_fetch_connects_to_the_checked_address_with_the_real_host_name(resolve, serve):
    resolve(GLOBAL_IP)
    calls = serve(FakeResponse(chunks=(b"<md:", b"EntityDescriptor/>")))

    body = fetch_idp_metadata("https://acme.okta.example/app/exk1/sso/saml/metadata")

    assert body == b"<md:EntityDescriptor/>"
    (call,) = calls
    assert call["url"] == f"https://{GLOBAL_IP}:443/app/exk1/sso/saml/metadata"
    assert call["headers"]["Host"] == "acme.okta.example"
    assert call["extensions"] == {"sni_hostname": "acme.okta.example"}
    assert call["follow_redirects"] is False
    assert call["timeout"] == metadata.FETCH_TIMEOUT_SECONDS


def test_a_name_resolving_to_any_private_address_is_refused(resolve, serve):
    resolve(GLOBAL_IP, "10.0.0.7")
    calls = serve(FakeResponse())
    with pytest.raises(MetadataError, match="private"):
        fetch_idp_metadata("https://idp.example/metadata")
    assert calls == []


def test_documentation_addresses_are_refused(resolve):
    resolve(DOCUMENTATION_IP)
    with pytest.raises(MetadataError, match="private"):
        fetch_idp_metadata("https://idp.example/metadata")


def test_redirects_are_not_followed(resolve, serve):
    resolve(GLOBAL_IP)
    serve(FakeResponse(status_code=302, redirect=True))
    with pytest.raises(MetadataError, match="redirects"):
        fetch_idp_metadata("https://idp.example/metadata")


def test_error_status_is_reported(resolve, serve):
    resolve(GLOBAL_IP)
    serve(FakeResponse(status_code=404))
    with pytest.raises(MetadataError, match="HTTP 404"):
        fetch_idp_metadata("https://idp.example/metadata")


def test_body_over_the_cap_is_refused(resolve, serve):
    resolve(GLOBAL_IP)
    chunk = b"x" * (256 * 1024)
    serve(FakeResponse(chunks=[chunk] * 5))
    with pytest.raises(MetadataError, match="larger than 1 MiB"):
        fetch_idp_metadata("https://idp.example/metadata")


def test_unresolvable_host_is_reported(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror("no such host")

    monkeypatch.setattr(metadata.socket, "getaddrinfo", fail)
    with pytest.raises(MetadataError, match="cannot be resolved"):
        fetch_idp_metadata("https://nowhere.invalid/metadata")
