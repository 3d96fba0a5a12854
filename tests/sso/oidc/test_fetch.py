"""Requests to a provider: limits against a real server on 127.0.0.1, refusals with no traffic."""

import base64
import datetime as dt
import gzip
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sso.errors import LoginRefused, OidcConfigurationError, ProviderUnavailable
from sso.oidc import fetch
from tests.sso.oidc.conftest import Answer, json_answer


def test_a_json_object_is_read(provider):
    provider.routes["/doc"] = json_answer({"issuer": "x", "list": [1, 2]})
    assert fetch.get_json(provider.url + "/doc") == {"issuer": "x", "list": [1, 2]}
    headers = provider.requests[0]["headers"]
    assert headers["Host"] == provider.url.removeprefix("http://")
    assert headers["Accept-Encoding"] == "identity"


def test_a_body_over_1_mib_is_refused(provider):
    provider.routes["/big"] = Answer(body=b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
    with pytest.raises(LoginRefused) as refused:
        fetch.get_json(provider.url + "/big")
    assert refused.value.reason == "response_too_large"
    assert refused.value.detail == "127.0.0.1 answered more than 1 MiB."


def test_a_body_over_1_mib_without_a_length_is_cut_off_while_streaming(provider, monkeypatch):
    monkeypatch.setattr(fetch, "MAX_RESPONSE_BYTES", 64)
    # drip: no Content-Length, the body arrives byte by byte.
    provider.routes["/big"] = Answer(body=b'{"a": "' + b"x" * 200 + b'"}', drip=0.001)
    with pytest.raises(LoginRefused) as refused:
        fetch.get_json(provider.url + "/big")
    assert refused.value.reason == "response_too_large"


def test_a_body_of_exactly_1_mib_is_read(provider):
    filler = b"x" * (1024 * 1024 - len(b'{"a": ""}'))
    provider.routes["/edge"] = Answer(body=b'{"a": "' + filler + b'"}')
    assert len(fetch.get_json(provider.url + "/edge")["a"]) == len(filler)


def test_1_mib_of_open_brackets_is_refused_quickly(provider):
    provider.routes["/deep"] = Answer(body=b"[" * (1024 * 1024))
    started = time.monotonic()
    with pytest.raises(LoginRefused) as refused:
        fetch.get_json(provider.url + "/deep")
    assert refused.value.reason == "json_too_deep"
    assert time.monotonic() - started < 2


def test_nesting_is_allowed_to_32_levels_and_refused_at_33(provider):
    provider.routes["/32"] = Answer(body=b'{"a":' + b"[" * 31 + b"]" * 31 + b"}")
    provider.routes["/33"] = Answer(body=b'{"a":' + b"[" * 32 + b"]" * 32 + b"}")
    assert fetch.get_json(provider.url + "/32")["a"] == [
        [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
    ]
    with pytest.raises(LoginRefused) as refused:
        fetch.get_json(provider.url + "/33")
    assert refused.value.reason == "json_too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting(provider):
    text = "[" * 100 + '\\"{{{'
    provider.routes["/strings"] = json_answer({"name": text})
    assert fetch.get_json(provider.url + "/strings") == {"name": text}


@pytest.mark.parametrize(
    "body",
    [b"<html>502 Bad Gateway</html>", b"[1, 2]", b'"text"', b"", b'{"a": NaN}', b"\xff\xfe{}"],
)
def test_a_body_that_is_not_a_json_object_is_refused(provider, body):
    provider.routes["/x"] = Answer(body=body)
    with pytest.raises(LoginRefused) as refused:
        fetch.get_json(provider.url + "/x")
    assert refused.value.reason == "not_json"
    assert refused.value.detail == "127.0.0.1 did not answer a JSON object."


def test_a_compressed_body_is_refused(provider):
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    provider.routes["/gz"] = Answer(body=gzip.compress(b"{}"), headers=headers)
    with pytest.raises(LoginRefused) as refused:
        fetch.get_json(provider.url + "/gz")
    assert refused.value.reason == "not_json"


def test_a_5xx_answer_is_provider_unavailable(provider):
    provider.routes["/down"] = Answer(status=503, body=b"<html>maintenance</html>")
    with pytest.raises(ProviderUnavailable) as unavailable:
        fetch.get_json(provider.url + "/down")
    assert unavailable.value.reason == "provider_5xx"
    assert unavailable.value.detail == "127.0.0.1 answered HTTP 503."


def test_a_5xx_from_the_token_endpoint_is_provider_unavailable(provider):
    provider.routes["/token"] = Answer(status=502, body=b"bad gateway")
    with pytest.raises(ProviderUnavailable) as unavailable:
        fetch.post_form(provider.url + "/token", {"code": "secret-code"})
    assert unavailable.value.reason == "provider_5xx"
    assert "secret-code" not in str(unavailable.value.detail)


def test_a_provider_that_does_not_answer_in_time_is_unreachable(provider, monkeypatch):
    monkeypatch.setattr(fetch, "TOTAL_TIMEOUT_SECONDS", 0.5)
    provider.routes["/slow"] = Answer(delay=3)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as unavailable:
        fetch.get_json(provider.url + "/slow")
    assert unavailable.value.reason == "provider_unreachable"
    assert unavailable.value.detail == "127.0.0.1 did not answer within 0.5 seconds."
    assert time.monotonic() - started < 1.5


def test_the_deadline_covers_the_whole_body_not_each_read(provider, monkeypatch):
    # Each byte comes well within any per-read timeout; the body as a whole does not.
    monkeypatch.setattr(fetch, "TOTAL_TIMEOUT_SECONDS", 0.5)
    provider.routes["/drip"] = Answer(body=b'{"a": "' + b"x" * 100 + b'"}', drip=0.05)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as unavailable:
        fetch.get_json(provider.url + "/drip")
    assert unavailable.value.reason == "provider_unreachable"
    assert time.monotonic() - started < 1.5


def test_a_closed_port_is_unreachable(loopback):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:
        port = server.server_address[1]
    with pytest.raises(ProviderUnavailable) as unavailable:
        fetch.get_json(f"http://127.0.0.1:{port}/x")
    assert unavailable.value.reason == "provider_unreachable"
    assert unavailable.value.detail == "127.0.0.1 could not be reached (ConnectError)."


def test_redirects_are_not_followed(provider):
    moved = {"Location": provider.url + "/elsewhere"}
    provider.routes["/moved"] = Answer(status=302, body=b"", headers=moved)
    provider.routes["/elsewhere"] = json_answer({"followed": True})
    with pytest.raises(LoginRefused) as refused:
        fetch.get_json(provider.url + "/moved")
    assert refused.value.reason == "provider_error"
    assert refused.value.detail == "127.0.0.1 answered HTTP 302, a redirect, which is not followed."
    assert provider.hits("/elsewhere") == 0


def test_a_token_endpoint_redirect_is_not_followed(provider):
    provider.routes["/token"] = Answer(status=307, body=b"", headers={"Location": "/other"})
    with pytest.raises(LoginRefused) as refused:
        fetch.post_form(provider.url + "/token", {"code": "c"})
    assert refused.value.reason == "provider_error"
    assert provider.hits("/other") == 0


def test_post_form_returns_an_oauth_error_with_its_status(provider):
    provider.routes["/token"] = json_answer({"error": "invalid_client"}, status=401)
    assert fetch.post_form(provider.url + "/token", {"a": "1"}) == (
        401,
        {"error": "invalid_client"},
    )


def test_basic_auth_form_encodes_the_client_id_and_secret_first(provider):
    # RFC 6749 §2.3.1: "a:b" and "p%w d" are form-urlencoded, then joined with ":".
    provider.routes["/token"] = json_answer({"ok": True})
    fetch.post_form(provider.url + "/token", {"grant_type": "x y"}, basic_auth=("a:b", "p%w d"))
    sent = provider.requests[0]
    credentials = base64.b64decode(sent["headers"]["Authorization"].removeprefix("Basic "))
    assert credentials == b"a%3Ab:p%25w+d"
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent["body"].decode()) == {"grant_type": ["x y"]}


class TestAddresses:
    """The address guard, for OpenID Connect: no refused URL sends anything."""

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("http://127.0.0.1:8080/x", "127.0.0.1 resolves to a loopback address (127.0.0.1)."),
            ("https://127.0.0.1/x", "127.0.0.1 resolves to a loopback address (127.0.0.1)."),
            (
                "https://169.254.169.254/latest/meta-data",
                "169.254.169.254 resolves to the cloud metadata address (169.254.169.254).",
            ),
            ("https://10.0.0.1/x", "10.0.0.1 resolves to a private address (10.0.0.1)."),
            (
                "ftp://idp.example.com/x",
                "An OpenID Connect request URL is an https:// address with a host name.",
            ),
            (
                "https://u:p@idp.example.com/x",
                "An OpenID Connect request URL must not carry credentials.",
            ),
        ],
    )
    def test_unsafe_urls_are_refused_without_the_switch(self, dns, no_network, url, message):
        with pytest.raises(LoginRefused) as refused:
            fetch.get_json(url)
        assert (refused.value.reason, refused.value.detail) == ("unsafe_url", message)
        with pytest.raises(OidcConfigurationError) as refused:
            fetch.check_url(url)
        assert str(refused.value) == message

    def test_a_name_resolving_to_a_private_address_is_refused(self, dns, no_network):
        dns["idp.internal.example"] = ["93.184.216.34", "10.2.3.4"]
        with pytest.raises(LoginRefused) as refused:
            fetch.post_form("https://idp.internal.example/token", {"code": "c"})
        assert refused.value.reason == "unsafe_url"
        assert (
            refused.value.detail == "idp.internal.example resolves to a private address (10.2.3.4)."
        )

    def test_the_switch_admits_loopback_and_nothing_else(self, loopback, dns, no_network):
        fetch.check_url("http://127.0.0.1:9000/x")
        fetch.check_url("https://[::1]:9000/x")
        dns["idp.example.com"] = ["93.184.216.34"]
        for url, message in [
            ("https://10.0.0.1/x", "10.0.0.1 resolves to a private address (10.0.0.1)."),
            (
                "https://169.254.169.254/",
                "169.254.169.254 resolves to the cloud metadata address (169.254.169.254).",
            ),
            ("http://idp.example.com/x", "OpenID Connect requests are sent over https only."),
        ]:
            with pytest.raises(OidcConfigurationError) as refused:
                fetch.check_url(url)
            assert str(refused.value) == message

    def test_check_url_resolves_but_connects_nowhere(self, dns, no_network):
        dns["idp.example.com"] = ["93.184.216.34"]
        fetch.check_url("https://idp.example.com/.well-known/openid-configuration")

    def test_the_request_goes_to_the_checked_address_under_the_real_name(self, dns, monkeypatch):
        dns["idp.example.com"] = ["93.184.216.34"]
        calls = []

        class NoSend:
            def __init__(self, **options):
                calls.append(("client", options))

            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            def stream(self, method, url, **kwargs):
                calls.append(("stream", method, url, kwargs))
                raise httpx.ConnectError("no traffic leaves in tests")

        monkeypatch.setattr(fetch.httpx, "AsyncClient", NoSend)
        with pytest.raises(ProviderUnavailable) as unavailable:
            fetch.get_json("https://idp.example.com:8443/jwks?x=1")
        assert unavailable.value.detail == "idp.example.com could not be reached (ConnectError)."
        (_, options), (_, method, url, kwargs) = calls
        assert (options["follow_redirects"], options["trust_env"]) == (False, False)
        assert options["verify"].verify_mode == ssl.CERT_REQUIRED
        assert options["verify"].check_hostname is True
        assert (method, url) == ("GET", "https://93.184.216.34:8443/jwks?x=1")
        assert kwargs["headers"]["Host"] == "idp.example.com:8443"
        assert kwargs["extensions"] == {"sni_hostname": "idp.example.com"}


