"""The end-to-end tests fail in CI when a server is missing, and skip elsewhere."""

import pytest

from tests.fileservers import conftest


def test_a_missing_piece_fails_the_test_in_ci(monkeypatch):
    monkeypatch.setattr(conftest, "IN_CI", True)

    with pytest.raises(pytest.fail.Exception, match=r"needs pure-ftpd, sshd \(.ci/run"):
        conftest.require(sshd=False, python3=True, **{"pure-ftpd": False})


def test_a_missing_piece_skips_the_test_elsewhere(monkeypatch):
    monkeypatch.setattr(conftest, "IN_CI", False)

    with pytest.raises(pytest.skip.Exception, match=r"needs sshd \(.ci/run installs them\)"):
        conftest.require(sshd=False)
