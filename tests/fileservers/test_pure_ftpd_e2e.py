"""End to end with pure-ftpd: FTPS (explicit TLS) logins with app passwords decided by
the live Roster through pure-authd and contrib/pure-ftpd/roster-authd."""

import ftplib
import io
import ssl

import pytest

from accounts.models import User
from tests.fileservers.conftest import sftp_with_key
from transfer.models import CredentialSource, TransferMode
from transfer.services import app_password_create, app_password_revoke, transfer_policy_set

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bob_secret(people, system_actor):
    user = User.objects.get(pk=people.bob.id)
    return app_password_create(
        user=user, label="FileZilla", source=CredentialSource.PERSONAL, actor=system_actor
    )


def ftps(ftpd, login: str, password: str) -> ftplib.FTP_TLS:
    """An explicit-TLS session (AUTH TLS, then PROT P), the certificate verified."""
    context = ssl.create_default_context(cafile=ftpd.dir / "pure-ftpd.pem")
    client = ftplib.FTP_TLS(context=context, timeout=10)
    client.connect("127.0.0.1", ftpd.port)
    client.login(login, password)
    client.prot_p()
    return client


def refused(ftpd, login, password) -> str:
    with pytest.raises(ftplib.error_perm) as refusal:
        ftps(ftpd, login, password)
    return str(refusal.value)


def test_bob_logs_in_over_ftps_with_his_app_password_and_uploads_into_finance(
    ftpd, host, people, bob_secret
):
    client = ftps(ftpd, people.bob.login, bob_secret[1])
    try:
        assert client.pwd() == f"{host.home_root}/bob@acme.example"
        assert sorted(client.nlst()) == [".", "..", "Finance"]
        client.storbinary("STOR Finance/ftps.csv", io.BytesIO(b"q2,7\n"))
    finally:
        client.quit()

    stored = host.folders_root / "Finance" / "ftps.csv"
    assert stored.read_bytes() == b"q2,7\n"
    assert stored.stat().st_uid == people.bob.uid


def test_plain_ftp_without_tls_is_refused(ftpd, people, bob_secret):
    client = ftplib.FTP(timeout=10)
    with pytest.raises(ftplib.error_temp) as refusal:
        client.connect("127.0.0.1", ftpd.port)
        client.login(people.bob.login, bob_secret[1])

    assert str(refusal.value).startswith("421")


def test_a_wrong_password_and_a_revoked_one_are_refused(ftpd, people, bob_secret, system_actor):
    assert refused(ftpd, people.bob.login, bob_secret[1][:-1] + "x").startswith("530")

    app_password_revoke(password=bob_secret[0], actor=system_actor)

    assert refused(ftpd, people.bob.login, bob_secret[1]).startswith("530")


def test_deactivation_refuses_ftps_and_reactivation_brings_it_back(
    ftpd, sshd, host, people, site, bob_secret
):
    site.set_active(people.bob.id, False)

    assert refused(ftpd, people.bob.login, bob_secret[1]).startswith("530")
    assert sftp_with_key(sshd.port, people.bob, "ls\n", workdir=host.root).returncode == 255

    site.set_active(people.bob.id, True)

    ftps(ftpd, people.bob.login, bob_secret[1]).quit()


def test_file_transfer_off_refuses_ftps(ftpd, people, site, bob_secret, system_actor):
    transfer_policy_set(organization=site.organization, mode=TransferMode.OFF, actor=system_actor)

    assert refused(ftpd, people.bob.login, bob_secret[1]).startswith("530")

    transfer_policy_set(
        organization=site.organization, mode=TransferMode.EVERYONE, actor=system_actor
    )
    ftps(ftpd, people.bob.login, bob_secret[1]).quit()
