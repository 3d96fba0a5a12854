"""Small helpers for driving live servers over SCIM with httpx from many threads."""

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

SCIM_CONTENT_TYPE = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
REQUEST_TIMEOUT = 20.0


def headers(secret: str, **extra) -> dict:
    return {
        "Authorization": f"Bearer {secret}",
        "Accept": SCIM_CONTENT_TYPE,
        "Content-Type": SCIM_CONTENT_TYPE,
        **extra,
    }


def client(server, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url + "/scim/v2", headers=headers(secret), timeout=REQUEST_TIMEOUT
    )


def user_body(username: str, **fields) -> str:
    body = {
        "schemas": [USER_SCHEMA],
        "userName": username,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"value": username, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(fields)
    return json.dumps(body)


def patch_body(*operations: dict) -> str:
    return json.dumps({"schemas": [PATCH_SCHEMA], "Operations": list(operations)})


def all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Runs the calls on their own threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls), timeout=REQUEST_TIMEOUT)

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_scim_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
