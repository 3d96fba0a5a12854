"""A webhook receiver on 127.0.0.1 that answers from a script and records what it got."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    # Set to hold the request until the test releases it (a receiver mid-answer).
    hold: threading.Event | None = None


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float
    answered: int


class Receiver:
    def __init__(self):
        self.script: list[Answer] = []
        self.default = Answer()
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.arrived:
                    answer = receiver.script.pop(0) if receiver.script else receiver.default
                    receiver.received.append(
                        Received(self.path, dict(self.headers), body, time.time(), answer.status)
                    )
                    receiver.arrived.notify_all()
                if answer.hold is not None:
                    answer.hold.wait(60)
                time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the sender gave up (a timeout, a killed worker)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
