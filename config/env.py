"""Small pure readers for settings taken from the environment."""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}
# COUNT/[N]UNIT, e.g. 10/5m; config.ratelimit.Rate parses the same text.
RATE_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*([1-9]\d*)?\s*([smhd])\s*$")


def env_bool(environ, name: str, default: bool = False) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}.")


def env_int(environ, name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}.") from None


def env_list(environ, name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(environ, name: str, default: list[int]) -> list[int]:
    """Comma-separated whole numbers, such as WEBHOOK_RETRY_DELAYS=5,60,300."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return [int(item) for item in raw.split(",") if item.strip()]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be comma-separated whole numbers, got {raw!r}."
        ) from None


def env_rate(environ, name: str, default: str) -> str:
    """A rate limit such as 10/5m, checked at start rather than on the first request."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not RATE_PATTERN.match(raw):
        raise ImproperlyConfigured(
            f"{name} must be COUNT/[N]UNIT with a unit of s, m, h or d (e.g. 10/5m), got {raw!r}."
        )
    return raw.strip()


ENDPOINT_PATTERN = re.compile(r"^(sftp|scp|ftps|webdav)=([A-Za-z0-9.-]+):(\d{1,5})$")


def env_endpoints(environ, name: str) -> list[tuple[str, str, int]]:
    """`sftp=sftp.example.com:22,ftps=ftp.example.com:21` as (protocol, host, port)."""
    endpoints = []
    for entry in env_list(environ, name, []):
        match = ENDPOINT_PATTERN.match(entry)
        if not match or not 0 < int(match.group(3)) < 65536:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated protocol=host:port with a protocol of "
                f"sftp, scp, ftps or webdav (e.g. sftp=sftp.example.com:22), got {entry!r}."
            )
        endpoints.append((match.group(1), match.group(2), int(match.group(3))))
    return endpoints


def secret_key(environ, *, debug: bool) -> str:
    key = environ.get("SECRET_KEY", "")
    if key:
        return key
    if debug:
        return "insecure-development-key-only-valid-with-DEBUG-1-" + "x" * 20
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY to a long random value "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
        "or set DEBUG=1 for a local development run."
    )


def public_base_url(environ, *, default: str) -> str:
    url = environ.get("PUBLIC_BASE_URL", default).rstrip("/")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # Never echo credentials into an error message or a log.
        raise ImproperlyConfigured("PUBLIC_BASE_URL must not contain a user name or password.")
    extra = parts.path or parts.query or parts.fragment or "?" in url or "#" in url
    if parts.scheme not in ("http", "https") or not parts.hostname or extra:
        raise ImproperlyConfigured(
            f"PUBLIC_BASE_URL must be a scheme and host such as https://roster.example.com, "
            f"got {url!r}."
        )
    return url


# TOKEN_HASH_KEYS entry standing for SECRET_KEY and SECRET_KEY_FALLBACKS (no secret of its own).
SECRET_KEY_HASH_KEY_ID = "secret-key"
HASH_KEY_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# As NetBox asks of its API token peppers.
HASH_KEY_MIN_LENGTH = 50


def token_hash_keys(environ) -> list[tuple[str, str | None]]:
    """TOKEN_HASH_KEYS=`id:secret,id:secret,...`, the current key first.

    A bare `secret-key` entry stands for SECRET_KEY (and its fallbacks); unset, it is the
    only key. Every error names the id, never a secret.
    """
    raw = environ.get("TOKEN_HASH_KEYS", "")
    if not raw.strip():
        return [(SECRET_KEY_HASH_KEY_ID, None)]
    keys: list[tuple[str, str | None]] = []
    for entry in (item.strip() for item in raw.split(",")):
        if not entry:
            continue
        key_id, separator, secret = entry.partition(":")
        key_id = key_id.strip()
        if not HASH_KEY_ID_PATTERN.match(key_id):
            raise ImproperlyConfigured(
                "TOKEN_HASH_KEYS entries are id:secret, the id of lower-case letters, digits "
                "and hyphens (at most 32)."
            )
        if any(key_id == known for known, _ in keys):
            raise ImproperlyConfigured(f"TOKEN_HASH_KEYS names the key id {key_id!r} twice.")
        if key_id == SECRET_KEY_HASH_KEY_ID:
            if separator:
                raise ImproperlyConfigured(
                    f"TOKEN_HASH_KEYS: {key_id!r} stands for SECRET_KEY and takes no secret."
                )
            keys.append((key_id, None))
            continue
        if len(secret) < HASH_KEY_MIN_LENGTH:
            raise ImproperlyConfigured(
                f"TOKEN_HASH_KEYS: the secret of key {key_id!r} must be at least "
                f"{HASH_KEY_MIN_LENGTH} characters (python -c 'import secrets; "
                "print(secrets.token_urlsafe(50))')."
            )
        keys.append((key_id, secret))
    if not keys:
        return [(SECRET_KEY_HASH_KEY_ID, None)]
    return keys
