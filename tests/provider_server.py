"""A stand-in for third-party providers, served over real sockets on 127.0.0.1.

Used by the outbound-HTTP and connection-test suites, browser tests and benchmarks::

    with ProviderServer() as provider:
        provider.url("/bearer")   # http://127.0.0.1:<port>/bearer

or standalone: ``python -m tests.provider_server --port 8765``.

Endpoints (credentials are the module constants below):

- ``GET /basic``            HTTP basic auth
- ``GET /bearer``           ``Authorization: Bearer BEARER_TOKEN``
- ``GET /header-key``       ``X-API-Key: API_KEY``
- ``GET /query-key``        ``?api_key=API_KEY``
- ``GET /ok-in-body``       200 either way, ``{"ok": true}`` only for ``Bearer BEARER_TOKEN`` (as Slack does)
- ``POST /oauth/token``     OAuth 2.0 token endpoint: ``client_credentials`` and ``refresh_token``
                            grants, client authentication in the body or with HTTP basic
- ``GET /oauth/protected``  accepts a token issued by ``/oauth/token``
- ``GET /slow?ms=200``      answers after ``ms`` milliseconds (also ``/slow/bearer?ms=…`` with auth);
                            with ``&together=N&group=G`` it answers once N requests of group G are
                            in at once instead (504 if they were not, within ``ms``): proof of
                            concurrency that does not depend on the machine's speed
- ``GET /status/<code>``    answers with that status
- ``GET /redirect?to=<url>`` 302 to ``to`` (a path on this server or any URL)
- ``GET /redirect-private`` 302 to the cloud metadata address
- ``GET /redirect-loop``    302 to itself, forever
- ``GET /huge?bytes=N``     N bytes of body (default 5 MiB; ``&chunked=1`` without Content-Length)
- ``GET /echo``             the request's method, path, headers and query as JSON (any method,
                            also under ``/echo/…``;
                            ``?status=N`` answers with status N, ``?type=T`` serves ``/bytes``-like
                            bodies: ``text``, ``binary``, ``json``)
- ``GET /flaky?key=K&fail=N&status=S&retry_after=R``
                            answers S (default 503, with ``Retry-After: R`` if given) to the
                            first N requests for key K, then 200
- ``GET /expired-once?key=K`` 401 to the first request for key K (as for a token that just
                            expired), then like ``/oauth/protected`` for any other token
- ``GET /me``               the account behind ``Bearer BEARER_TOKEN`` (or a token issued by
                            ``/oauth/token``): ``IDENTITY``, as GitHub's ``/user`` answers; 401 otherwise
- ``GET /me/nested``        the same account nested as Zendesk does: ``{"user": {...}}``
- ``GET /echo-auth?form=F`` 401 quoting the ``Authorization`` header back in form F: ``plain``,
                            ``percent``, ``base64``, ``base64url``, ``base64-nopad``, ``json``

Rejections echo the presented credential back in the error body, as careless providers do, so
tests can prove it is scrubbed from every message. Every request is recorded in ``hits``, and
with its headers and body in ``requests`` (``Recorded``); in ``answered`` once its whole answer
was sent (a client that gave up first is not).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import secrets
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

USERNAME = "ada"
PASSWORD = "basic-pass-7Hq2xV"
BEARER_TOKEN = "bearer-tok-9Zp4Lm2Qw"
API_KEY = "api-key-3Rt8Yu1Io"
CLIENT_ID = "client-id-5Gh6"
CLIENT_SECRET = "client-secret-8Jk2Df4"
REFRESH_TOKEN = "refresh-tok-1Bn7Vc3Xz"
METADATA_URL = "http://169.254.169.254/latest/meta-data/"
IDENTITY = {"id": 4217, "login": "ada", "name": "Ada Lovelace", "email": "ada@example.com", "plan": None}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic()

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK of the headers (40 ms on Linux), which no real provider adds.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format, *args):
        pass

    # --- plumbing

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.record_answer(self.command, self.path)

    def _chunked(self, size: int) -> None:
        """A body with no Content-Length, so only counting what arrives can cap it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while size > 0:
                part = chunk[: min(size, len(chunk))]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                size -= len(part)
            self.wfile.write(b"0\r\n\r\n")
            self.server.record_answer(self.command, self.path)
        except OSError:
            self.close_connection = True  # the client stopped reading, as it should

    def _json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload).encode())

    def _redirect(self, location: str) -> None:
        self._send(302, b"", headers={"Location": location})

    def _query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def _bearer(self) -> str:
        value = self.headers.get("Authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else ""

    def _read_body(self) -> bytes:
        # Read whole, so the body does not confuse the next request on this connection.
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _echoed_authorization(self, query: dict[str, str]) -> str:
        value = self.headers.get("Authorization", "")
        raw = value.encode()
        return {
            "plain": value,
            "percent": quote(value, safe=""),
            "base64": base64.b64encode(raw).decode(),
            "base64url": base64.urlsafe_b64encode(raw).decode(),
            "base64-nopad": base64.b64encode(raw).decode().rstrip("="),
            "json": json.dumps({"authorization": value}),
        }[query.get("form", "plain")]

    def _wait(self, query: dict[str, str]) -> bool:
        """``ms`` milliseconds, or until ``together`` requests of ``group`` are in (False if not)."""
        seconds = int(query.get("ms", "200")) / 1000
        if "together" not in query:
            time.sleep(seconds)
            return True
        try:
            self.server.barrier(query.get("group", ""), int(query["together"])).wait(timeout=seconds)
        except threading.BrokenBarrierError:
            return False
        return True

    def _ok(self) -> None:
        self._json(200, {"ok": True, "path": urlsplit(self.path).path})

    # --- endpoints

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        body = self._read_body() if self.command in ("GET", "HEAD") else self._body
        self.server.record(self.command, self.path, headers=self.headers, body=body)
        path = urlsplit(self.path).path
        query = self._query()
        if path == "/flaky":
            if self.server.count(query.get("key", "")) <= int(query.get("fail", "1")):
                retry_after = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
                payload = json.dumps({"message": "Try again"}).encode()
                return self._send(int(query.get("status", "503")), payload, headers=retry_after)
            return self._ok()
        if path == "/expired-once":
            if self.server.count(query.get("key", "")) == 1:
                return self._json(401, {"error": "invalid_token", "error_description": "The token expired"})
            if self.server.token_valid(self._bearer()):
                return self._ok()
            return self._json(401, {"error": "invalid_token"})
        if path == "/basic":
            expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") == expected:
                return self._ok()
            return self._json(401, {"message": "Bad username or password"})
        if path in ("/bearer", "/slow/bearer"):
            if path.startswith("/slow") and not self._wait(query):
                return self._json(504, {"message": "The requests did not arrive together"})
            token = self._bearer()
            if token == BEARER_TOKEN:
                return self._ok()
            return self._json(401, {"message": f"Token {token} is not valid"})
        if path == "/ok-in-body":
            if self._bearer() == BEARER_TOKEN:
                return self._json(200, {"ok": True})
            return self._json(200, {"ok": False, "error": "invalid_auth"})
        if path == "/header-key":
            key = self.headers.get("X-API-Key", "")
            if key == API_KEY:
                return self._ok()
            return self._json(403, {"error": f"Unknown API key '{key}'"})
        if path == "/query-key":
            key = query.get("api_key", "")
            if key == API_KEY:
                return self._ok()
            return self._json(401, {"error_description": f"api_key {key} was revoked"})
        if path in ("/me", "/me/nested"):
            token = self._bearer()
            if token != BEARER_TOKEN and not self.server.token_valid(token):
                return self._json(401, {"message": "Requires authentication"})
            return self._json(200, IDENTITY if path == "/me" else {"user": IDENTITY})
        if path == "/oauth/protected":
            if self.server.token_valid(self._bearer()):
                return self._ok()
            return self._json(401, {"error": "invalid_token"})
        if path == "/slow":
            if not self._wait(query):
                return self._json(504, {"message": "The requests did not arrive together"})
            return self._ok()
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            return self._json(status, {"message": f"Status {status} as requested"})
        if path == "/redirect":
            return self._redirect(query.get("to", "/echo"))
        if path == "/redirect-private":
            return self._redirect(METADATA_URL)
        if path == "/redirect-loop":
            return self._redirect("/redirect-loop")
        if path == "/huge":
            size = int(query.get("bytes", str(5 * 1024 * 1024)))
            if query.get("chunked"):
                return self._chunked(size)
            return self._send(200, b"x" * size, "text/plain")
        if path == "/echo-auth":
            return self._json(401, {"message": "bad credentials " + self._echoed_authorization(query)})
        if path == "/echo" or path.startswith("/echo/"):
            kind = query.get("type")
            if kind == "text":
                return self._send(200, "plain text é".encode(), "text/plain; charset=utf-8")
            if kind == "binary":
                return self._send(200, bytes(range(256)), "application/octet-stream")
            return self._json(
                int(query.get("status", "200")),
                {
                    "method": self.command,
                    "path": urlsplit(self.path).path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "query": query,
                    "body": body.decode("utf-8", errors="replace"),
                },
            )
        return self._json(404, {"message": "No such endpoint"})

    def do_POST(self):
        path = urlsplit(self.path).path
        self._body = self._read_body()
        if path != "/oauth/token":
            return self.do_GET()
        self.server.record(self.command, self.path, headers=self.headers, body=self._body)
        form = {k: v[0] for k, v in parse_qs(self._body.decode()).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return self._json(
                401, {"error": "invalid_client", "error_description": "Client authentication failed"}
            )
        grant = form.get("grant_type")
        if grant == "refresh_token" and form.get("refresh_token") != REFRESH_TOKEN:
            return self._json(
                400, {"error": "invalid_grant", "error_description": "Refresh token is invalid"}
            )
        if grant not in ("client_credentials", "refresh_token"):
            return self._json(400, {"error": "unsupported_grant_type"})
        token = self.server.issue_token()
        return self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address):
        super().__init__(address, _Handler)
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self.hits: list[tuple[str, str]] = []
        self.requests: list[Recorded] = []
        self._counts: dict[str, int] = {}
        self.answered: list[tuple[str, str]] = []
        self._barriers: dict[str, threading.Barrier] = {}

    def handle_error(self, request, client_address):
        # Clients hanging up early (a size cap, a timeout) are expected here, not errors.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def record(self, method: str, path: str, *, headers=None, body: bytes = b"") -> None:
        entry = Recorded(
            method=method,
            path=path,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
            at=time.monotonic(),
        )
        with self._lock:
            self.hits.append((method, path))
            self.requests.append(entry)

    def count(self, key: str) -> int:
        """How many requests have asked for ``key`` so far, this one included."""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def record_answer(self, method: str, path: str) -> None:
        with self._lock:
            self.answered.append((method, path))

    def barrier(self, group: str, parties: int) -> threading.Barrier:
        with self._lock:
            return self._barriers.setdefault(group, threading.Barrier(parties))

    def issue_token(self) -> str:
        token = "issued-" + secrets.token_urlsafe(16)
        with self._lock:
            self._tokens.add(token)
        return token

    def token_valid(self, token: str) -> bool:
        with self._lock:
            return token in self._tokens


class ProviderServer:
    """The server on an ephemeral port (or ``port``), serving from a daemon thread.

    With ``certfile``/``keyfile`` it speaks https (e.g. with a self-signed certificate).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, certfile=None, keyfile=None) -> None:
        self._server = _Server((host, port))
        scheme = "http"
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.host, self.port = self._server.server_address[:2]
        self.origin = f"{scheme}://{self.host}:{self.port}"
        self._thread = threading.Thread(
            # shutdown() waits for serve_forever's next poll: every 0.5 s by default.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="provider-server",
            daemon=True,
        )

    def url(self, path: str = "/") -> str:
        return self.origin + path

    @property
    def hits(self) -> list[tuple[str, str]]:
        return list(self._server.hits)

    @property
    def requests(self) -> list[Recorded]:
        return list(self._server.requests)

    def requests_to(self, path: str) -> list[Recorded]:
        """Recorded requests whose path (without the query) is ``path``."""
        return [r for r in self.requests if urlsplit(r.path).path == path]

    @property
    def answered(self) -> list[tuple[str, str]]:
        return list(self._server.answered)

    def start(self) -> ProviderServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    with ProviderServer(args.host, args.port) as provider:
        print(f"Provider server on {provider.origin}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
