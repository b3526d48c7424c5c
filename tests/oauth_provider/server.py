"""The provider's HTTP process: ``python -m tests.oauth_provider.server [--host H] [--port P]``.

Prints one JSON line ``{"origin": …}`` once it listens, then serves until stdin closes (the
parent that started it exited) or it is terminated. See ``tests/oauth_provider/__init__.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.util import scope_to_list

from tests.oauth_provider import pages
from tests.oauth_provider.authorization import (
    PASSWORD,
    TOKEN_AUTH_METHODS,
    USER,
    Client,
    HttpRequest,
    Store,
    build_server,
    validated_options,
)

SESSION_COOKIE = "oauth_provider_session"
SITE_API = re.compile(r"/ex/jira/[^/]+/rest/api/3/myself")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def log_message(self, format, *args):
        pass

    # --- plumbing

    def _send(self, status: int, body: bytes, content_type: str, headers=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload, headers=()) -> None:
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _html(self, status: int, html: str, headers=()) -> None:
        self._send(status, html.encode(), "text/html; charset=utf-8", headers)

    def _redirect(self, location: str, headers=()) -> None:
        self._send(302, b"", "text/plain", [("Location", location), *headers])

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _oauth_request(self, body: str = "") -> HttpRequest:
        parts = urlsplit(self.path)
        uri = self.server.origin + self.path
        return HttpRequest(self.command, uri, self.headers, parts.query, body)

    def _session(self) -> tuple[str, str] | None:
        """(session id, CSRF token) of a signed-in browser, else None."""
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                with self.server.store.lock:
                    csrf = self.server.store.sessions.get(value)
                return (value, csrf) if csrf else None
        return None

    def _reset_connection(self) -> None:
        """Abort the TCP connection (RST), as a crashed or firewalled token endpoint does."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    # --- routing

    def do_GET(self):
        routes = {
            "/authorize": self._authorize,
            "/login": self._login_form,
            "/userinfo": self._userinfo,
            "/oauth/token/accessible-resources": self._accessible_resources,
            "/.well-known/oauth-authorization-server": self._metadata,
            "/_control/stats": lambda: self._json(200, self.server.store.stats()),
        }
        path = urlsplit(self.path).path
        if SITE_API.fullmatch(path):
            return self._site_api(path)
        handler = routes.get(path)
        return handler() if handler else self._json(404, {"error": "not_found"})

    def do_POST(self):
        body = self._body()
        routes = {
            "/authorize": self._decide,
            "/login": self._login,
            "/token": self._token,
            "/revoke": self._revoke,
        }
        path = urlsplit(self.path).path
        if path in routes:
            return routes[path](body)
        if path.startswith("/_control/"):
            return self._control(path.removeprefix("/_control/"), body)
        return self._json(404, {"error": "not_found"})

    # --- the end user's side: sign in, consent

    def _authorize(self) -> None:
        session = self._session()
        request = self._oauth_request()
        grant = self._consent_grant(request, signed_in=session is not None)
        if grant is None:
            return
        if session is None:
            return self._redirect("/login?next=" + quote(self.path, safe=""))
        self._html(
            200,
            pages.consent_page(
                action=self.path,
                client_id=grant.request.client.client_id,
                scopes=scope_to_list(grant.request.payload.scope) or [],
                csrf=session[1],
                user=USER["login"],
            ),
        )

    def _consent_grant(self, request: HttpRequest, *, signed_in: bool):
        """The validated grant, or None once an error page or error redirect has been sent."""
        try:
            return self.server.oauth.get_consent_grant(request, end_user=USER if signed_in else None)
        except OAuth2Error as error:
            status, _, headers = self.server.oauth.handle_error_response(request, error)
            if status == 302:
                # redirect_uri was validated against the client: the error goes back to it.
                self._redirect(dict(headers)["Location"])
            else:
                self._html(400, pages.error_page(error=error.error, description=error.description or ""))
            return None

    def _decide(self, body: str) -> None:
        session = self._session()
        form = parse_qs(body)
        if session is None or not secrets.compare_digest(form.get("csrf", [""])[0], session[1]):
            return self._html(403, pages.error_page(error="forbidden", description="Sign in again."))
        request = self._oauth_request(body)
        grant = self._consent_grant(request, signed_in=True)
        if grant is None:
            return
        user = USER if form.get("decision", [""])[0] == "approve" else None
        with self.server.store.lock:
            status, _, headers = self.server.oauth.create_authorization_response(request, user, grant)
        self._redirect(dict(headers)["Location"])

    def _login_form(self) -> None:
        next_url = parse_qs(urlsplit(self.path).query).get("next", ["/"])[0]
        self._html(200, pages.login_page(next_url=next_url))

    def _login(self, body: str) -> None:
        form = {key: values[0] for key, values in parse_qs(body).items()}
        next_url = form.get("next", "")
        if not next_url.startswith("/authorize?"):
            next_url = "/"
        username, password = form.get("username", ""), form.get("password", "")
        if username != USER["login"] or not secrets.compare_digest(password.encode(), PASSWORD.encode()):
            page = pages.login_page(next_url=next_url, error="Incorrect username or password.")
            return self._html(200, page)
        session_id, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self.server.store.lock:
            self.server.store.sessions[session_id] = csrf
        cookie = f"{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Lax"
        self._redirect(next_url, [("Set-Cookie", cookie)])

    # --- the client's side: token, revocation, userinfo

    def _token(self, body: str) -> None:
        store = self.server.store
        request = self._oauth_request(body)
        with store.lock:
            store.token_requests[request.form.get("grant_type", "")] += 1
            config = dict(store.config)
        if config["token_endpoint"] == "down":
            return self._reset_connection()
        time.sleep(config["token_delay_ms"] / 1000)
        if config["token_endpoint"] == "error":
            return self._html(500, "<h1>Internal Server Error</h1>")
        with store.lock:
            status, payload, headers = self.server.oauth.create_token_response(request)
        self._json(status, payload, headers)

    def _revoke(self, body: str) -> None:
        store = self.server.store
        with store.lock:
            store.revocation_requests += 1
            status, payload, headers = self.server.oauth.create_endpoint_response(
                "revocation", self._oauth_request(body)
            )
        self._json(status, payload, headers)

    def _bearer_refused(self) -> bool:
        """Answers 401 (and True) unless the request carries a live access token."""
        try:
            self.server.protector.validate_request(None, self._oauth_request())
        except OAuth2Error as error:
            status, payload, headers = error()
            self._json(status, dict(payload), headers)
            return True
        return False

    def _userinfo(self) -> None:
        if not self._bearer_refused():
            self._json(200, USER)

    def _accessible_resources(self) -> None:
        if not self._bearer_refused():
            with self.server.store.lock:
                self._json(200, list(self.server.store.config["accessible_resources"]))

    def _site_api(self, path: str) -> None:
        """A site's API behind a gateway, as Atlassian's /ex/jira/{cloudId}/rest/api/3/myself:
        the current user for a live token and a listed cloudId, 404 for another id."""
        if self._bearer_refused():
            return
        cloud_id = path.split("/")[3]
        with self.server.store.lock:
            known = {r["id"] for r in self.server.store.config["accessible_resources"]}
        if cloud_id not in known:
            return self._json(404, {"errorMessages": ["Site not found"]})
        self._json(
            200, {"accountId": str(USER["id"]), "displayName": USER["name"], "emailAddress": USER["email"]}
        )

    def _metadata(self) -> None:
        origin = self.server.origin
        self._json(
            200,
            {
                "issuer": origin,
                "authorization_endpoint": origin + "/authorize",
                "token_endpoint": origin + "/token",
                "revocation_endpoint": origin + "/revoke",
                "userinfo_endpoint": origin + "/userinfo",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
                "code_challenge_methods_supported": ["S256"],
            },
        )

    # --- control API for tests and benchmarks in other processes

    def _control(self, action: str, body: str) -> None:
        store = self.server.store
        try:
            data = json.loads(body or "{}")
            if action == "clients":
                client = Client(**data)
                if client.token_auth not in TOKEN_AUTH_METHODS:
                    raise ValueError(f"token_auth must be one of {TOKEN_AUTH_METHODS}")
                with store.lock:
                    store.clients[client.client_id] = client
                return self._json(201, {"client_id": client.client_id})
            if action == "tokens":
                count = int(data.get("count", 1))
                tokens = [self._mint_tokens(data["client_id"], data.get("scope", "")) for _ in range(count)]
                return self._json(200, {"tokens": tokens})
            if action == "configure":
                with store.lock:
                    store.config.update(validated_options(data))
                    return self._json(200, store.config)
            if action == "reset":
                store.reset()
            elif action == "invalidate-grants":
                store.invalidate_grants()
            else:
                return self._json(404, {"error": f"no control action {action!r}"})
        except (TypeError, ValueError, KeyError) as error:
            return self._json(400, {"error": str(error)})
        self._json(200, {"ok": True})

    def _mint_tokens(self, client_id: str, scope: str) -> dict:
        """A grant as if alice had approved ``client_id`` (for set-ups that need many, like benches)."""
        store = self.server.store
        with store.lock:
            client = store.clients[client_id]
            request = HttpRequest("POST", self.server.origin + "/token", {})
            request.client = client
            token = self.server.oauth.generate_token("authorization_code", client, USER, scope)
            self.server.oauth.save_token(token, request)
        return token


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address):
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        self.origin = f"http://{host}:{port}"
        self.store = Store()
        self.oauth, self.protector = build_server(self.store)

    def handle_error(self, request, client_address):
        # Clients that hang up early (timeouts in the code under test) are expected, not errors.
        if not isinstance(sys.exc_info()[1], ConnectionError | OSError):
            super().handle_error(request, client_address)


def _exit_with_parent() -> None:
    """The parent holds our stdin; EOF means it is gone, so no orphan outlives a killed test run."""
    sys.stdin.buffer.read()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description="OAuth 2.0 authorization server for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--exit-with-stdin", action="store_true", help="stop when stdin reaches EOF")
    args = parser.parse_args()
    server = _HttpServer((args.host, args.port))
    print(json.dumps({"origin": server.origin}), flush=True)
    if args.exit_with_stdin:
        threading.Thread(target=_exit_with_parent, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
