"""Both forms of a login name, end to end: bare at a verified domain (`bob@acme.example`)
and qualified by the organization elsewhere (`acme+carol@gmail.example`), each through
NSS (roster-sync's extrausers files), OpenSSH's sftp with a key and with an app
password, and FTPS through pure-ftpd (docs/transfer.md, "Login names")."""

import pwd

import pytest

from accounts.models import User
from tests.fileservers.conftest import (
    Person,
    listing,
    sftp_with_key,
    sftp_with_password,
    ssh_keypair,
)
from tests.fileservers.test_pure_ftpd_e2e import ftps
from transfer.models import CredentialSource
from transfer.services import app_password_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("username", "login"),
    [
        ("dana@acme.example", "dana@acme.example"),
        ("carol@gmail.example", "acme+carol@gmail.example"),
    ],
    ids=["bare at a verified domain", "qualified by the organization"],
)
def test_each_login_name_form_works_with_nss_sftp_and_ftps(
    site, host, sshd, ftpd, system_actor, username, login
):
    key, public_key = ssh_keypair(host.root, username.split("@")[0])
    person_id = site.create_person(username, [public_key])
    _, secret = app_password_create(
        user=User.objects.get(pk=person_id),
        label="WinSCP",
        source=CredentialSource.PERSONAL,
        actor=system_actor,
    )
    host.sync_once()

    account = pwd.getpwnam(login)
    assert account.pw_dir.endswith(f"/{login}")

    person = Person(person_id, login, key, public_key, account.pw_uid)
    upload = "put /etc/hostname upload.txt\nls -1\n"
    by_key = sftp_with_key(sshd.port, person, upload, workdir=host.root)
    assert by_key.returncode == 0, by_key.stderr.decode()
    assert listing(by_key) == ["upload.txt"]

    by_password = sftp_with_password(sshd.port, login, secret, "ls -1\n", workdir=host.root)
    assert by_password.returncode == 0, by_password.stderr.decode()
    assert listing(by_password) == ["upload.txt"]

    client = ftps(ftpd, login, secret)
    try:
        # pure-ftpd's NLST lists the directory's own entries too.
        assert [name for name in client.nlst() if name not in (".", "..")] == ["upload.txt"]
    finally:
        client.quit()
