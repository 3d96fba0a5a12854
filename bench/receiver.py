"""A webhook receiver in the benchmark process, and the endpoint that points at it.

The receiver is a threaded http.server on a free 127.0.0.1 port. Each scenario says what
it keeps of an arrival (`record`, called under the receiver's lock) and the receiver
answers `answer`, which a scenario may change while it runs (an outage, then recovery).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench import seed


class Receiver:
    def __init__(self, answer: int = 204):
        self.answer = answer
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                arrived = time.time()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                signed = bool(self.headers.get("webhook-signature"))
                with receiver.lock:
                    status = receiver.answer
                    receiver.record(body, arrived, status=status, signed=signed)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, body: dict, arrived: float, *, status: int, signed: bool) -> None:
        raise NotImplementedError

    def wait_until(self, condition, timeout: float, *, workers=()) -> bool:
        """Whether `condition()` (called under the lock) held within `timeout` seconds;
        a worker process in `workers` that exits meanwhile stops the run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return True
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError("a job worker exited during the run (see its log)")
            time.sleep(0.05)
        return False

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def register_endpoint(organization, url: str, event_types: list[str]):
    """The organization's one enabled endpoint, at `url`; earlier runs' are disabled."""
    from accounts.events.models import WebhookEndpoint
    from accounts.services.integrations import webhook_endpoint_create, webhook_endpoint_disable

    # An earlier run's endpoint points at a receiver that is gone: its pending
    # deliveries are cancelled rather than retried against this run's worker.
    for old in WebhookEndpoint.objects.filter(organization=organization, enabled=True):
        webhook_endpoint_disable(endpoint=old, reason="An earlier benchmark run.", actor=seed.ACTOR)
    endpoint, _ = webhook_endpoint_create(
        organization=organization, url=url, actor=seed.ACTOR, event_types=event_types
    )
    return endpoint


def drop_leftover_jobs() -> int:
    """Cancel the queued deliveries of earlier runs, whose endpoints were disabled above:
    this run's workers would otherwise work through them first.

    One statement, what procrastinate's cancel does for one job (a run stopped during an
    outage leaves thousands); it runs on the bench database the process is set up on.
    """
    from django.db import connection

    from accounts.events.fanout import DELIVER_QUEUE

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'cancelled' "
            "WHERE queue_name = %s AND status = 'todo'",
            [DELIVER_QUEUE],
        )
        return cursor.rowcount
