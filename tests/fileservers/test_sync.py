"""roster-sync writes the extrausers files, homes and folder entries from Roster's
accounts, and kills the processes of whoever loses access."""

import os
import signal
import stat
import subprocess
import time

import pytest

from tests.fileservers.conftest import (
    ADAPTERS,
    SYSTEM_PYTHON,
    Answer,
    require_root,
    run_adapter,
    write_config,
)

ACCOUNTS = "/transfer/v1/accounts"
EVENTS = "/api/v1/events"
FINANCE = {"id": "g-1", "displayName": "Finance", "name": "g200007-finance", "gid": 200007}


def account(login, uid, *, groups=(), folders=(), user_id=None):
    return {
        "login": login,
        "user": {"id": user_id or f"u-{uid}", "userName": login, "displayName": "A: Person"},
        "uid": uid,
        "gid": uid,
        "home": f"/{login}",
        "groups": list(groups),
        "folders": list(folders),
    }


BOB = account(
    "bob@acme.example",
    200004,
    groups=[FINANCE],
    folders=[{"path": "/Finance", "access": "write"}],
)
ANN = account("ann@acme.example", 200005)


@pytest.fixture
def layout(tmp_path, fake_roster):
    require_root()
    config = write_config(
        tmp_path,
        fake_roster.url,
        home_root=tmp_path / "home",
        folders_root=tmp_path / "folders",
        state_dir=tmp_path / "state",
        extrausers_dir=tmp_path / "extrausers",
        poll_seconds="0.2",
    )
    return tmp_path, config


def serve_accounts(fake_roster, *people, page=None):
    """The accounts list, in pages of `page` when given."""
    people = list(people)
    page = page or max(len(people), 1)

    def answer(query):
        start = int(query.get("after", ["0"])[0])
        data = people[start : start + page]
        more = start + page < len(people)
        return Answer(200, body={"data": data, "next_cursor": str(start + page), "has_more": more})

    fake_roster.answers[ACCOUNTS] = answer


def serve_events(fake_roster, events: list):
    """The Events API over a list the test appends to; the cursor is an index."""

    def answer(query):
        start = int(query.get("after", ["0"])[0])
        return Answer(
            200, body={"data": events[start:], "next_cursor": str(len(events)), "has_more": False}
        )

    fake_roster.answers[EVENTS] = answer


def test_once_writes_the_extrausers_files_homes_and_folder_entries(layout, fake_roster):
    root, config = layout
    serve_accounts(fake_roster, BOB, ANN, page=1)

    result = run_adapter("roster-sync", "--config", str(config), "--once")

    assert result.returncode == 0, result.stderr
    assert (root / "extrausers/passwd").read_text() == (
        f"bob@acme.example:x:200004:200004:A  Person:{root}/home/bob@acme.example:"
        "/usr/sbin/nologin\n"
        f"ann@acme.example:x:200005:200005:A  Person:{root}/home/ann@acme.example:"
        "/usr/sbin/nologin\n"
    )
    assert (root / "extrausers/group").read_text() == (
        "bob@acme.example:x:200004:\n"
        "g200007-finance:x:200007:bob@acme.example\n"
        "ann@acme.example:x:200005:\n"
        "roster-sftp:x:199999:bob@acme.example,ann@acme.example\n"
    )
    assert stat.S_IMODE((root / "extrausers/passwd").stat().st_mode) == 0o644
    home = (root / "home/bob@acme.example").stat()
    assert (home.st_uid, home.st_gid, stat.S_IMODE(home.st_mode)) == (200004, 200004, 0o750)
    finance = (root / "folders/Finance").stat()
    assert (finance.st_uid, finance.st_gid, stat.S_IMODE(finance.st_mode)) == (0, 200007, 0o2770)
    entry = root / "home/bob@acme.example/Finance"
    assert os.readlink(entry) == f"{root}/folders/Finance"
    assert os.lstat(entry).st_uid == 200004
    assert os.listdir(root / "home/ann@acme.example") == []


def test_a_read_grant_makes_the_folder_read_only_for_its_group(layout, fake_roster):
    root, config = layout
    reader = account(
        "carl@acme.example",
        200006,
        groups=[{**FINANCE, "gid": 200008, "name": "g200008-audit"}],
        folders=[{"path": "/Audit/2026", "access": "read"}],
    )
    serve_accounts(fake_roster, reader)

    assert run_adapter("roster-sync", "--config", str(config), "--once").returncode == 0

    folder = (root / "folders/Audit/2026").stat()
    assert (folder.st_gid, stat.S_IMODE(folder.st_mode)) == (200008, 0o2750)
    assert os.readlink(root / "home/carl@acme.example/2026") == f"{root}/folders/Audit/2026"


def test_a_lost_grant_removes_the_entry_and_keeps_the_folder(layout, fake_roster):
    root, config = layout
    serve_accounts(fake_roster, BOB)
    run_adapter("roster-sync", "--config", str(config), "--once")

    serve_accounts(fake_roster, {**BOB, "groups": [], "folders": []})
    result = run_adapter("roster-sync", "--config", str(config), "--once")

    assert result.returncode == 0, result.stderr
    assert os.listdir(root / "home/bob@acme.example") == []
    assert (root / "folders/Finance").is_dir()


