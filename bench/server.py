"""Starts and stops gunicorn for a benchmark, and reads its workers' memory."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def collect_static(secret_key: str) -> None:
    """The release step before gunicorn starts (docs/deployment.md): without the manifest
    of hashed files, DEBUG=0 pages that name a static file answer 500."""
    env = dict(os.environ, SECRET_KEY=secret_key, DEBUG="0")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_redis_url(database: int = 14) -> str:
    """Redis on 127.0.0.1:6379 when it answers (the production cache), else ""."""
    if url := os.environ.get("BENCH_REDIS_URL"):
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return f"redis://127.0.0.1:6379/{database}"
    except OSError:
        pass
    return ""


def server_environment(
    *,
    database_url: str,
    secret_key: str,
    port: int,
    workers: int,
    redis_url: str,
    settings_module: str = "config.settings",
) -> dict:
    """The production settings for a benchmark server; `redis_url` "" is the database cache."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GUNICORN_", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        DEBUG="0",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        # Workers are not recycled mid-run: peak RSS must cover the whole run.
        GUNICORN_MAX_REQUESTS="0",
        GUNICORN_MAX_REQUESTS_JITTER="0",
        LOG_LEVEL="WARNING",
        # Rate limits and throttles in the shared cache, as in production; the per-token
        # ceiling is lifted because the benchmark is one token pushing as fast as it can.
        REDIS_URL=redis_url,
        SCIM_TOKEN_RATE="1000000/1m",
        # The sign-in limits stay at their defaults: they never count a valid sign-in,
        # which the ACS benchmark checks against a server with them lifted (bench.saml).
        # The transfer key's is lifted: one file server asking as fast as it can.
        TRANSFER_KEY_RATE="1000000/1m",
        # The webhook benchmark's receiver listens on 127.0.0.1 (docs/events.md).
        WEBHOOK_ALLOW_LOOPBACK="1",
    )
    return env


class Server:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def peak_rss_mib(self) -> dict[int, float]:
        """VmHWM (peak resident set) of each worker since it started, in MiB."""
        peaks = {}
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = round(int(line.split()[1]) / 1024, 1)
        return peaks

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready in time")


@contextmanager
def gunicorn(
    *,
    database_url: str,
    secret_key: str,
    workers: int,
    port: int,
    redis_url: str,
    log_path: Path,
    settings_module: str = "config.settings",
    environment: dict | None = None,
):
    """A gunicorn master with `workers` workers on a loopback port, always stopped;
    `environment` on top of the benchmark's settings."""
    env = server_environment(
        database_url=database_url,
        secret_key=secret_key,
        port=port,
        workers=workers,
        redis_url=redis_url,
        settings_module=settings_module,
    )
    env.update(environment or {})
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port)
    try:
        server.wait_ready()
        yield server
    finally:
        _stop([process], timeout=15)


@contextmanager
def job_worker(
    *,
    database_url: str,
    secret_key: str,
    redis_url: str,
    log_path: Path,
    processes: int = 1,
    concurrency: int | None = None,
    environment: dict | None = None,
):
    """`processes` times `manage.py run_worker`, with the server's settings and
    `environment` on top (such as WEBHOOK_RETRY_DELAYS), `concurrency` jobs at once each
    (WORKER_CONCURRENCY by default); stopped with SIGTERM, their clean stop."""
    env = server_environment(
        database_url=database_url,
        secret_key=secret_key,
        port=0,
        workers=1,
        redis_url=redis_url,
    )
    env.update(environment or {})
    command = [sys.executable, "manage.py", "run_worker"]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    started = []
    try:
        with open(log_path, "ab") as log:
            for _ in range(processes):
                process = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
                )
                started.append(process)
        yield started
    finally:
        _stop(started, timeout=30)


def _stop(processes: list[subprocess.Popen], *, timeout: float) -> None:
    """SIGTERM to all, then up to `timeout` seconds each before SIGKILL."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