def _certificate(subject_key, name, issuer_name, signing_key, *, ca=False, san=None):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture
def private_ca_server(tmp_path, dns, settings):
    """An https provider on 127.0.0.1 whose certificate, for idp.test, a private CA signed."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(ca_key, "Test CA", "Test CA", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(server_key, "idp.test", "Test CA", ca_key, san="idp.test")
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(
        server_cert.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"host": self.headers["Host"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    settings.OIDC_ALLOW_LOOPBACK = True
    settings.OIDC_CA_BUNDLE = str(tmp_path / "ca.pem")
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_tls_to_the_pinned_address_checks_the_certificate_against_the_host_name(
    private_ca_server, dns
):
    port = private_ca_server
    dns["idp.test"] = ["127.0.0.1"]
    assert fetch.get_json(f"https://idp.test:{port}/x") == {"host": f"idp.test:{port}"}
    # The same server under a name its certificate does not carry: refused.
    dns["other.test"] = ["127.0.0.1"]
    with pytest.raises(ProviderUnavailable) as unavailable:
        fetch.get_json(f"https://other.test:{port}/x")
    assert unavailable.value.detail == "other.test could not be reached (ConnectError)."


def test_without_the_bundle_the_private_ca_is_not_trusted(private_ca_server, dns, settings):
    settings.OIDC_CA_BUNDLE = ""
    dns["idp.test"] = ["127.0.0.1"]
    with pytest.raises(ProviderUnavailable) as unavailable:
        fetch.get_json(f"https://idp.test:{private_ca_server}/x")
    assert unavailable.value.reason == "provider_unreachable"


def test_the_tls_context_is_built_once_per_bundle(private_ca_server, settings):
    assert fetch._tls_context(settings.OIDC_CA_BUNDLE) is fetch._tls_context(
        settings.OIDC_CA_BUNDLE
    )
    assert fetch._tls_context("") is not fetch._tls_context(settings.OIDC_CA_BUNDLE)


def test_an_unreadable_bundle_is_a_configuration_error(provider, settings, tmp_path):
    settings.OIDC_CA_BUNDLE = str(tmp_path / "missing.pem")
    with pytest.raises(OidcConfigurationError) as refused:
        fetch.get_json(provider.url + "/x")
    assert str(refused.value) == (
        f"OIDC_CA_BUNDLE ({tmp_path / 'missing.pem'}) is not a readable PEM file of certificates."
    )