def test_a_login_name_nss_cannot_hold_is_skipped(layout, fake_roster):
    root, config = layout
    serve_accounts(fake_roster, BOB, account("acme+Zoë@gmail.example", 200009))

    result = run_adapter("roster-sync", "--config", str(config), "--once")

    assert result.returncode == 0
    assert "skipped 'acme+Zo\\xeb@gmail.example': not a system account name" in (
        result.stderr.decode()
    )
    assert [
        line.split(":")[0] for line in (root / "extrausers/passwd").read_text().splitlines()
    ] == ["bob@acme.example"]


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, "text/html", "boom"),
        Answer(200, "application/json", "{nope"),
        Answer(200, body={"data": [{**ANN, "uid": 0}], "next_cursor": "x", "has_more": False}),
        Answer(200, body={"data": [{**ANN, "home": "/../etc"}], "has_more": False}),
        Answer(
            200,
            body={
                "data": [{**BOB, "folders": [{"path": "/../etc", "access": "write"}]}],
                "has_more": False,
            },
        ),
    ],
    ids=["500", "garbage", "root-uid", "home-traversal", "folder-traversal"],
)
def test_an_answer_it_cannot_trust_changes_nothing_and_exits_1(layout, fake_roster, answer):
    root, config = layout
    serve_accounts(fake_roster, BOB)
    run_adapter("roster-sync", "--config", str(config), "--once")
    before = (root / "extrausers/passwd").read_text()

    fake_roster.answers[ACCOUNTS] = answer
    result = run_adapter("roster-sync", "--config", str(config), "--once")

    assert (result.returncode, result.stdout) == (1, b"")
    assert "sync failed, files left as they were" in result.stderr.decode()
    assert (root / "extrausers/passwd").read_text() == before


def process_as(uid: int) -> subprocess.Popen:
    """A stand-in for an SFTP session: a process running as the person."""
    return subprocess.Popen(["sleep", "60"], user=uid, group=uid)


def test_once_kills_the_processes_of_whoever_is_no_longer_listed(layout, fake_roster):
    _, config = layout
    serve_accounts(fake_roster, BOB, ANN)
    run_adapter("roster-sync", "--config", str(config), "--once")
    bobs, anns = process_as(200004), process_as(200005)
    try:
        serve_accounts(fake_roster, ANN)
        result = run_adapter("roster-sync", "--config", str(config), "--once")

        assert result.returncode == 0, result.stderr
        assert bobs.wait(timeout=5) == -signal.SIGKILL
        assert anns.poll() is None
    finally:
        for process in (bobs, anns):
            process.kill()
            process.wait()


def test_once_kills_the_processes_of_whoever_lost_a_group(layout, fake_roster):
    _, config = layout
    serve_accounts(fake_roster, BOB)
    run_adapter("roster-sync", "--config", str(config), "--once")
    bobs = process_as(200004)
    try:
        # An open session keeps the supplementary groups it started with.
        serve_accounts(fake_roster, {**BOB, "groups": [], "folders": []})
        run_adapter("roster-sync", "--config", str(config), "--once")

        assert bobs.wait(timeout=5) == -signal.SIGKILL
    finally:
        bobs.kill()
        bobs.wait()


@pytest.fixture
def follower(layout):
    """roster-sync following events, stopped with SIGTERM."""
    _, config = layout
    process = subprocess.Popen(
        [SYSTEM_PYTHON, str(ADAPTERS["roster-sync"]), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_following_events_cuts_a_deactivated_person_at_once(layout, fake_roster, follower):
    root, _ = layout
    events = []
    serve_events(fake_roster, events)
    serve_accounts(fake_roster, BOB, ANN)
    assert wait_for(lambda: (root / "extrausers/passwd").exists())
    bobs = process_as(200004)
    try:
        serve_accounts(fake_roster, ANN)
        events.append({"id": "1", "type": "user.deactivated", "data": {"user": {"id": "u-200004"}}})

        assert bobs.wait(timeout=3) == -signal.SIGKILL
        assert wait_for(lambda: "bob@" not in (root / "extrausers/passwd").read_text())
        assert wait_for(lambda: (root / "state/events-cursor").read_text() == "1\n")
    finally:
        bobs.kill()
        bobs.wait()
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(timeout=5) == 0


def test_a_revoked_credential_cuts_its_persons_sessions(layout, fake_roster, follower):
    root, _ = layout
    events = []
    serve_events(fake_roster, events)
    serve_accounts(fake_roster, BOB, ANN)
    assert wait_for(lambda: (root / "extrausers/passwd").exists())
    bobs, anns = process_as(200004), process_as(200005)
    try:
        events.append(
            {"id": "1", "type": "credential.revoked", "data": {"user": {"id": "u-200004"}}}
        )

        assert bobs.wait(timeout=3) == -signal.SIGKILL
        assert anns.poll() is None
        assert "bob@acme.example" in (root / "extrausers/passwd").read_text()
    finally:
        for process in (bobs, anns):
            process.kill()
            process.wait()


def test_following_survives_roster_being_away(layout, fake_roster, follower):
    root, _ = layout
    events = []
    fake_roster.answers[EVENTS] = Answer(503, "text/plain", "down")
    serve_accounts(fake_roster, BOB)
    assert wait_for(lambda: len(fake_roster.seen) >= 3)
    assert not (root / "extrausers/passwd").exists()

    serve_events(fake_roster, events)

    assert wait_for(lambda: (root / "extrausers/passwd").exists())
    assert follower.poll() is None


def test_a_link_planted_where_a_nested_folder_belongs_is_not_followed(layout, fake_roster):
    root, config = layout
    victim = root / "victim"
    victim.write_text("secret\n")
    victim.chmod(0o600)
    (root / "folders/Finance").mkdir(parents=True)
    (root / "folders/Finance/Q1").symlink_to(victim)
    nested = [{"path": "/Finance/Q1", "access": "write"}]
    serve_accounts(fake_roster, {**BOB, "folders": nested})

    result = run_adapter("roster-sync", "--config", str(config), "--once")

    assert result.returncode == 0, result.stderr
    assert f"'{root}/folders/Finance/Q1': not a directory; left" in result.stderr.decode()
    assert (stat.S_IMODE(victim.stat().st_mode), victim.stat().st_gid) == (0o600, 0)
