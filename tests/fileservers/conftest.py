"""The file-server adapters (contrib/) run as a file server runs them: their own process,
the system's python3, a config file. The unit tests put a fake Roster in front of them;
the end-to-end tests (tests/fileservers/servers.py) the live Roster, sshd and pure-ftpd.
"""

import json
import os
import pwd
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRIB = ROOT / "contrib"
ADAPTERS = {
    "roster-authorized-keys": CONTRIB / "openssh" / "roster-authorized-keys",
    "roster-pam-password": CONTRIB / "openssh" / "roster-pam-password",
    "roster-sync": CONTRIB / "openssh" / "roster-sync",
    "roster-authd": CONTRIB / "pure-ftpd" / "roster-authd",
}
SYSTEM_PYTHON = "/usr/bin/python3"
TRANSFER_KEY = "rtk_Fake1234.fake-transfer-key-secret-0123456789abcdef"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(**pieces: bool) -> None:
    """Skip without a piece locally; in CI a missing piece fails the test."""
    missing = sorted(name for name, present in pieces.items() if not present)
    if not missing:
        return
    message = f"needs {', '.join(missing)} (.ci/run installs them)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_root() -> None:
    require(root=os.geteuid() == 0)


@dataclass
class Answer:
    status: int = 200
    content_type: str = "application/json"
    body: bytes | str | dict | list = b""
    delay: float = 0.0

    def encoded(self) -> bytes:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes


@dataclass
class FakeRoster:
    """An HTTP server standing in for Roster: answers by path, records every request."""

    answers: dict = field(default_factory=dict)
    seen: list = field(default_factory=list)

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_any(self):
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                fake.seen.append(
                    Seen(
                        self.command,
                        split.path,
                        parse_qs(split.query),
                        dict(self.headers),
                        self.rfile.read(length),
                    )
                )
                answer = fake.answers.get(split.path, Answer(404, "text/plain", "not found"))
                if callable(answer):
                    answer = answer(parse_qs(split.query))
                time.sleep(answer.delay)
                body = answer.encoded()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(body)))
                if answer.status in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_roster():
    fake = FakeRoster()
    fake.start()
    yield fake
    fake.stop()


def write_config(directory: Path, url: str, *, key: str = TRANSFER_KEY, **options) -> Path:
    """A transfer.conf as the README describes, with log_stderr on for the tests."""
    key_file = directory / "transfer.key"
    key_file.write_text(key + "\n")
    lines = ["[roster]", f"url = {url}", f"key_file = {key_file}", "log_stderr = yes"]
    options.setdefault("timeout", "2")
    lines += [f"{name} = {value}" for name, value in options.items()]
    config = directory / "transfer.conf"
    config.write_text("\n".join(lines) + "\n")
    return config


@pytest.fixture
def config(tmp_path, fake_roster):
    return write_config(tmp_path, fake_roster.url, home_root="/srv/sftp/home")


def run_adapter(name: str, *args: str, env: dict | None = None, stdin: bytes = b"", timeout=20):
    """Runs one adapter with the system's python3 and nothing of this virtualenv."""
    require(python3=shutil.which(SYSTEM_PYTHON) is not None)
    return subprocess.run(
        [SYSTEM_PYTHON, str(ADAPTERS[name]), *args],
        input=stdin,
        capture_output=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})},
        timeout=timeout,
        check=False,
    )


