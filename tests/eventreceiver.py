"""A local webhook receiver for the events tests: an HTTP server in a thread on a free port that
checks each POST's signature and keeps the events, or answers 503 while it is `down`."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, secret: str):
        self.secret = secret.encode()
        self.events: list[dict] = []
        self.bad_signatures = 0
        self.down = False
        self.redirect: tuple[int, str] | None = None  # (status, Location): the receiver moved
        self.gets = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.redirect is not None:
                    self.send_response(receiver.redirect[0])
                    self.send_header("Location", receiver.redirect[1])
                    self.end_headers()
                    return
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                expected = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Barriosms-Signature", "")):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                event = json.loads(body)
                assert self.headers["X-Barriosms-Event"] == event["kind"]
                assert self.headers["X-Barriosms-Delivery"] == str(event["id"])
                with receiver._lock:
                    receiver.events.append(event)
                self.send_response(204)
                self.end_headers()

            def do_GET(self):  # noqa: N802 - what a followed redirect would have become
                receiver.gets += 1
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/eventos"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> list[int]:
        with self._lock:
            return [e["id"] for e in self.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
