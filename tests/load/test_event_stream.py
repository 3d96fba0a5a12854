"""The event stream under concurrency, on PostgreSQL against live gunicorn servers.

Writers change users and memberships over SCIM from many threads while a reader follows
/api/v1/events with `after=` in a loop: it must see every event exactly once and, per
resource, in version order, although transactions commit in another order than the one
in which they took their row ids.
"""

import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection, transaction

from accounts.events.models import DirectoryEvent
from accounts.services import user_create
from accounts.services.integrations import api_key_create
from tests.load.conftest import requires_postgresql
from tests.load.scim_http import client, patch_body, user_body

pytestmark = [requires_postgresql, pytest.mark.live, pytest.mark.django_db(transaction=True)]

WRITERS = 16
USERS_PER_WRITER = 3
READ_TIMEOUT = 90


@pytest.fixture
def api_secret(organization, system_actor):
    return api_key_create(organization=organization, label="Reader", actor=system_actor)[1]


class StreamReader(threading.Thread):
    """Follows the stream like a consumer: page after page, polling at the end."""

    def __init__(self, server, secret):
        super().__init__(daemon=True)
        self.http = httpx.Client(
            base_url=server.base_url + "/api/v1",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=20,
        )
        self.events, self.after = [], None
        self.stop_at_count = None
        self.error = None

    def read_once(self) -> dict:
        params = {"limit": 50, **({"after": self.after} if self.after else {})}
        response = self.http.get("/events", params=params)
        response.raise_for_status()
        body = response.json()
        self.events += body["data"]
        self.after = body["next_cursor"]
        return body

    def run(self):
        deadline = time.monotonic() + READ_TIMEOUT
        try:
            while time.monotonic() < deadline:
                body = self.read_once()
                if self.stop_at_count is not None and len(self.events) >= self.stop_at_count:
                    return
                if not body["has_more"]:
                    time.sleep(0.02)
        except Exception as error:  # reported by the test
            self.error = error
        finally:
            self.http.close()


def resource_of(event: dict) -> str:
    data = event["data"]
    return data["group"]["id"] if "group" in data else data["user"]["id"]


def version_of(event: dict) -> int:
    data = event["data"]
    return data["group"]["version"] if "group" in data else data["user"]["version"]


def test_16_writers_and_a_reader_who_sees_every_event_once_in_version_order(
    organization, live_server_a, live_server_b, scim_secret, api_secret, make_group
):
    groups = [make_group(organization, f"Team {i}") for i in range(4)]
    servers = [live_server_a, live_server_b]
    reader = StreamReader(live_server_b, api_secret)
    reader.start()

    def writer(index: int) -> None:
        http = client(servers[index % 2], scim_secret)
        try:
            for n in range(USERS_PER_WRITER):
                name = f"w{index}-u{n}@example.com"
                created = http.post("/Users", content=user_body(name))
                assert created.status_code == 201, created.text
                user_id = created.json()["id"]
                replace = {"op": "replace", "value": {"title": f"Title {n}"}}
                assert http.patch(f"/Users/{user_id}", content=patch_body(replace)).is_success
                group = groups[(index + n) % len(groups)]
                add = {"op": "add", "path": "members", "value": [{"value": user_id}]}
                assert http.patch(f"/Groups/{group.pk}", content=patch_body(add)).is_success
        finally:
            http.close()

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))

    written = set(
        DirectoryEvent.objects.filter(organization=organization).values_list("id", flat=True)
    )
    # 4 group.created, then per user: created, updated, member_added.
    assert len(written) == 4 + WRITERS * USERS_PER_WRITER * 3
    reader.stop_at_count = len(written)
    reader.join(READ_TIMEOUT + 5)
    assert reader.error is None
    seen = [int(event["id"]) for event in reader.events]
    assert Counter(seen).most_common(1)[0][1] == 1, "an event was served twice"
    assert set(seen) == written

    versions = defaultdict(list)
    for event in reader.events:
        versions[resource_of(event)].append(version_of(event))
    for resource, in_order in versions.items():
        assert in_order == sorted(in_order), f"{resource} out of version order: {in_order}"


def test_a_slow_transaction_that_commits_late_is_not_skipped(
    organization, live_server_a, api_secret, system_actor
):
    reader = StreamReader(live_server_a, api_secret)
    reader.read_once()
    slow_wrote, release = threading.Event(), threading.Event()

    def slow():
        try:
            with transaction.atomic():
                user_create(
                    organization=organization, username="slow@x.example", actor=system_actor
                )
                slow_wrote.set()
                release.wait(30)
        finally:
            connection.close()

    def fast():
        try:
            user_create(organization=organization, username="fast@x.example", actor=system_actor)
        finally:
            connection.close()

    slow_thread = threading.Thread(target=slow)
    slow_thread.start()
    assert slow_wrote.wait(30)
    fast_thread = threading.Thread(target=fast)
    fast_thread.start()
    fast_thread.join(30)
    fast_id = DirectoryEvent.objects.get(data__user__username="fast@x.example").pk

    # The fast transaction has committed, the slow one (holding the lower transaction
    # id) has not: the stream must hold the fast one back rather than pass it.
    for _ in range(5):
        reader.read_once()
        time.sleep(0.1)
    assert reader.events == []

    release.set()
    slow_thread.join(30)
    deadline = time.monotonic() + READ_TIMEOUT
    while len(reader.events) < 2 and time.monotonic() < deadline:
        reader.read_once()
        time.sleep(0.05)
    reader.http.close()
    usernames = [event["data"]["user"]["username"] for event in reader.events]
    assert usernames == ["slow@x.example", "fast@x.example"]
    assert int(reader.events[1]["id"]) == fast_id
