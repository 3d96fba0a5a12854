"""Real file servers for the end-to-end tests: sshd and pure-ftpd on loopback ports with
their own configuration, run from the very files contrib/ ships, and the system files
they need (nsswitch, extrausers, one PAM service) restored afterwards, even on failure.
"""

import contextlib
import datetime
import grp
import ipaddress
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.fileservers.conftest import ADAPTERS, CONTRIB, require

NSSWITCH = Path("/etc/nsswitch.conf")
EXTRAUSERS = Path("/var/lib/extrausers")
EXTRAUSERS_LIBRARY = (
    "/usr/lib/libnss_extrausers.so.2",
    "/lib/x86_64-linux-gnu/libnss_extrausers.so.2",
)
NSS_DATABASES = ("passwd", "group", "shadow")
# What the adapters run as where the docs say a dedicated account (roster-keys).
COMMAND_USER = "nobody"
STARTUP_SECONDS = 10


def require_servers(*, ftp: bool = False) -> None:
    pieces = {
        "root": os.geteuid() == 0,
        "sshd (openssh-server)": shutil.which("sshd", path="/usr/sbin:/usr/bin") is not None,
        "sftp (openssh-client)": shutil.which("sftp") is not None,
        "ssh-keygen (openssh-client)": shutil.which("ssh-keygen") is not None,
        "libnss-extrausers": any(Path(p).exists() for p in EXTRAUSERS_LIBRARY),
    }
    if ftp:
        pieces["pure-ftpd"] = shutil.which("pure-ftpd", path="/usr/sbin:/usr/bin") is not None
        pieces["pure-authd (pure-ftpd)"] = (
            shutil.which("pure-authd", path="/usr/sbin:/usr/bin") is not None
        )
    require(**pieces)


@contextlib.contextmanager
def restored(*paths: Path):
    """Puts each file back as it was (or removes it, if it did not exist) on the way out."""
    saved = {path: path.read_bytes() if path.exists() else None for path in paths}
    modes = {path: path.stat() for path in paths if path.exists()}
    try:
        yield
    finally:
        for path, content in saved.items():
            if content is None:
                path.unlink(missing_ok=True)
                continue
            path.write_bytes(content)
            os.chmod(path, modes[path].st_mode & 0o7777)
            os.chown(path, modes[path].st_uid, modes[path].st_gid)


def with_extrausers(nsswitch: str) -> str:
    """nsswitch.conf with `extrausers` after the other sources of passwd, group, shadow."""
    lines = []
    for line in nsswitch.splitlines():
        database = line.split(":", 1)[0].strip()
        if database in NSS_DATABASES and "extrausers" not in line.split("#")[0]:
            line = line.split("#")[0].rstrip() + " extrausers"
        lines.append(line)
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def nss_extrausers():
    """NSS reads /var/lib/extrausers while the tests run; everything is restored after."""
    files = [NSSWITCH, *(EXTRAUSERS / name for name in NSS_DATABASES)]
    with restored(*files):
        EXTRAUSERS.mkdir(mode=0o755, exist_ok=True)
        NSSWITCH.write_text(with_extrausers(NSSWITCH.read_text()))
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Host:
    """A file server's layout in a scratch directory under /run: the adapters (root-owned,
    as sshd demands of an AuthorizedKeysCommand), transfer.conf and its key (readable by
    the command user's group), homes, folders and roster-sync's state."""

    def __init__(self):
        self.name = f"roster-test-{secrets.token_hex(4)}"
        self.root = Path("/run") / self.name
        self.root.mkdir(mode=0o755)
        os.chmod(self.root, 0o755)
        self.bin = self.root / "bin"
        self.bin.mkdir(mode=0o755)
        for name, source in ADAPTERS.items():
            shutil.copy(source, self.bin / name)
            os.chmod(self.bin / name, 0o755)
        self.config = self.root / "transfer.conf"
        self.key_file = self.root / "transfer.key"
        self.home_root = self.root / "home"
        self.folders_root = self.root / "folders"
        self.state_dir = self.root / "state"
        self.processes: list[subprocess.Popen] = []

    def configure(self, url: str, key: str, **options) -> None:
        """transfer.conf and the key file: root:<command user's group>, mode 0640."""
        group = grp.getgrnam("nogroup").gr_gid
        self.key_file.write_text(key + "\n")
        settings = {
            "url": url,
            "key_file": self.key_file,
            "timeout": 3,
            "home_root": self.home_root,
            "folders_root": self.folders_root,
            "state_dir": self.state_dir,
            "poll_seconds": 0.5,
            "log_stderr": "yes",
            **options,
        }
        self.config.write_text(
            "[roster]\n" + "".join(f"{name} = {value}\n" for name, value in settings.items())
        )
        for path in (self.config, self.key_file):
            os.chown(path, 0, group)
            os.chmod(path, 0o640)

    def sync_once(self) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self.bin / "roster-sync", "--config", self.config, "--once"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result

    def follow(self) -> subprocess.Popen:
        """roster-sync following Roster's events until the test ends."""
        log = open(self.root / "roster-sync.log", "ab")  # noqa: SIM115 - the process owns it
        process = subprocess.Popen(
            [self.bin / "roster-sync", "--config", self.config], stdout=log, stderr=log
        )
        log.close()
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            stop(process)
        # Shown by pytest when the test failed.
        for log in sorted(self.root.glob("**/*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")
        shutil.rmtree(self.root, ignore_errors=True)


class Sshd:
    """sshd from contrib/openssh/sshd_config.example and pam.d-roster-sftp.

    sshd names its PAM service after the program it runs as, so it runs from a link
    named after the host: the PAM service is /etc/pam.d/<that name>, removed on stop.
    """

    def __init__(self, host: Host):
        self.host = host
        self.port = free_port()
        self.dir = host.root / "sshd"
        self.dir.mkdir(mode=0o700)
        self.pam_service = Path("/etc/pam.d") / host.name
        self.log = self.dir / "sshd.log"

    def _adapted(self, text: str) -> str:
        return (
            text.replace("/usr/local/libexec/", f"{self.host.bin}/")
            .replace("/etc/roster/transfer.conf", str(self.host.config))
            .replace("/etc/ssh/ssh_host_ed25519_key", str(self.dir / "host_ed25519_key"))
            .replace(
                "AuthorizedKeysCommandUser roster-keys", f"AuthorizedKeysCommandUser {COMMAND_USER}"
            )
        )

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.dir / "host_ed25519_key"],
            check=True,
        )
        config = self.dir / "sshd_config"
        example = (CONTRIB / "openssh/sshd_config.example").read_text()
        # Port is a list in sshd: `-o Port=` would listen on 22 as well, so it is replaced.
        config.write_text(self._adapted(example).replace("\nPort 22\n", f"\nPort {self.port}\n"))
        self.pam_service.write_text(
            self._adapted((CONTRIB / "openssh/pam.d-roster-sftp").read_text())
        )
        program = self.dir / self.host.name
        program.symlink_to(shutil.which("sshd", path="/usr/sbin:/usr/bin"))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    *(program, "-D", "-e", "-f", config, "-o", "ListenAddress=127.0.0.1"),
                    *("-o", f"PidFile={self.dir / 'sshd.pid'}"),
                ],
                stdout=log,
                stderr=log,
            )
        wait_for_port(self.port, self.process, self.log)

    def stop(self) -> None:
        try:
            stop(self.process)
        finally:
            self.pam_service.unlink(missing_ok=True)


