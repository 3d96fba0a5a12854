"""Settings come from the environment; a production start without a secret is refused.

Each case imports the real settings module in a fresh interpreter with a clean
environment, as a deployment would start it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = """
import json
import django
from django.conf import settings
django.setup()
print(json.dumps({name: getattr(settings, name) for name in %r}))
"""
SECURITY = [
    "DEBUG",
    "PUBLIC_BASE_URL",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
]


def _start(env: dict, code: str) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings(env: dict, names=SECURITY) -> dict:
    result = _start(env, PRINT_SETTINGS % (list(names),))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _start({}, "import django; django.setup()")
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_manage_py_check_refuses_to_start_without_secret_key():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "DEBUG": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "DEBUG=1" in result.stderr


def test_starts_with_debug_and_no_secret_key():
    values = _settings({"DEBUG": "1"}, ["DEBUG", "SECRET_KEY"])
    assert values["DEBUG"] is True
    assert len(values["SECRET_KEY"]) >= 50


def test_uses_the_secret_key_it_is_given():
    values = _settings({"SECRET_KEY": "k" * 60}, ["DEBUG", "SECRET_KEY"])
    assert values == {"DEBUG": False, "SECRET_KEY": "k" * 60}


def test_secret_key_fallbacks_come_from_the_environment_comma_separated():
    values = _settings(
        {"SECRET_KEY": "k" * 60, "SECRET_KEY_FALLBACKS": "o" * 60 + ", " + "p" * 60},
        ["SECRET_KEY_FALLBACKS"],
    )
    assert values == {"SECRET_KEY_FALLBACKS": ["o" * 60, "p" * 60]}
    assert _settings({"SECRET_KEY": "k" * 60}, ["SECRET_KEY_FALLBACKS"]) == {
        "SECRET_KEY_FALLBACKS": []
    }


def test_https_public_base_url_turns_on_secure_cookies_hsts_and_ssl_redirect():
    values = _settings({"SECRET_KEY": "k" * 60, "PUBLIC_BASE_URL": "https://roster.example.com/"})
    assert values["PUBLIC_BASE_URL"] == "https://roster.example.com"
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert "roster.example.com" in values["ALLOWED_HOSTS"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://roster.example.com"]


def test_http_public_base_url_runs_without_https_flags_even_with_debug_off():
    values = _settings({"SECRET_KEY": "k" * 60, "PUBLIC_BASE_URL": "http://127.0.0.1:8123"})
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["CSRF_TRUSTED_ORIGINS"] == ["http://127.0.0.1:8123"]


def test_allowed_hosts_and_csrf_origins_come_from_the_environment():
    values = _settings(
        {
            "SECRET_KEY": "k" * 60,
            "ALLOWED_HOSTS": "a.example, b.example",
            "CSRF_TRUSTED_ORIGINS": "https://a.example",
        }
    )
    assert values["ALLOWED_HOSTS"] == ["a.example", "b.example"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://a.example"]


@pytest.mark.parametrize(
    "url",
    ["roster.example.com", "ftp://roster.example.com", "https://", "https://x.example/app"],
)
def test_malformed_public_base_url_is_refused(url):
    result = _start(
        {"SECRET_KEY": "k" * 60, "PUBLIC_BASE_URL": url}, "import django; django.setup()"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: PUBLIC_BASE_URL must be a scheme and host" in result.stderr


def test_database_url_selects_postgresql_with_health_checked_reuse():
    code = PRINT_SETTINGS.replace(
        "{name: getattr(settings, name) for name in %r}",
        "{k: settings.DATABASES['default'][k] for k in %r}",
    )
    result = _start(
        {"SECRET_KEY": "k" * 60, "DATABASE_URL": "postgres://u:p@db.internal:5432/roster"},
        code % (["ENGINE", "HOST", "NAME", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS"],),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "db.internal",
        "NAME": "roster",
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"connect_timeout": 5, "server_side_binding": True, "prepare_threshold": 5}),
        ("0", {"connect_timeout": 5}),
    ],
)
def test_postgresql_statements_are_prepared_unless_turned_off(value, expected):
    code = PRINT_SETTINGS.replace(
        "{name: getattr(settings, name) for name in %r}", "settings.DATABASES['default'][%r]"
    )
    env = {"SECRET_KEY": "k" * 60, "DATABASE_URL": "postgres://u:p@db.internal:5432/roster"}
    if value is not None:
        env["DB_PREPARED_STATEMENTS"] = value
    result = _start(env, code % ("OPTIONS",))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_production_settings_pass_the_deployment_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "SECRET_KEY": "a-long-random-production-key-" + "z9" * 20,
            "PUBLIC_BASE_URL": "https://roster.example.com",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_malformed_rate_limit_is_refused_at_start():
    result = _start(
        {"SECRET_KEY": "k" * 60, "CONSOLE_LOGIN_RATE": "ten a minute"},
        "import django; django.setup()",
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: CONSOLE_LOGIN_RATE must be COUNT/" in result.stderr


def test_a_wsgi_worker_loads_its_views_before_the_first_request():
    result = _start(
        {"SECRET_KEY": "k" * 60},
        "import sys; import config.wsgi; print('sso.views.saml' in sys.modules)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"
