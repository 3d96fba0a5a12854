"""One POST to a checked address: no redirects, a time limit, a capped read."""

import functools
import ssl
from dataclasses import dataclass

import httpx
from django.conf import settings

from accounts.events.webhooks.addresses import RefusedTarget, check_target

# What is read of a response (the rest is dropped) and what is kept of it.
READ_LIMIT_BYTES = 64 * 1024
EXCERPT_CHARS = 512


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _read_capped(response: httpx.Response) -> bytes:
    body = b""
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= READ_LIMIT_BYTES:
            break
    return body[:READ_LIMIT_BYTES]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The CA bundle loaded once per process, not once per delivery (about 17 ms each).

    Only the context is shared: each delivery still opens its own connection, so a
    keep-alive connection made for one endpoint's host name never carries another's
    request to the same address.
    """
    return httpx.create_ssl_context(trust_env=False)


def post(url: str, *, body: bytes, headers: dict) -> Outcome:
    try:
        target = check_target(url)
    except RefusedTarget as refusal:
        return Outcome(error=f"Refused: {refusal}"[:255])
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    # trust_env=False: no proxy from the environment may carry the request elsewhere.
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls_context()
    ) as http:
        try:
            with http.stream(
                "POST",
                target.pinned_url,
                content=body,
                headers={**headers, "Host": target.host_header},
                extensions={"sni_hostname": target.hostname},
            ) as response:
                excerpt = _read_capped(response).decode("utf-8", errors="replace")
                return Outcome(status_code=response.status_code, excerpt=excerpt[:EXCERPT_CHARS])
        except httpx.TimeoutException:
            return Outcome(error=f"No answer within {timeout} seconds.")
        except httpx.HTTPError as error:
            return Outcome(error=f"{error.__class__.__name__}: {error}"[:255])
