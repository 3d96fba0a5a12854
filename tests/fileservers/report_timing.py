"""How fast a SCIM deactivation reaches a real sshd: to the next refused login, and to
the end of the session already open (roster-sync following events). Reported, not
asserted (docs/performance.md); not collected with the suite, run it by its path:

    pytest -p no:randomly -s tests/fileservers/report_timing.py
"""

import statistics
import threading
import time

import pytest

from tests.fileservers.conftest import sftp_with_key
from tests.fileservers.test_openssh_e2e import open_session, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = 20


def percentiles(seconds: list[float]) -> str:
    milliseconds = sorted(s * 1000 for s in seconds)
    p95 = statistics.quantiles(milliseconds, n=20, method="inclusive")[18]
    return (
        f"p50 {statistics.median(milliseconds):.0f} ms, p95 {p95:.0f} ms, "
        f"max {milliseconds[-1]:.0f} ms"
    )


def test_report_deactivation_to_refusal_and_to_session_end(sshd, host, people, site):
    host.follow()
    to_refusal, to_session_end = [], []
    for _ in range(RUNS):
        session = open_session(sshd.port, people.bob, host.root)
        ended = {}
        waiter = threading.Thread(
            target=lambda s=session, e=ended: (s.wait(), e.setdefault("at", time.monotonic()))
        )
        waiter.start()
        started = time.monotonic()
        site.set_active(people.bob.id, False)
        refused = sftp_with_key(sshd.port, people.bob, "ls\n", workdir=host.root)
        to_refusal.append(time.monotonic() - started)
        waiter.join(timeout=30)
        assert refused.returncode == 255
        to_session_end.append(ended["at"] - started)

        site.set_active(people.bob.id, True)
        assert wait_until(
            lambda: sftp_with_key(sshd.port, people.bob, "ls\n", workdir=host.root).returncode == 0,
            timeout=15,
        )

    print(
        f"\nSCIM deactivation to a refused sftp key login ({RUNS} runs): {percentiles(to_refusal)}"
    )
    print(
        f"SCIM deactivation to the open session's end ({RUNS} runs): {percentiles(to_session_end)}"
    )
