"""A stand-in for the host product that embeds Connections: a real HTTP server on loopback.

- ``GET /done?…``      the returnUrl page: shows the query it was sent back with
- ``GET /frame?src=U`` a page that frames ``U`` (``<iframe id="connect">``)
"""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/done":
            rows = "".join(
                f'<dt>{html.escape(k)}</dt><dd id="{html.escape(k).replace("connectionId", "connection-id")}">'
                f"{html.escape(v)}</dd>"
                for k, v in query.items()
            )
            body = (
                f"<!doctype html><title>Host product</title><h1>Back in the host product</h1><dl>{rows}</dl>"
            )
        elif parts.path == "/frame":
            src = html.escape(query.get("src", ""), quote=True)
            body = (
                "<!doctype html><title>Host product</title><h1>Host product settings</h1>"
                f'<iframe id="connect" src="{src}" width="1000" height="700"></iframe>'
            )
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class HostSite:
    def __init__(self, *, hostname: str = "127.0.0.1") -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.origin = f"http://{hostname}:{self._server.server_address[1]}"
        # shutdown() waits for serve_forever's next poll: every 0.5 s by default, each test that much.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="host-site", daemon=True
        )

    def url(self, path: str) -> str:
        return self.origin + path

    def __enter__(self) -> HostSite:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
