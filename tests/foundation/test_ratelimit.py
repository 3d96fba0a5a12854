"""Fixed-window rate limits in the shared cache, keyed on the client's real address."""

import pytest
from django.test import RequestFactory

from config.ratelimit import Rate, client_address, hit, peek


@pytest.mark.parametrize(
    ("text", "limit", "window"),
    [("10/5m", 10, 300), ("100/s", 100, 1), ("3/h", 3, 3600), (" 7 / 2d ", 7, 172800)],
)
def test_rate_parse(text, limit, window):
    assert Rate.parse(text) == Rate(limit=limit, window=window)


@pytest.mark.parametrize("text", ["", "10", "10/5", "ten/m", "10/5w", "-1/m", "10/0m"])
def test_rate_parse_refuses_malformed_rates(text):
    with pytest.raises(ValueError, match="COUNT/"):
        Rate.parse(text)


def test_hit_allows_the_limit_then_refuses_until_the_window_ends(monkeypatch):
    monkeypatch.setattr("config.ratelimit.time.time", lambda: 1_000_020)
    rate = Rate(limit=2, window=60)
    verdicts = [hit("scope", "key", rate) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[-1].retry_after == 60 - 1_000_020 % 60
    assert peek("scope", "key", rate)
    assert hit("scope", "other-key", rate).allowed
    assert hit("other-scope", "key", rate).allowed
    monkeypatch.setattr("config.ratelimit.time.time", lambda: 1_000_020 + 60)
    assert hit("scope", "key", rate).allowed
    assert not peek("scope", "key", rate)


def _request(remote="10.0.0.1", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_client_address_is_remote_addr_without_trusted_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(_request(forwarded="198.51.100.7")) == "10.0.0.1"


def test_client_address_behind_one_proxy_is_the_address_it_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The first entry was sent by the client and could say anything.
    request = _request(forwarded="1.2.3.4, 198.51.100.7")
    assert client_address(request) == "198.51.100.7"


def test_client_address_behind_two_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(_request(forwarded="1.2.3.4, 198.51.100.7, 10.1.1.1")) == "198.51.100.7"


def test_client_address_with_fewer_hops_than_proxies_takes_the_first(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(_request(forwarded="198.51.100.7")) == "198.51.100.7"


def test_client_address_without_the_header_falls_back_to_remote_addr(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(_request()) == "10.0.0.1"


def test_console_login_behind_a_load_balancer_limits_each_client_separately(client, db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.CONSOLE_LOGIN_RATE = "2/m"

    def attempt(client_ip, email):
        return client.post(
            "/console/login/",
            {"email": email, "password": "wrong-password-000"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=client_ip,
        )

    for n in range(2):
        assert attempt("198.51.100.7", f"a{n}@acme.example").status_code == 400
    assert attempt("198.51.100.7", "a9@acme.example").status_code == 429
    assert attempt("198.51.100.8", "b@acme.example").status_code == 400
