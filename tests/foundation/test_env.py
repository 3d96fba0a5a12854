"""The small readers that turn environment variables into settings."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_int,
    env_list,
    env_rate,
    public_base_url,
    secret_key,
    token_hash_keys,
)


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", " yes ", "on"])
def test_env_bool_reads_true(raw):
    assert env_bool({"FLAG": raw}, "FLAG") is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", ""])
def test_env_bool_reads_false(raw):
    assert env_bool({"FLAG": raw}, "FLAG", default=True) is False


def test_env_bool_uses_the_default_when_unset():
    assert env_bool({}, "FLAG", default=True) is True
    assert env_bool({}, "FLAG") is False


def test_env_bool_refuses_anything_else_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean"):
        env_bool({"FLAG": "maybe"}, "FLAG")


def test_env_int_reads_whole_numbers_and_defaults_when_unset_or_blank():
    assert env_int({"N": "42"}, "N", 1) == 42
    assert env_int({}, "N", 7) == 7
    assert env_int({"N": "  "}, "N", 7) == 7


@pytest.mark.parametrize("raw", ["4.5", "ten", "1e3"])
def test_env_int_refuses_non_integers(raw):
    with pytest.raises(ImproperlyConfigured, match="N must be a whole number"):
        env_int({"N": raw}, "N", 1)


def test_env_list_splits_on_commas_and_drops_blanks():
    assert env_list({"L": " a.example , b.example,, "}, "L", ["x"]) == ["a.example", "b.example"]
    assert env_list({}, "L", ["x"]) == ["x"]
    assert env_list({"L": ""}, "L", ["x"]) == []


def test_secret_key_is_required_without_debug():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set"):
        secret_key({}, debug=False)
    assert secret_key({"SECRET_KEY": "s" * 50}, debug=False) == "s" * 50
    assert secret_key({}, debug=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://roster.example.com", "https://roster.example.com"),
        ("https://roster.example.com/", "https://roster.example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_public_base_url_accepts_a_scheme_and_host(raw, expected):
    assert public_base_url({"PUBLIC_BASE_URL": raw}, default="http://x") == expected


def test_public_base_url_defaults_when_unset():
    assert public_base_url({}, default="http://127.0.0.1:8000") == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    "raw",
    [
        "roster.example.com",
        "ftp://roster.example.com",
        "https://",
        "https://roster.example.com/base",
        "https://roster.example.com?x=1",
        "https://roster.example.com#top",
        "https://:8000",
    ],
)
def test_public_base_url_refuses_anything_but_scheme_and_host(raw):
    with pytest.raises(ImproperlyConfigured, match="PUBLIC_BASE_URL must be a scheme and host"):
        public_base_url({"PUBLIC_BASE_URL": raw}, default="http://x")


def test_public_base_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ImproperlyConfigured) as refused:
        public_base_url({"PUBLIC_BASE_URL": "https://user:s3cret@roster.example.com"}, default="")
    assert "s3cret" not in str(refused.value)


def test_env_rate_accepts_a_rate_and_defaults_when_unset():
    assert env_rate({"R": " 5/10m "}, "R", "10/5m") == "5/10m"
    assert env_rate({}, "R", "10/5m") == "10/5m"


@pytest.mark.parametrize("raw", ["10", "10 per minute", "10/0m", "10/5w"])
def test_env_rate_refuses_a_malformed_rate_at_start(raw):
    with pytest.raises(ImproperlyConfigured, match="R must be COUNT/"):
        env_rate({"R": raw}, "R", "10/5m")


def test_token_hash_keys_default_to_the_secret_key():
    assert token_hash_keys({}) == [("secret-key", None)]
    assert token_hash_keys({"TOKEN_HASH_KEYS": " "}) == [("secret-key", None)]


def test_token_hash_keys_are_id_secret_pairs_current_first():
    raw = f"k2:{'b' * 50}, secret-key ,k1:{'a' * 50}"
    assert token_hash_keys({"TOKEN_HASH_KEYS": raw}) == [
        ("k2", "b" * 50),
        ("secret-key", None),
        ("k1", "a" * 50),
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (f"K1:{'a' * 50}", "lower-case letters"),
        (f"_legacy:{'a' * 50}", "lower-case letters"),
        (f":{'a' * 50}", "lower-case letters"),
        ("k1:short-secret", "at least 50 characters"),
        ("k1", "at least 50 characters"),
        (f"k1:{'a' * 50},k1:{'b' * 50}", "twice"),
        (f"secret-key:{'a' * 50}", "takes no secret"),
    ],
)
def test_malformed_token_hash_keys_are_refused_without_echoing_a_secret(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message) as refused:
        token_hash_keys({"TOKEN_HASH_KEYS": raw})
    assert "a" * 50 not in str(refused.value)
    assert "short-secret" not in str(refused.value)
