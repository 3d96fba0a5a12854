"""SFTPGo's external authentication hook (`POST /transfer/v1/sftpgo/auth`, docs/sftpgo.md):
the body SFTPGo posts becomes the `Attempt` every file server's login becomes, and an
allowed answer becomes the SFTPGo user that SFTPGo creates or updates and logs in.

The contract, from SFTPGo's docs/external-auth.md and internal/dataprovider
(`getExternalAuthResponse`, `doExternalAuth`):

- SFTPGo POSTs `username`, `ip`, `protocol` (`SSH`, `FTP`, `DAV` or `HTTP`), `password`,
  `public_key`, `keyboard_interactive` and `tls_cert`, all strings, empty when unused, and
  `user`, the SFTPGo user it already holds: absent when it has none, a JSON string in
  older releases, an object in newer ones. Roster reads nothing from `user`.
- `public_key` is what `ssh.MarshalAuthorizedKey` writes: `type base64` and a newline.
- HTTP 200 with a user JSON allows the login and saves that user; HTTP 200 with an empty
  `username` refuses it, and so does any other status.
- SFTPGo adds the presented password or key to the user it saves, and checks login
  conditions (`status`, `permissions`) itself.
"""

import hashlib
import ipaddress
import posixpath

from transfer import decisions, ssh_keys
from transfer.models import Access, Protocol

# SFTPGo's protocol names (dataprovider.ValidProtocols): SSH covers SFTP, SCP and SSH
# commands; HTTP is its web client and REST API, which serve files like WebDAV.
PROTOCOLS = {
    "SSH": Protocol.SFTP,
    "FTP": Protocol.FTPS,
    "DAV": Protocol.WEBDAV,
    "HTTP": Protocol.WEBDAV,
}
TEXT_FIELDS = (
    "username",
    "ip",
    "protocol",
    "password",
    "public_key",
    "keyboard_interactive",
    "tls_cert",
)
MAX_FIELD_CHARS = ssh_keys.MAX_LINE_BYTES

# SFTPGo's permission names (dataprovider.ValidPerms). Never "*": it carries chmod and
# chown, which change real modes and owners on the shared disk, create_symlinks, and
# whatever a later SFTPGo release adds to "*".
READ = ["list", "download"]
WRITE = [*READ, "upload", "overwrite", "delete", "rename", "create_dirs", "chtimes"]
# Public share links would keep serving files after Roster stops allowing the person.
WEB_CLIENT_LIMITS = ["shares-disabled"]
LOCAL_FILESYSTEM = {"provider": 0}
FOLDER_NAME_DIGEST_CHARS = 16


class InvalidHookBody(ValueError):
    """A body SFTPGo does not send; the message names the field, never its value."""


def _text(body: dict, name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidHookBody(f"{name} must be a string.")
    if len(value) > MAX_FIELD_CHARS or "\x00" in value:
        raise InvalidHookBody(f"{name} is too long or holds a NUL character.")
    return value


def _ip(value: str) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise InvalidHookBody("ip is not an IP address.") from None


def _login(username: str) -> decisions.LoginName:
    login = decisions.parse_login(username)
    if login is None:
        raise InvalidHookBody("username is not a login name.")
    # The home is the home root joined with the login name: one path segment, always.
    if "/" in login.username_key:
        raise InvalidHookBody("username cannot name a home directory.")
    return login


def attempt_from(body: dict) -> decisions.Attempt:
    """The login attempt a hook body describes; InvalidHookBody names what is wrong.

    Roster issues app passwords and SSH keys, nothing else. A keyboard-interactive call
    carries only the username (SFTPGo runs its own prompts after the hook answers), and a
    TLS certificate is no credential of Roster's: both become an attempt with an empty
    password, refused as a wrong credential through the same decision, log and audit.
    """
    fields = {name: _text(body, name) for name in TEXT_FIELDS}
    if not isinstance(body.get("user"), (str, dict, type(None))):
        raise InvalidHookBody("user must be an object, a string or null.")
    login = _login(fields["username"])
    protocol = PROTOCOLS.get(fields["protocol"])
    if protocol is None:
        raise InvalidHookBody(f"protocol must be one of {', '.join(PROTOCOLS)}.")
    ip = _ip(fields["ip"])
    if fields["password"]:
        return decisions.Attempt(login=login, protocol=protocol, ip=ip, password=fields["password"])
    if fields["public_key"]:
        return decisions.Attempt(
            login=login,
            protocol=protocol,
            ip=ip,
            # A certificate or garbage is None: a wrong credential, never echoed or logged.
            public_key=ssh_keys.presented_key(fields["public_key"]),
        )
    if fields["keyboard_interactive"] or fields["tls_cert"]:
        return decisions.Attempt(login=login, protocol=protocol, ip=ip, password="")
    raise InvalidHookBody("Send password, public_key, keyboard_interactive or tls_cert.")


def refused() -> dict:
    """SFTPGo's refusal: a user with an empty username."""
    return {"username": ""}


def folder_name(organization: str, path: str) -> str:
    """The SFTPGo folder for an organization's folder path: stable, unique, and made of
    the characters SFTPGo allows in names without `naming_rules`."""
    digest = hashlib.sha256(path.encode()).hexdigest()[:FOLDER_NAME_DIGEST_CHARS]
    return f"{organization}-{digest}"


def _mount_points(paths: list[str]) -> list[str]:
    """The outermost granted paths: SFTPGo refuses virtual folders inside one another in
    some releases, and a nested grant is a directory of its parent's folder anyway."""
    mounted: list[str] = []
    for path in sorted(paths):
        if not any(path.startswith(f"{parent}/") for parent in mounted):
            mounted.append(path)
    return mounted


def _virtual_folder(organization: str, path: str, folders_root: str) -> dict:
    return {
        "name": folder_name(organization, path),
        "mapped_path": posixpath.join(folders_root, organization, path.lstrip("/")),
        "filesystem": LOCAL_FILESYSTEM,
        "virtual_path": path,
        "quota_size": 0,
        "quota_files": 0,
    }


def user_for(username: str, answer: dict, *, home_root: str, folders_root: str) -> dict:
    """The SFTPGo user for an allowed login (answers.allowed_answer).

    `username` is the name SFTPGo asked about: SFTPGo saves the user under the name the
    hook answers, so answering another spelling would make it a second account. The home
    is the person's own (every permission a file owner needs); each granted folder is a
    virtual folder shared by everyone granted it, read or read and write per the grant.
    uid and gid are 0, which SFTPGo reads as "leave ownership alone": files belong to the
    account SFTPGo runs as, and SFTPGo enforces the permissions itself.
    """
    organization = answer["user"]["organization"]
    permissions = {"/": WRITE}
    for folder in answer["folders"]:
        permissions[folder["path"]] = WRITE if folder["access"] == Access.WRITE else READ
    mounted = _mount_points([folder["path"] for folder in answer["folders"]])
    return {
        "status": 1,
        "username": username,
        "expiration_date": 0,
        "home_dir": posixpath.join(home_root, answer["home"].lstrip("/")),
        "uid": 0,
        "gid": 0,
        "max_sessions": 0,
        "quota_size": 0,
        "quota_files": 0,
        "permissions": permissions,
        "filesystem": LOCAL_FILESYSTEM,
        "virtual_folders": [_virtual_folder(organization, p, folders_root) for p in mounted],
        # Every login asks Roster: SFTPGo skips the hook while a cached login is fresh.
        "filters": {"external_auth_cache_time": 0, "web_client": WEB_CLIENT_LIMITS},
    }