def closed_port_url() -> str:
    """An address where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# -- End to end: the live Roster, real sshd and pure-ftpd ------------------------------

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ROSTER_USER = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="session")
def system_nss():
    """NSS with extrausers for the whole run; nsswitch.conf and the extrausers files are
    put back as they were at the end, even when a test fails."""
    from tests.fileservers import servers

    servers.require_servers()
    with servers.nss_extrausers():
        yield


@dataclass
class Site:
    """The live Roster as an identity provider and a file server see it."""

    url: str
    scim: object
    transfer_key: str
    organization: object

    def scim_ok(self, method: str, path: str, body: dict | None = None, *, status: int) -> dict:
        response = self.scim.request(method, path, json=body)
        assert response.status_code == status, response.text
        return response.json() if response.content else {}

    def create_person(self, username: str, keys: list[str]) -> str:
        body = {
            "schemas": [SCIM_USER, ROSTER_USER],
            "userName": username,
            "name": {"givenName": username.split("@")[0].title(), "familyName": "Example"},
            "emails": [{"value": username, "primary": True}],
            "active": True,
            ROSTER_USER: {"sshPublicKeys": [{"value": key} for key in keys]},
        }
        return self.scim_ok("POST", "/scim/v2/Users", body, status=201)["id"]

    def create_group(self, name: str, members: list[str]) -> str:
        body = {
            "schemas": [SCIM_GROUP],
            "displayName": name,
            "members": [{"value": member} for member in members],
        }
        return self.scim_ok("POST", "/scim/v2/Groups", body, status=201)["id"]

    def patch(self, path: str, *operations: dict, status: int) -> None:
        """A SCIM PATCH; Roster answers a user's with 200 and the user, a group's with 204."""
        body = {"schemas": [PATCH_OP], "Operations": list(operations)}
        self.scim_ok("PATCH", f"/scim/v2{path}", body, status=status)

    def set_active(self, user_id: str, active: bool) -> None:
        self.patch(f"/Users/{user_id}", {"op": "replace", "value": {"active": active}}, status=200)


@pytest.fixture
def site(live_server, transactional_db, settings, organization, acme_domain, system_actor):
    """acme, with acme.example verified, file transfer on for everyone, a transfer key
    and a provisioning token, served over HTTP by live_server."""
    import httpx

    from provisioning.services import token_create
    from transfer.models import TransferMode
    from transfer.services import transfer_key_create, transfer_policy_set

    # Every test refuses logins on purpose; the per-name limit has tests of its own.
    settings.TRANSFER_FAILURE_RATE = "100000/5m"
    transfer_policy_set(organization=organization, mode=TransferMode.EVERYONE, actor=system_actor)
    _, transfer_key = transfer_key_create(
        organization=organization, label="sftp-e2e", actor=system_actor
    )
    _, scim_secret = token_create(organization=organization, label="Okta", actor=system_actor)
    headers = {"Authorization": f"Bearer {scim_secret}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=30) as scim:
        yield Site(live_server.url, scim, transfer_key, organization)


@pytest.fixture
def host(system_nss, site):
    from tests.fileservers import servers

    host = servers.Host()
    try:
        host.configure(site.url, site.transfer_key)
        yield host
    finally:
        host.close()


@pytest.fixture
def sshd(host):
    from tests.fileservers import servers

    server = servers.Sshd(host)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def ftpd(host):
    from tests.fileservers import servers

    servers.require_servers(ftp=True)
    server = servers.PureFtpd(host)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def ssh_keypair(directory: Path, name: str) -> tuple[Path, str]:
    """An ed25519 key pair for a client; returns the private key and the public line."""
    private = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", private], check=True
    )
    return private, (directory / f"{name}.pub").read_text().strip()


@dataclass
class Person:
    id: str
    login: str
    key: Path
    public_key: str
    uid: int = 0


@dataclass
class People:
    bob: Person
    ann: Person
    finance: str


@pytest.fixture
def people(site, host, system_actor):
    """Bob (in Finance, granted /Finance write) and Ann, both from SCIM with an SSH key
    each, and one `roster-sync --once`."""
    from accounts.models import Group
    from transfer.services import folder_grant_set

    people = {}
    for login in ("bob@acme.example", "ann@acme.example"):
        key, public_key = ssh_keypair(host.root, login.split("@")[0])
        people[login] = Person(site.create_person(login, [public_key]), login, key, public_key)
    bob, ann = people["bob@acme.example"], people["ann@acme.example"]
    finance = site.create_group("Finance", [bob.id])
    folder_grant_set(
        group=Group.objects.get(pk=finance), path="/Finance", access="write", actor=system_actor
    )
    host.sync_once()
    for person in (bob, ann):
        person.uid = pwd.getpwnam(person.login).pw_uid
    return People(bob, ann, finance)


SSH_OPTIONS = [
    "-F", "/dev/null",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=10",
]  # fmt: skip


def sftp_with_key(port: int, person: Person, commands: str, *, workdir: Path):
    """`sftp -b`: key only, no prompt; exit 1 when a command fails, 255 when refused."""
    batch = workdir / f"batch-{secrets_hex()}"
    batch.write_text(commands)
    return subprocess.run(
        [
            *("sftp", *SSH_OPTIONS, "-b", batch, "-i", person.key, "-P", str(port)),
            *("-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey"),
            *("-o", f"User={person.login}", "127.0.0.1"),
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )


def sftp_with_password(port, login, password, commands, *, workdir, method="password"):
    """sftp with an app password given by SSH_ASKPASS; commands on standard input."""
    askpass = workdir / "askpass"
    askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$ROSTER_TEST_PASSWORD"\n')
    askpass.chmod(0o700)
    return subprocess.run(
        [
            *("sftp", *SSH_OPTIONS, "-P", str(port), "-o", "PubkeyAuthentication=no"),
            *("-o", f"PreferredAuthentications={method}", "-o", "NumberOfPasswordPrompts=1"),
            *("-o", f"User={login}", "127.0.0.1"),
        ],
        input=commands.encode(),
        capture_output=True,
        timeout=30,
        check=False,
        env={
            "PATH": os.environ["PATH"],
            "SSH_ASKPASS": str(askpass),
            "SSH_ASKPASS_REQUIRE": "force",
            "ROSTER_TEST_PASSWORD": password,
        },
    )


def secrets_hex() -> str:
    import secrets

    return secrets.token_hex(4)


def listing(result: subprocess.CompletedProcess) -> list[str]:
    """The names an `ls -1` printed, without sftp's echoed commands."""
    return [
        line.strip()
        for line in result.stdout.decode().splitlines()
        if line.strip() and not line.startswith("sftp>")
    ]
