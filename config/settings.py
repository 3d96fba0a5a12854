"""Settings for Roster, read from the environment (see .env.example)."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from config.env import (
    env_bool,
    env_endpoints,
    env_int,
    env_int_list,
    env_list,
    env_rate,
    public_base_url,
    secret_key,
    token_hash_keys,
)

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ

DEBUG = env_bool(ENV, "DEBUG", default=False)
SECRET_KEY = secret_key(ENV, debug=DEBUG)
# Earlier keys, still accepted while rotating SECRET_KEY (sessions, signed cookies, and
# every key accounts/derived_keys.py derives from them).
SECRET_KEY_FALLBACKS = env_list(ENV, "SECRET_KEY_FALLBACKS", [])
# Keys of the provisioning-token and API-key digests, (id, secret), the current one
# first; the id `secret-key` (the default) stands for SECRET_KEY and its fallbacks.
TOKEN_HASH_KEYS = token_hash_keys(ENV)

# The one place the app learns its public address: SCIM meta.location, SAML entity
# IDs and ACS URLs are built from it, never from the request's Host header.
PUBLIC_BASE_URL = public_base_url(ENV, default="http://127.0.0.1:8000")
_public = urlsplit(PUBLIC_BASE_URL)
PUBLIC_IS_HTTPS = _public.scheme == "https"

ALLOWED_HOSTS = env_list(ENV, "ALLOWED_HOSTS", [_public.hostname, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list(ENV, "CSRF_TRUSTED_ORIGINS", [PUBLIC_BASE_URL])

INSTALLED_APPS = [
    # First, so that its createsuperuser replaces django.contrib.auth's.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_scim",
    "provisioning",
    "sso",
    "transfer",
    "console",
]

MIDDLEWARE = [
    "config.middleware.HealthCheckMiddleware",
    "config.middleware.MetricsMiddleware",
    "config.middleware.RequestIdMiddleware",
    "config.middleware.AdminHostsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
]

# The machine-to-machine APIs (a bearer key, no browser) run through these instead
# (config.wsgi.MachineApiHandler); Django's test client runs every request through
# MIDDLEWARE, so the tests that mean this list call config.wsgi.application.
MACHINE_API_PATHS = ["/transfer/v1/"]
MACHINE_API_MIDDLEWARE = [
    "config.middleware.MetricsMiddleware",
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        ENV.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int(ENV, "DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["connect_timeout"] = env_int(ENV, "DB_CONNECT_TIMEOUT", 5)
    # Server-side binding lets psycopg prepare a statement once a connection has run it
    # a few times: PostgreSQL then parses it once per connection instead of per request,
    # which is most of its CPU on the SCIM hot paths (docs/performance.md). Off behind a
    # pooler that cannot hold prepared statements (docs/deployment.md).
    if env_bool(ENV, "DB_PREPARED_STATEMENTS", default=True):
        _options["server_side_binding"] = True
        _options["prepare_threshold"] = env_int(ENV, "DB_PREPARE_THRESHOLD", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rate limits and throttles must be shared by every app instance: Redis when
# configured, otherwise the database (never per-process memory).
REDIS_URL = ENV.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "roster",
            # An unreachable Redis is a quick 503 (config.middleware), never a hung worker.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "roster_cache",
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.backends.OperatorBackend",
    "accounts.backends.ConsoleEmailBackend",
    "sso.backends.SamlBackend",
    "sso.backends.OidcBackend",
]
# Usernames are unique per organization (a database constraint), not globally; the
# backends in accounts.backends look users up with their organization.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"

# Failed password sign-ins (console and /admin/) allowed per account, and per client
# address across accounts (accounts.password_attempts); successful ones are not counted.
CONSOLE_LOGIN_RATE = env_rate(ENV, "CONSOLE_LOGIN_RATE", "10/5m")
CONSOLE_LOGIN_ADDRESS_RATE = env_rate(ENV, "CONSOLE_LOGIN_ADDRESS_RATE", "50/5m")
# The operations admin (/admin/) answers only on these hosts when set (404 elsewhere);
# each must also be in ALLOWED_HOSTS. Empty: every allowed host.
ADMIN_HOSTS = env_list(ENV, "ADMIN_HOSTS", [])
# Posts to the ACS, and logout messages to the SLO endpoint, that nothing attributes to
# an identity provider (not SAML, unsigned, wrongly signed, replayed, for no
# organization), per client address. Valid sign-ins are never counted here: a whole
# office signs in from one NAT address.
SSO_ACS_RATE = env_rate(ENV, "SSO_ACS_RATE", "30/1m")
SSO_SLO_RATE = env_rate(ENV, "SSO_SLO_RATE", "30/1m")
# Signature-checked sign-ins per organization: a circuit breaker against a stolen IdP
# signing key, far above any real office's morning.
SSO_ORGANIZATION_SIGN_IN_RATE = env_rate(ENV, "SSO_ORGANIZATION_SIGN_IN_RATE", "3000/1m")
# /signin/ lookups that find no organization, per client address: past it, every lookup
# from the address waits for the window (organization discovery is not an oracle).
SIGNIN_DISCOVERY_MISS_RATE = env_rate(ENV, "SIGNIN_DISCOVERY_MISS_RATE", "30/1m")
# sso.login_failed rows per organization for responses that never proved their sender
# (bad signature, not SAML, ...); the rest are logged only, so the audit trail cannot
# be flooded. Failures of signed assertions are always recorded.
SSO_UNTRUSTED_FAILURE_AUDIT_RATE = env_rate(ENV, "SSO_UNTRUSTED_FAILURE_AUDIT_RATE", "20/10m")

# SCIM provisioning (/scim/v2/, the provisioning app). django-scim2 is the framework;
# these hooks point it at our adapters, filters and request gate.
SCIM_SERVICE_PROVIDER = {
    "USER_ADAPTER": "provisioning.adapters.ScimUserAdapter",
    "GROUP_ADAPTER": "provisioning.adapters.ScimGroupAdapter",
    "GROUP_MODEL": "accounts.models.Group",
    "USER_FILTER_PARSER": "provisioning.filters.UserFilterQuery",
    "GROUP_FILTER_PARSER": "provisioning.filters.GroupFilterQuery",
    "AUTH_CHECK_MIDDLEWARE": "provisioning.gate.ScimRequestGate",
    "NETLOC": _public.netloc,
    "SCHEME": _public.scheme,
    "AUTHENTICATION_SCHEMES": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token"}],
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
}
# Largest page a list or search returns (RFC 7644 3.4.2.4); advertised as filter.maxResults.
SCIM_MAX_PAGE_SIZE = max(env_int(ENV, "SCIM_MAX_PAGE_SIZE", 200), 100)
# Bounded work per request: operations per PATCH, members per Group body (tooMany above).
SCIM_MAX_OPERATIONS = max(env_int(ENV, "SCIM_MAX_OPERATIONS", 1000), 1)
# Failed authentications allowed per client address, and requests allowed per token.
# Microsoft Entra expects a SCIM endpoint to sustain 25 requests/s per tenant; 3000/1m
# averages 50/s, and a fixed window lets a burst spend the whole minute's allowance.
SCIM_AUTH_FAILURE_RATE = env_rate(ENV, "SCIM_AUTH_FAILURE_RATE", "20/5m")
SCIM_TOKEN_RATE = env_rate(ENV, "SCIM_TOKEN_RATE", "3000/1m")
# Verifies only the provisioning tokens issued before TOKEN_HASH_KEYS existed, when it
# was set then (provisioning/tokens.py); new tokens use TOKEN_HASH_KEYS.
SCIM_TOKEN_HASH_KEY = ENV.get("SCIM_TOKEN_HASH_KEY", "")
SCIM_DOCUMENTATION_URI = ENV.get("SCIM_DOCUMENTATION_URI", "")
# The console's SCIM request log keeps this many days (manage.py purge_scim_requests).
SCIM_LOG_RETENTION_DAYS = max(env_int(ENV, "SCIM_LOG_RETENTION_DAYS", 30), 1)
# A token that used to sync and has sent nothing for this long is reported as silent.
PROVISIONING_SILENT_HOURS = max(env_int(ENV, "PROVISIONING_SILENT_HOURS", 24), 1)

# Credentials the Events API accepts besides organization API keys: file servers follow
# the directory with their transfer keys (docs/transfer.md).
EVENTS_API_EXTRA_AUTHENTICATION = ["transfer.api.TransferKeyAuthentication"]

# File-transfer access (the transfer app, docs/transfer.md).
# The first POSIX id handed out; ids come from one platform-wide sequence above it.
TRANSFER_UID_BASE = env_int(ENV, "TRANSFER_UID_BASE", 200000)
# Refused login decisions per login name, and decisions per transfer key.
TRANSFER_FAILURE_RATE = env_rate(ENV, "TRANSFER_FAILURE_RATE", "10/5m")
TRANSFER_KEY_RATE = env_rate(ENV, "TRANSFER_KEY_RATE", "6000/1m")
# Refusals audited per organization (the sign-in log records every decision).
TRANSFER_REFUSAL_AUDIT_RATE = env_rate(ENV, "TRANSFER_REFUSAL_AUDIT_RATE", "20/10m")
TRANSFER_LOG_RETENTION_DAYS = max(env_int(ENV, "TRANSFER_LOG_RETENTION_DAYS", 30), 1)
# Sign-in log rows that may wait in Redis to be written in batches (transfer.sign_in_log);
# 0 writes each row as its decision is made.
TRANSFER_LOG_BUFFER = max(env_int(ENV, "TRANSFER_LOG_BUFFER", 100000), 0)
# What people are told to connect to: "sftp=sftp.example.com:22,ftps=ftp.example.com:21".
TRANSFER_ENDPOINTS = env_endpoints(ENV, "TRANSFER_ENDPOINTS")
# Where SFTPGo keeps homes and shared folders: the hook answers home_dir as this root
# joined with the person's home, and each granted folder under the folders root
# (docs/sftpgo.md).
TRANSFER_SFTPGO_HOME_ROOT = ENV.get("TRANSFER_SFTPGO_HOME_ROOT") or "/srv/sftpgo/data"
TRANSFER_SFTPGO_FOLDERS_ROOT = ENV.get("TRANSFER_SFTPGO_FOLDERS_ROOT") or "/srv/sftpgo/folders"

SESSION_ENGINE = "accounts.session_store"
# Sessions end after this many seconds without a request.
SESSION_COOKIE_AGE = env_int(ENV, "SESSION_IDLE_SECONDS", 60 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PUBLIC_IS_HTTPS
CSRF_COOKIE_SECURE = PUBLIC_IS_HTTPS
CSRF_COOKIE_HTTPONLY = True

SECURE_SSL_REDIRECT = env_bool(ENV, "SECURE_SSL_REDIRECT", default=PUBLIC_IS_HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int(ENV, "SECURE_HSTS_SECONDS", 31536000 if PUBLIC_IS_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PUBLIC_IS_HTTPS
# Preloading commits the whole registrable domain to https; operators opt in.
SECURE_HSTS_PRELOAD = env_bool(ENV, "SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS.append("security.W021")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# How many proxies (load balancers) sit in front of the app and append to
# X-Forwarded-For; rate limits key on the address the outermost one saw. 0: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int(ENV, "TRUSTED_PROXY_COUNT", 0)
if env_bool(ENV, "TRUST_X_FORWARDED_PROTO", default=False):
    # Only behind a load balancer that sets (and strips client-sent) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int(ENV, "MAX_REQUEST_BYTES", 1024 * 1024)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# SAML single sign-on (sso app).
# Allowance for clock differences with the IdP on assertion validity windows.
SAML_CLOCK_SKEW_SECONDS = env_int(ENV, "SAML_CLOCK_SKEW_SECONDS", 120)
# Largest SAMLResponse form value accepted at the ACS (base64 text).
SAML_MAX_RESPONSE_BYTES = env_int(ENV, "SAML_MAX_RESPONSE_BYTES", 256 * 1024)
# Signed cookie carrying the pending AuthnRequest id to the ACS, and its lifetime.
SAML_PENDING_COOKIE_NAME = "roster_saml_pending"
SAML_PENDING_MAX_AGE_SECONDS = env_int(ENV, "SAML_PENDING_MAX_AGE_SECONDS", 600)
# Fernet key encrypting SP private keys at rest; empty derives one from SECRET_KEY.
SSO_KEY_ENCRYPTION_KEY = ENV.get("SSO_KEY_ENCRYPTION_KEY", "")
# Verified email domains (accounts.domain_verification): how long one TXT lookup may
# take, and how long a verified domain whose record is gone stays verified.
DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS = max(
    env_int(ENV, "DOMAIN_VERIFICATION_DNS_TIMEOUT_SECONDS", 5), 1
)
DOMAIN_RECHECK_GRACE_DAYS = max(env_int(ENV, "DOMAIN_RECHECK_GRACE_DAYS", 7), 1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Counted in the shared cache above, so every app instance sees the same counts.
    "DEFAULT_THROTTLE_RATES": {"api_key": ENV.get("API_KEY_RATE", "1200/min")},
}

# Bearer token a Prometheus scrape of /metrics must send; unset, /metrics answers 404.
METRICS_TOKEN = ENV.get("METRICS_TOKEN", "")

# Directory events (accounts.events): kept this many days, then purged by the worker.
EVENT_RETENTION_DAYS = max(env_int(ENV, "EVENT_RETENTION_DAYS", 90), 1)
# Event writing can be switched off for the outbox-overhead benchmark only.
DIRECTORY_EVENTS_ENABLED = True

# Webhooks. Seconds between attempts, each with ±20 % jitter; the default spans about
# three days (1 + 9 attempts). An endpoint whose deliveries fail for
# WEBHOOK_DISABLE_AFTER_DAYS, or that answers 410, is disabled.
WEBHOOK_RETRY_DELAYS = env_int_list(
    ENV, "WEBHOOK_RETRY_DELAYS", [5, 60, 300, 1800, 7200, 21600, 43200, 86400, 86400]
)
WEBHOOK_DISABLE_AFTER_DAYS = env_int(ENV, "WEBHOOK_DISABLE_AFTER_DAYS", 5)
WEBHOOK_TIMEOUT_SECONDS = env_int(ENV, "WEBHOOK_TIMEOUT_SECONDS", 10)
# After a rotation the previous secrets keep signing this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env_int(ENV, "WEBHOOK_SECRET_OVERLAP_HOURS", 24)
# Local development and tests only: admits http and loopback receivers.
WEBHOOK_ALLOW_LOOPBACK = env_bool(ENV, "WEBHOOK_ALLOW_LOOPBACK", default=False)
# OpenID Connect sign-in (sso.oidc). Local development and tests only: admits http and
# loopback identity providers.
OIDC_ALLOW_LOOPBACK = env_bool(ENV, "OIDC_ALLOW_LOOPBACK", default=False)
# A PEM file of CA certificates that outbound OpenID Connect TLS trusts besides the
# system's (an identity provider behind a private CA); empty, the system's alone.
OIDC_CA_BUNDLE = ENV.get("OIDC_CA_BUNDLE", "")

# The job worker (python manage.py run_worker): procrastinate on the same PostgreSQL.
# SQLite has no queue; docs/events.md says what runs there.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    INSTALLED_APPS.append("procrastinate.contrib.django")
PROCRASTINATE_IMPORT_PATHS = ["accounts.tasks", "provisioning.tasks", "transfer.tasks"]
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""
WORKER_CONCURRENCY = env_int(ENV, "WORKER_CONCURRENCY", 4)
# New jobs, and jobs whose lock was just released, wake a worker at once (LISTEN/NOTIFY,
# accounts migration 0017); a retry that comes due waits for the next poll, one
# indexed query per idle worker.
WORKER_POLL_SECONDS = float(ENV.get("WORKER_POLL_SECONDS") or 1)
WORKER_HEARTBEAT_SECONDS = float(ENV.get("WORKER_HEARTBEAT_SECONDS") or 10)
WORKER_STALLED_SECONDS = float(ENV.get("WORKER_STALLED_SECONDS") or 30)
# On SIGTERM, how long the jobs in hand may take to finish (past the webhook timeout).
WORKER_SHUTDOWN_SECONDS = float(ENV.get("WORKER_SHUTDOWN_SECONDS") or 20)

LOG_FORMAT = ENV.get("LOG_FORMAT", "text" if DEBUG else "json")
LOG_LEVEL = ENV.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "config.logging.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["request_context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}
