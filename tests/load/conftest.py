"""Live gunicorn servers on the test database, for concurrency, fault and scale-out tests.

Each server is a real gunicorn master with two workers on a free loopback port,
running the production settings (tests/load/server_settings.py) against the
database pytest-django created, so rows the test commits are the rows it serves.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30
PUBLIC_BASE_URL = "http://roster.test"
DATABASE_CACHE_TABLE = "roster_cache"


def is_postgresql() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


requires_postgresql = pytest.mark.skipif(
    not is_postgresql(),
    reason="needs PostgreSQL (set DATABASE_URL): SQLite cannot serve several "
    "processes writing at once, which is what these tests exercise",
)


def redis_url() -> str:
    """The shared cache for the servers: Redis when it answers, else the database cache."""
    if url := os.environ.get("REDIS_TEST_URL"):
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return "redis://127.0.0.1:6379/15"
    except OSError:
        pass
    return ""


def database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """One gunicorn master; always stopped by the fixture that started it."""

    def __init__(self, *, env: dict, workers: int, log_path: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = dict(
            env,
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=str(workers),
        )
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers = workers

    def wait_ready(self) -> "LiveServer":
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                response = httpx.get(self.base_url + "/readyz", timeout=2)
                if response.status_code == 200 and len(self.worker_pids()) == self.workers:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not become ready in time")

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="session")
def live_env(django_db_setup, django_db_blocker):
    if not is_postgresql():
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    from django.core.management.commands.createcachetable import Command as CreateCacheTable
    from django.db import connection

    # The servers' database cache (used without REDIS_URL). The suite's own settings use
    # an in-process cache, so the migration that creates this table created nothing here.
    with django_db_blocker.unblock():
        command = CreateCacheTable()
        command.verbosity = 0
        command.create_table("default", DATABASE_CACHE_TABLE, dry_run=False)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GUNICORN_", "DJANGO_", "REDIS_", "PYTEST_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.load.server_settings",
        DATABASE_URL=database_url(connection.settings_dict),
        # Tokens and SAML state are keyed with SECRET_KEY: the servers share the suite's.
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="0",
        # Every instance serves one public address, as behind a load balancer: SAML
        # audiences and ACS URLs are the same whichever instance a response reaches.
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        DB_CONNECT_TIMEOUT="2",
        GUNICORN_TIMEOUT="20",
        GUNICORN_GRACEFUL_TIMEOUT="5",
        GUNICORN_MAX_REQUESTS="0",
        GUNICORN_MAX_REQUESTS_JITTER="0",
        LOG_LEVEL="WARNING",
        REDIS_URL=redis_url(),
        # A small failure budget the scale-out test can exhaust; no per-token ceiling
        # for the concurrency tests.
        SCIM_AUTH_FAILURE_RATE="5/h",
        SCIM_TOKEN_RATE="100000/m",
    )
    return env


@pytest.fixture(scope="session")
def start_server(live_env, tmp_path_factory):
    """start_server(workers=2, **env) -> a ready LiveServer; all are stopped at the end."""
    started = []
    log_dir = tmp_path_factory.mktemp("gunicorn")

    def start(workers: int = 2, **env) -> LiveServer:
        server = LiveServer(
            env={**live_env, **env},
            workers=workers,
            log_path=log_dir / f"server-{len(started)}.log",
        )
        started.append(server)
        return server.wait_ready()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def live_server_a(start_server):
    return start_server()


@pytest.fixture(scope="session")
def live_server_b(start_server):
    return start_server()
