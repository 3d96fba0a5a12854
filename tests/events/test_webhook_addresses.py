"""Where webhooks may go, with a stubbed resolver: no test here sends real traffic."""

import ssl

import httpx
import pytest

from accounts.errors import InvalidValue
from accounts.events.webhooks import addresses, sender
from accounts.events.webhooks.addresses import RefusedTarget, check_target


@pytest.fixture
def dns(monkeypatch):
    """Names resolve from this table only."""
    table = {}

    def resolve(hostname):
        return table.get(hostname, [])

    monkeypatch.setattr(addresses, "resolve_addresses", resolve)
    return table


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no request may leave for a refused target")

    monkeypatch.setattr(sender.httpx, "Client", refuse)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.5/hook", "a private address"),
        ("https://192.168.1.20/hook", "a private address"),
        ("https://127.0.0.1/hook", "a loopback address"),
        ("https://[::1]/hook", "a loopback address"),
        ("https://[::ffff:127.0.0.1]/hook", "a loopback address"),
        ("https://169.254.10.1/hook", "a link-local address"),
        ("https://169.254.169.254/latest/meta-data", "the cloud metadata address"),
        ("https://[fd00:ec2::254]/hook", "the cloud metadata address"),
        ("https://224.0.0.1/hook", "a multicast address"),
        ("https://100.64.0.1/hook", "a reserved address"),
    ],
)
def test_non_public_addresses_are_refused(dns, url, reason):
    with pytest.raises(RefusedTarget, match=reason):
        check_target(url)


def test_a_name_that_resolves_to_a_private_address_is_refused(dns):
    dns["hooks.internal.example"] = ["10.1.2.3"]
    with pytest.raises(RefusedTarget, match=r"hooks.internal.example resolves to a private"):
        check_target("https://hooks.internal.example/in")


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns):
    dns["mixed.example"] = ["93.184.216.34", "10.0.0.1"]
    with pytest.raises(RefusedTarget, match="a private address"):
        check_target("https://mixed.example/")


def test_a_public_name_is_pinned_to_the_checked_address(dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    target = check_target("https://hooks.example.com:8443/in?x=1")
    assert target.pinned_url == "https://93.184.216.34:8443/in?x=1"
    assert (target.hostname, target.host_header) == ("hooks.example.com", "hooks.example.com:8443")


def test_http_is_refused(dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    with pytest.raises(RefusedTarget, match="https only"):
        check_target("http://hooks.example.com/in")


def test_loopback_setting_admits_http_to_loopback_only(dns, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    assert check_target("http://127.0.0.1:9000/hook").pinned_url == "http://127.0.0.1:9000/hook"
    for url in ("https://10.0.0.5/", "https://169.254.169.254/"):
        with pytest.raises(RefusedTarget):
            check_target(url)
    dns["hooks.example.com"] = ["93.184.216.34"]
    with pytest.raises(RefusedTarget, match="https only"):
        check_target("http://hooks.example.com/in")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "https:///nohost", "https://u:p@example.com/"]
)
def test_malformed_urls_are_refused(dns, url):
    with pytest.raises(RefusedTarget):
        check_target(url)


def test_a_name_that_does_not_resolve_is_refused(dns):
    with pytest.raises(RefusedTarget, match="does not resolve"):
        check_target("https://nowhere.example/")


def test_the_address_is_checked_again_at_send_time(dns, no_network):
    dns["hooks.example.com"] = ["93.184.216.34"]
    check_target("https://hooks.example.com/in")  # what registration saw
    dns["hooks.example.com"] = ["10.0.0.7"]  # and what the name points at now
    outcome = sender.post("https://hooks.example.com/in", body=b"{}", headers={})
    assert outcome.status_code is None
    assert outcome.error == "Refused: hooks.example.com resolves to a private address (10.0.0.7)."


@pytest.mark.django_db
def test_registration_refuses_a_private_target(dns, organization, system_actor):
    from accounts.services.integrations import webhook_endpoint_create

    dns["intranet.example"] = ["192.168.0.10"]
    with pytest.raises(InvalidValue, match="a private address"):
        webhook_endpoint_create(
            organization=organization, url="https://intranet.example/hook", actor=system_actor
        )


def test_deliveries_share_one_tls_context_that_verifies_certificates(dns, monkeypatch):
    # Loading the CA bundle per delivery capped a worker at a few deliveries a second;
    # the context is built once, and it still checks the certificate and the host name.
    dns["hooks.example.com"] = ["93.184.216.34"]
    contexts = []

    class NoSend:
        def __init__(self, **options):
            contexts.append(options["verify"])
            assert options["follow_redirects"] is False and options["trust_env"] is False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def stream(self, *args, **kwargs):
            raise httpx.ConnectError("no traffic leaves in tests")

    monkeypatch.setattr(sender.httpx, "Client", NoSend)
    for _ in range(2):
        outcome = sender.post("https://hooks.example.com/in", body=b"{}", headers={})
        assert outcome.error == "ConnectError: no traffic leaves in tests"

    first, second = contexts
    assert first is second
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
