"""End to end with OpenSSH: SCIM changes in the live Roster decide real sftp logins on a
real sshd configured from contrib/openssh, and roster-sync cuts open sessions."""

import ftplib
import os
import ssl
import subprocess
import time

import pytest
from django.test import Client

from accounts.models import User
from tests.fileservers.conftest import (
    ROSTER_USER,
    SSH_OPTIONS,
    Person,
    listing,
    sftp_with_key,
    sftp_with_password,
    ssh_keypair,
)
from tests.fileservers.servers import kill_all, processes_of
from transfer.models import CredentialSource, TransferMode
from transfer.services import app_password_create, transfer_policy_set

pytestmark = pytest.mark.django_db(transaction=True)

REFUSED = 255
SESSION_CUT_SECONDS = 5


def app_password(person, system_actor) -> str:
    user = User.objects.get(pk=person.id)
    _, secret = app_password_create(
        user=user, label="FileZilla", source=CredentialSource.PERSONAL, actor=system_actor
    )
    return secret


def test_bob_logs_in_with_his_key_sees_finance_and_uploads_into_it(sshd, host, people):
    upload = host.root / "report.csv"
    upload.write_text("q1,42\n")

    result = sftp_with_key(
        sshd.port, people.bob, f"ls -1\nput {upload} Finance/report.csv\n", workdir=host.root
    )

    assert result.returncode == 0, result.stderr
    assert listing(result) == ["Finance"]
    stored = host.folders_root / "Finance" / "report.csv"
    assert stored.read_text() == "q1,42\n"
    finance_gid = os.stat(host.folders_root / "Finance").st_gid
    assert (stored.stat().st_uid, stored.stat().st_gid) == (people.bob.uid, finance_gid)


def test_ann_outside_finance_cannot_see_or_write_it(sshd, host, people):
    upload = host.root / "ann.txt"
    upload.write_text("hello\n")
    finance = host.folders_root / "Finance"

    home = sftp_with_key(sshd.port, people.ann, "ls -1\n", workdir=host.root)
    look = sftp_with_key(sshd.port, people.ann, f"ls {finance}\n", workdir=host.root)
    write = sftp_with_key(
        sshd.port, people.ann, f"put {upload} {finance}/ann.txt\n", workdir=host.root
    )

    assert (home.returncode, listing(home)) == (0, [])
    assert look.returncode == 1
    assert "Permission denied" in look.stderr.decode()
    assert write.returncode == 1
    assert not (finance / "ann.txt").exists()


@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_an_app_password_logs_in_over_sftp(sshd, host, people, system_actor, method):
    secret = app_password(people.bob, system_actor)

    right = sftp_with_password(
        sshd.port, people.bob.login, secret, "ls -1\n", workdir=host.root, method=method
    )
    wrong = sftp_with_password(
        sshd.port, people.bob.login, secret[:-1] + "x", "ls -1\n", workdir=host.root, method=method
    )

    assert right.returncode == 0, right.stderr
    assert "Finance" in listing(right)
    assert wrong.returncode == REFUSED


