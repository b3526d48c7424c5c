"""A host product's webhook endpoint, served over real sockets on 127.0.0.1, that verifies every
delivery with the ``standardwebhooks`` library::

    with WebhookReceiver(secret) as receiver:
        receiver.url           # http://127.0.0.1:<port>/hooks
        receiver.fail_next(2)  # answer 500 to the next two deliveries
        receiver.received      # every delivery: headers, raw body, verified payload or error

A delivery whose signature does not verify is answered 401 and recorded with ``error`` set.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # names lower-cased
    body: bytes
    payload: dict | None  # as verified; None when verification failed
    error: str | None
    answered: int

    @property
    def message_id(self) -> str:
        return self.headers.get("webhook-id", "")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        payload, error = None, None
        try:
            payload = Webhook(self.server.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            error = str(exc)
        status = 401 if error else self.server.next_status()
        self.server.add(Received(headers=headers, body=body, payload=payload, error=error, answered=status))
        answer = json.dumps({"ok": status < 300}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, secret: str):
        super().__init__(address, _Handler)
        self.secret = secret
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.failures_left = 0

    def next_status(self) -> int:
        with self.lock:
            if self.failures_left:
                self.failures_left -= 1
                return 500
            return 200

    def add(self, received: Received) -> None:
        with self.lock:
            self.received.append(received)


class WebhookReceiver:
    def __init__(self, secret: str = "whsec_" + "A" * 43) -> None:
        self._server = _Server(("127.0.0.1", 0), secret)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(
            # shutdown() waits for serve_forever's next poll: every 0.5 s by default.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-receiver",
            daemon=True,
        )

    @property
    def secret(self) -> str:
        return self._server.secret

    @secret.setter
    def secret(self, value: str) -> None:
        self._server.secret = value

    @property
    def received(self) -> list[Received]:
        with self._server.lock:
            return list(self._server.received)

    def fail_next(self, count: int) -> None:
        with self._server.lock:
            self._server.failures_left = count

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
