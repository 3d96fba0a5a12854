"""Start and stop a real OpenID Provider (provider.mjs: panva's oidc-provider on node) on
127.0.0.1, and sign in at its development login and consent pages.

`make browser-js` installs tests/oidc_provider/node_modules from package-lock.json. Without
node or those modules a test skips; in CI (CI=true) it fails instead, so CI never passes
without having run against the real provider.
"""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

HERE = Path(__file__).resolve().parent
PROVIDER_PROGRAM = HERE / "provider.mjs"
NODE_MODULES = HERE / "node_modules"
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class ProviderFailedToStart(RuntimeError):
    pass


def require_node() -> str:
    """The node binary; skips without node or the installed modules, fails in CI."""
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("node")
    if not (NODE_MODULES / "oidc-provider" / "package.json").is_file():
        missing.append("tests/oidc_provider/node_modules")
    if missing:
        message = f"needs {', '.join(missing)} (`make browser-js` installs the modules)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return node


@dataclass
class Provider:
    """A running provider.mjs; `stop()` ends it."""

    issuer: str
    admin_token: str
    kids: list[str]
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    @property
    def admin_url(self) -> str:
        return f"{self.issuer}/_admin"

    @property
    def log(self) -> str:
        """What the provider wrote to stderr so far."""
        return self.log_path.read_text(errors="replace")

    def _admin(self, endpoint: str, body: dict) -> dict:
        response = httpx.post(
            f"{self.admin_url}/{endpoint}",
            json=body,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        if response.status_code != 200:
            raise AssertionError(f"{endpoint}: {response.status_code} {response.text}\n{self.log}")
        return response.json()

    def rotate_keys(self, *, drop_old: bool = False) -> str:
        """A new RS256 signing key signs every token from now on; returns its kid."""
        answer = self._admin("rotate-keys", {"drop_old": drop_old})
        self.kids = answer["kids"]
        return answer["kid"]

    def end_sessions(self, account_id: str) -> dict:
        """Ends the account's provider sessions, sending back-channel logouts."""
        return self._admin("end-sessions", {"account_id": account_id})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log_path.unlink(missing_ok=True)


def start_provider(
    *,
    clients: list[dict],
    accounts: dict | None = None,
    id_token_claims_from_scope: bool = True,
    signing_keys: int = 1,
    ready_timeout: float = READY_TIMEOUT,
) -> Provider:
    """Runs provider.mjs (its header documents the configuration) and waits for its ready line."""
    node = require_node()
    config = {
        "port": 0,
        "clients": clients,
        "accounts": accounts or {},
        "id_token_claims_from_scope": id_token_claims_from_scope,
        "signing_keys": signing_keys,
    }
    config_fd, config_name = tempfile.mkstemp(prefix="oidc-provider-", suffix=".json")
    with os.fdopen(config_fd, "w") as config_file:
        json.dump(config, config_file)
    log_fd, log_name = tempfile.mkstemp(prefix="oidc-provider-", suffix=".log")
    log_path = Path(log_name)
    process = subprocess.Popen(
        [node, str(PROVIDER_PROGRAM), config_name],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log_fd,
        text=True,
    )
    os.close(log_fd)
    provider = Provider("", "", [], process, log_path)
    try:
        ready = _ready_line(process, ready_timeout)
    except ProviderFailedToStart as failure:
        log = provider.log
        provider.stop()
        raise ProviderFailedToStart(f"{failure}; its stderr:\n{log}") from None
    finally:
        Path(config_name).unlink(missing_ok=True)
    provider.issuer, provider.admin_token, provider.kids = (
        ready["issuer"],
        ready["admin_token"],
        ready["kids"],
    )
    return provider


def _ready_line(process: subprocess.Popen, timeout: float) -> dict:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise ProviderFailedToStart(f"provider.mjs was not ready within {timeout} s") from None
    if not line:
        raise ProviderFailedToStart(f"provider.mjs exited with {process.wait(STOP_TIMEOUT)}")
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        raise ProviderFailedToStart(f"provider.mjs printed {line!r}, not its ready line") from None


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str]


class _FormParser(HTMLParser):
    """The forms of a page with their named inputs; inputs outside a form that name it
    with form="id" count too (the logout page's buttons do so)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._by_id: dict[str, Form] = {}
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = Form(attributes.get("action", ""), attributes.get("method", "get"), {})
            self.forms.append(self._current)
            if "id" in attributes:
                self._by_id[attributes["id"]] = self._current
        elif tag == "input" and "name" in attributes:
            form = self._by_id.get(attributes.get("form", ""), self._current)
            if form is not None:
                form.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def sign_in(
    http: httpx.Client,
    authorization_url: str,
    *,
    redirect_uri: str,
    login: str,
    password: str = "any password",
) -> str:
    """Follows the authorization request through devInteractions' login and consent forms
    (when the session and grant do not already cover it) and returns the URL of the
    redirect to `redirect_uri`, which it does not fetch."""
    response = http.get(authorization_url)
    for _ in range(10):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_uri):
                return location
            response = http.get(location)
            continue
        page_forms = [form for form in forms(response.text) if "prompt" in form.fields]
        if response.status_code != 200 or len(page_forms) != 1:
            raise AssertionError(f"{response.status_code} at {response.url}:\n{response.text}")
        form = page_forms[0]
        data = dict(form.fields)
        if data["prompt"] == "login":
            data.update(login=login, password=password)
        response = http.post(urljoin(str(response.url), form.action), data=data)
    raise AssertionError(f"no redirect to {redirect_uri} after 10 steps; last at {response.url}")