def open_session(port, person, workdir) -> subprocess.Popen:
    """An SFTP session left open, as a long transfer keeps it: the ssh connection sftp
    runs (`ssh -s ... sftp`), which ends exactly when the server closes it. (sftp itself
    would only notice at its next command.)"""
    session = subprocess.Popen(
        [
            *("ssh", *SSH_OPTIONS, "-i", person.key, "-p", str(port), "-o", "BatchMode=yes"),
            *("-o", "IdentitiesOnly=yes", "-o", f"User={person.login}", "-s", "127.0.0.1", "sftp"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    deadline = time.monotonic() + 10
    while not processes_of(person.uid):
        assert session.poll() is None, "the session did not open"
        assert time.monotonic() < deadline, "the session did not open in time"
        time.sleep(0.05)
    return session


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_deactivation_ends_the_open_session_within_5_seconds_and_refuses_logins(
    sshd, host, people, site, system_actor
):
    secret = app_password(people.bob, system_actor)
    host.follow()
    session = open_session(sshd.port, people.bob, host.root)
    try:
        started = time.monotonic()
        site.set_active(people.bob.id, False)

        session.wait(timeout=SESSION_CUT_SECONDS + 1)
        assert time.monotonic() - started < SESSION_CUT_SECONDS
        assert processes_of(people.bob.uid) == []
    finally:
        session.kill()
        kill_all(people.bob.uid)

    by_key = sftp_with_key(sshd.port, people.bob, "ls -1\n", workdir=host.root)
    by_password = sftp_with_password(sshd.port, people.bob.login, secret, "ls\n", workdir=host.root)
    assert (by_key.returncode, by_password.returncode) == (REFUSED, REFUSED)

    site.set_active(people.bob.id, True)

    def key_login_works():
        return sftp_with_key(sshd.port, people.bob, "ls -1\n", workdir=host.root).returncode == 0

    assert wait_until(key_login_works, timeout=10)
    again = sftp_with_key(sshd.port, people.bob, "ls -1\n", workdir=host.root)
    assert listing(again) == ["Finance"]


def test_removing_bob_from_finance_removes_it_from_his_next_login(sshd, host, people, site):
    site.patch(
        f"/Groups/{people.finance}",
        {"op": "remove", "path": f'members[value eq "{people.bob.id}"]'},
        status=204,
    )
    host.sync_once()

    result = sftp_with_key(sshd.port, people.bob, "ls -1\n", workdir=host.root)

    assert (result.returncode, listing(result)) == (0, [])


def test_replacing_the_keys_with_none_refuses_the_key_but_not_the_password(
    sshd, host, people, site, system_actor
):
    secret = app_password(people.bob, system_actor)
    site.patch(
        f"/Users/{people.bob.id}",
        {"op": "replace", "path": f"{ROSTER_USER}:sshPublicKeys", "value": []},
        status=200,
    )

    by_key = sftp_with_key(sshd.port, people.bob, "ls -1\n", workdir=host.root)
    by_password = sftp_with_password(
        sshd.port, people.bob.login, secret, "ls -1\n", workdir=host.root
    )

    assert by_key.returncode == REFUSED
    assert by_password.returncode == 0, by_password.stderr


def test_revoking_the_app_password_on_his_page_refuses_password_logins(
    sshd, host, people, system_actor
):
    secret = app_password(people.bob, system_actor)
    bob = User.objects.get(pk=people.bob.id)
    page = Client()
    page.force_login(bob, backend="accounts.backends.ConsoleEmailBackend")
    password = bob.app_passwords.get()

    response = page.post(f"/transfer/app-passwords/{password.pk}/revoke/")

    assert response.status_code == 302
    refused = sftp_with_password(sshd.port, people.bob.login, secret, "ls\n", workdir=host.root)
    assert refused.returncode == REFUSED
    by_key = sftp_with_key(sshd.port, people.bob, "ls -1\n", workdir=host.root)
    assert by_key.returncode == 0


def test_file_transfer_off_refuses_every_login_and_on_brings_them_back(
    sshd, host, people, site, system_actor
):
    secret = app_password(people.bob, system_actor)

    def logins():
        return [
            sftp_with_key(sshd.port, people.bob, "ls\n", workdir=host.root).returncode,
            sftp_with_key(sshd.port, people.ann, "ls\n", workdir=host.root).returncode,
            sftp_with_password(
                sshd.port, people.bob.login, secret, "ls\n", workdir=host.root
            ).returncode,
        ]

    transfer_policy_set(organization=site.organization, mode=TransferMode.OFF, actor=system_actor)
    assert logins() == [REFUSED, REFUSED, REFUSED]

    transfer_policy_set(
        organization=site.organization, mode=TransferMode.EVERYONE, actor=system_actor
    )
    assert logins() == [0, 0, 0]


@pytest.mark.parametrize("change", ["transfer off", "Bob out of scope"])
def test_a_setting_change_ends_the_open_session_within_5_seconds(
    sshd, host, people, site, system_actor, make_group, change
):
    """transfer.settings_changed: roster-sync re-reads who may log in at once."""
    host.follow()
    session = open_session(sshd.port, people.bob, host.root)
    try:
        started = time.monotonic()
        if change == "transfer off":
            mode, groups = TransferMode.OFF, []
        else:
            ann = User.objects.get(pk=people.ann.id)
            mode, groups = TransferMode.GROUPS, [make_group(site.organization, "SFTP", [ann])]
        transfer_policy_set(
            organization=site.organization, mode=mode, groups=groups, actor=system_actor
        )

        session.wait(timeout=SESSION_CUT_SECONDS + 1)
        assert time.monotonic() - started < SESSION_CUT_SECONDS
        assert processes_of(people.bob.uid) == []
    finally:
        session.kill()
        kill_all(people.bob.uid)


def test_a_qualified_login_name_logs_in_over_sftp_and_ftps(
    sshd, ftpd, host, people, site, system_actor
):
    key, public_key = ssh_keypair(host.root, "carol")
    carol_id = site.create_person("carol@gmail.example", [public_key])
    host.sync_once()
    carol = Person(carol_id, "acme+carol@gmail.example", key, public_key)
    _, secret = app_password_create(
        user=User.objects.get(pk=carol_id),
        label="WinSCP",
        source=CredentialSource.PERSONAL,
        actor=system_actor,
    )

    by_key = sftp_with_key(sshd.port, carol, "pwd\n", workdir=host.root)
    context = ssl.create_default_context(cafile=ftpd.dir / "pure-ftpd.pem")
    with ftplib.FTP_TLS(context=context, timeout=10) as client:
        client.connect("127.0.0.1", ftpd.port)
        client.login(carol.login, secret)

        assert client.pwd() == f"{host.home_root}/acme+carol@gmail.example"
    assert by_key.returncode == 0, by_key.stderr
    assert f"{host.home_root}/acme+carol@gmail.example" in by_key.stdout.decode()
