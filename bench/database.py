"""The benchmark's PostgreSQL database: created, migrated, and Django set up against it."""

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.server import ROOT

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/roster_bench"


def resolve_url(explicit: str | None) -> str:
    url = explicit or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"The benchmark needs PostgreSQL; got {urlsplit(url).scheme!r}.")
    return url


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def ensure_exists(url: str) -> None:
    parts = urlsplit(url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    name = database_name(url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrate(url: str, secret_key: str) -> None:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=secret_key, DEBUG="0")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def setup_django(url: str, secret_key: str, public_base_url: str) -> None:
    # The same public address as the server: SAML audiences and ACS URLs derive from it.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=url,
        SECRET_KEY=secret_key,
        PUBLIC_BASE_URL=public_base_url,
        SECURE_SSL_REDIRECT="0",
        DEBUG="0",
        LOG_LEVEL="WARNING",
        # As on the servers (bench/server.py): the sign-in limits at their defaults,
        # and the webhook receiver listens on 127.0.0.1.
        WEBHOOK_ALLOW_LOOPBACK="1",
    )
    import django

    django.setup()


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]