def self_signed_pem(path: Path) -> None:
    """A certificate and its key in one file, as pure-ftpd's --certfile takes them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    os.chmod(path, 0o600)


def exec_start(unit: str) -> list[str]:
    """The command line of a systemd unit contrib/pure-ftpd ships."""
    for line in (CONTRIB / "pure-ftpd" / unit).read_text().splitlines():
        if line.startswith("ExecStart="):
            return shlex.split(line.removeprefix("ExecStart="))
    raise ValueError(f"{unit} has no ExecStart")


def replaced(argv: list[str], **values) -> list[str]:
    """argv with the value after each `--option` named in values replaced."""
    argv = list(argv)
    for option, value in values.items():
        argv[argv.index(f"--{option}") + 1] = str(value)
    return argv


class PureFtpd:
    """pure-authd running roster-authd, and pure-ftpd asking it, as the units ship them."""

    def __init__(self, host: Host):
        self.host = host
        self.port = free_port()
        self.dir = host.root / "pure-ftpd"
        self.dir.mkdir(mode=0o700)
        self.log = self.dir / "pure-ftpd.log"

    def start(self) -> None:
        socket_path = self.dir / "authd.sock"
        certificate = self.dir / "pure-ftpd.pem"
        self_signed_pem(certificate)
        authd = replaced(
            exec_start("pure-authd-roster.service"),
            socket=socket_path,
            run=self.host.bin / "roster-authd",
        )
        ftpd = replaced(
            exec_start("pure-ftpd-roster.service"),
            bind=f"127.0.0.1,{self.port}",
            login=f"extauth:{socket_path}",
            certfile=certificate,
        )
        with open(self.log, "ab") as log:
            self.authd = subprocess.Popen(
                authd,
                stdout=log,
                stderr=log,
                env={"PATH": os.environ["PATH"], "ROSTER_TRANSFER_CONF": str(self.host.config)},
            )
            deadline = time.monotonic() + STARTUP_SECONDS
            while not socket_path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.ftpd = subprocess.Popen(ftpd, stdout=log, stderr=log)
        wait_for_port(self.port, self.ftpd, self.log)

    def stop(self) -> None:
        for process in (self.ftpd, self.authd):
            with contextlib.suppress(AttributeError):
                stop(process)


def processes_of(uid: int) -> list[int]:
    """Live processes running as uid (an open SFTP session's sshd child, for one); not
    zombies, which a container's init may never reap."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.stat(f"/proc/{name}").st_uid == uid and state != "Z":
                    found.append(int(name))
    return found


def kill_all(uid: int) -> None:
    for pid in processes_of(uid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
