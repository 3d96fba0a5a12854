"""The operators' file-transfer commands: audited, and a one-line reason on bad input."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditAction, AuditEvent
from tests.transfer.conftest import new_public_key
from transfer.models import AppPassword, FolderGrant, SshKey, TransferKey, TransferMode


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_create_transfer_key_prints_the_secret_alone_on_the_last_line(organization):
    lines = run("create_transfer_key", "acme", "--label", "sftp-1")

    key = TransferKey.objects.get()
    assert lines[-1].startswith(f"rtk_{key.prefix}.")
    assert key.organization == organization
    assert AuditEvent.objects.filter(action=AuditAction.TRANSFER_KEY_CREATED).count() == 1


def test_a_platform_key_and_its_revocation(db):
    secret = run("create_transfer_key", "--platform", "--label", "fleet")[-1]
    key = TransferKey.objects.get()
    assert key.organization is None and secret.startswith("rtk_")

    assert run("revoke_transfer_key", f"rtk_{key.prefix}") == [
        f"Revoked transfer key {key.prefix} (fleet)."
    ]
    key.refresh_from_db()
    assert key.revoked_at is not None


@pytest.mark.parametrize(
    "args, message",
    [
        (("create_transfer_key", "--label", "x"), "Name an organization, or pass --platform"),
        (("create_transfer_key", "nope", "--label", "x"), "No organization with slug 'nope'."),
        (("create_transfer_key", "acme", "--label", " "), "A transfer key needs a label"),
        (("revoke_transfer_key", "zzzzzzzz"), "No transfer key with prefix 'zzzzzzzz'."),
        (("transfer_settings", "acme", "--groups", "Nope"), "No group 'Nope' in acme."),
        (("transfer_folder", "acme", "--group", "Finance", "--path", "/x"), "Pass --access"),
        (
            ("transfer_folder", "acme", "--group", "Finance", "--path", "../x", "--access", "read"),
            "A folder path starts with /",
        ),
        (("create_app_password", "acme", "nobody", "--label", "x"), "No user 'nobody' in acme."),
        (
            (
                "create_app_password",
                "acme",
                "bob@acme.example",
                "--label",
                "x",
                "--expires-days",
                "0",
            ),
            "--expires-days must be at least 1.",
        ),
        (("add_ssh_key", "acme", "bob@acme.example", "--key-file", "/nonexistent"), "Cannot read"),
        (
            ("revoke_credential", "acme", "bob@acme.example", "SHA256:nope"),
            "has no key SHA256:nope",
        ),
    ],
)
def test_bad_input_fails_with_a_one_line_reason(organization, bob, make_group, args, message):
    make_group(organization, "Finance")
    with pytest.raises(
        CommandError, match=message.replace("(", r"\(").replace(".", r"\.")
    ) as error:
        run(*args)
    assert "\n" not in str(error.value)


def test_transfer_settings_prints_the_resulting_setting(organization, make_group):
    make_group(organization, "Finance")
    make_group(organization, "Ops")

    assert run("transfer_settings", "acme", "--groups", "Finance, ops") == [
        "File transfer for acme: On for members of chosen groups: Finance, Ops"
    ]
    assert run("transfer_settings", "acme", "--everyone") == [
        "File transfer for acme: On for every active user"
    ]
    assert organization.transfer_policy.mode == TransferMode.EVERYONE
    event = AuditEvent.objects.filter(action=AuditAction.TRANSFER_SETTINGS_CHANGED).first()
    assert event.actor_label == "manage.py transfer_settings"


def test_folder_grants_are_set_and_removed(organization, make_group):
    make_group(organization, "Finance")

    run("transfer_folder", "acme", "--group", "finance", "--path", "/Finance/", "--access", "write")
    assert list(FolderGrant.objects.values_list("path", "access")) == [("/Finance", "write")]
    run("transfer_folder", "acme", "--group", "Finance", "--path", "/Finance", "--remove")
    assert not FolderGrant.objects.exists()


def test_app_passwords_and_keys_for_a_person(organization, bob, tmp_path):
    secret = run("create_app_password", "acme", "bob@acme.example", "--label", "ftp")[-1]
    password = AppPassword.objects.get()
    assert secret.startswith(f"rap_{password.prefix}.")

    key_file = tmp_path / "id.pub"
    key_file.write_text(new_public_key("bob-laptop") + "\n")
    run("add_ssh_key", "acme", "BOB@acme.example", "--key-file", str(key_file))
    key = SshKey.objects.get()
    assert (key.label, key.source) == ("bob-laptop", "admin")

    run("revoke_credential", "acme", "bob@acme.example", key.fingerprint)
    run("revoke_credential", "acme", "bob@acme.example", password.prefix)
    assert SshKey.objects.get().revoked_at is not None
    assert AppPassword.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.CREDENTIAL_REVOKED).count() == 2


def test_a_private_key_file_is_refused_without_echoing_it(organization, bob, tmp_path):
    key_file = tmp_path / "id"
    key_file.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "AAAAsecretmaterial\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    )

    with pytest.raises(CommandError) as error:
        run("add_ssh_key", "acme", "bob@acme.example", "--key-file", str(key_file))

    assert "private key" in str(error.value)
    assert "secretmaterial" not in str(error.value)
