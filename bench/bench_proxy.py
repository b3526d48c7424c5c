"""Overhead of the proxy: a provider called through ``POST /api/user-integrations/:id/proxy``
against the same provider called directly with ``requests``, one process each.

Usage (from the repository root, after ``bin/install``)::

    .venv/bin/python -m bench.bench_proxy
    .venv/bin/python -m bench.bench_proxy --seconds 3 --rounds 5

What it does:

1. Starts a provider that answers every request at once with a small JSON body (its own process,
   plain ``http.server`` with keep-alive, on 127.0.0.1).
2. Prepares a fresh SQLite database, or with ``--database-url`` a PostgreSQL one you can spare
   (``bench.settings``: the production settings, DEBUG off), and
   seeds through the real services an integration whose base URL is that provider, an API key, a
   user and one bearer-token connection (credentials really encrypted).
3. Serves the app with gunicorn: one worker process with one thread, so the figure is per process;
   ``OUTBOUND_ALLOWLIST`` lets it reach the provider and ``PROXY_RATE`` is raised out of the way.
4. Measures from this process, one request at a time over a keep-alive ``requests.Session``:

   - ``direct``: ``GET <provider>/items`` with the bearer token, as a host product would without
     Connections;
   - ``proxy``: ``POST /api/user-integrations/<id>/proxy {"method": "GET", "path": "/items"}`` with
     the API key: the app authenticates the key, loads and decrypts the connection, checks the path,
     the rate limit, expands headers, calls the provider through the guarded client, records the
     call and answers the provider's result.

   After a warm-up, ``--rounds`` rounds give each a slice of ``--seconds`` in turn, so machine noise
   falls on both alike.

Output: requests/second and p50/p95 latency of each, the ratio proxy/direct (the target is at
least 0.3) and the p50 latency the proxy adds, ending with a machine-parseable line::

    RESULT proxy_rps=… direct_rps=… ratio=… proxy_p50_ms=… direct_p50_ms=… added_p50_ms=…
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # also when run as a file, not with -m

from bench.bench_connections_api import APP, HOST, SETTINGS, free_port, start_server  # noqa: E402

TOKEN = "bench-provider-token-0123456789"
ANSWER = json.dumps({"items": [{"id": 1, "name": "Ada"}], "total": 1}).encode()


# --- The provider


class _InstantHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body in one segment: with Nagle's algorithm and delayed ACKs a keep-alive client
    # would wait ~40 ms per answer, and that wait, not either side's work, would be measured.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        body = ANSWER if ok else b'{"message": "bad token"}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve_provider(port: int) -> None:
    server = ThreadingHTTPServer((HOST, port), _InstantHandler)
    server.daemon_threads = True
    server.serve_forever()


# --- Seeding


def seed(origin: str) -> tuple[str, str]:
    """(raw API key, connection id) of a fresh database."""
    from accounts.api_keys import api_key_create
    from accounts.authentication import ApiKeyPrincipal
    from accounts.services import user_create
    from connections.services import connection_create
    from integrations.services import integration_create

    integration = integration_create(
        document={
            "id": f"bench-{secrets.token_hex(4)}",
            "displayName": "Bench provider",
            "description": "Answers at once",
            "category": "testing",
            "status": "active",
            "baseUrl": origin,
            "allowedHosts": [HOST],
            "headers": {"X-User-Email": "${user.email}"},
            "testRequest": {"method": "GET", "path": "/items"},
            "authMethods": [
                {
                    "id": "token",
                    "type": "BEARER",
                    "label": "Token",
                    "fields": [{"name": "token", "label": "Token", "type": "password", "required": True}],
                    "apply": {"type": "bearer", "field": "token"},
                }
            ],
        }
    )
    api_key, raw_key = api_key_create(name="bench")
    tag = secrets.token_hex(4)
    user = user_create(
        user_id=f"bench_proxy_{tag}", name="Bench User", email=f"bench-proxy-{tag}@example.com"
    )
    connection = connection_create(
        actor=ApiKeyPrincipal(api_key),
        user=user,
        integration_id=integration.pk,
        auth_method_id="token",
        credentials={"token": TOKEN},
    )
    return raw_key, connection.connection_id


# --- Measuring


def timed(call, seconds: float) -> list[float]:
    """Latencies (seconds) of ``call()`` made back to back for ``seconds``."""
    latencies = []
    ends = time.perf_counter() + seconds
    while (now := time.perf_counter()) < ends:
        call()
        latencies.append(time.perf_counter() - now)
    return latencies


def measure(*, provider_origin: str, app_origin: str, raw_key: str, connection_id: str, options) -> dict:
    direct_session, proxy_session = requests.Session(), requests.Session()
    direct_session.headers["Authorization"] = f"Bearer {TOKEN}"
    proxy_session.headers["Authorization"] = f"Bearer {raw_key}"
    proxy_url = f"{app_origin}/api/user-integrations/{connection_id}/proxy"
    payload = {"method": "GET", "path": "/items"}

    def direct():
        response = direct_session.get(f"{provider_origin}/items", timeout=10)
        if response.status_code != 200:
            raise SystemExit(f"direct call answered {response.status_code}")

    def proxy():
        response = proxy_session.post(proxy_url, json=payload, timeout=30)
        if response.status_code != 200 or response.json().get("status") != 200:
            raise SystemExit(f"proxy answered {response.status_code}: {response.text[:300]}")

    for call in (direct, proxy):
        timed(call, options.warmup)
    results: dict[str, list[float]] = {"direct": [], "proxy": []}
    for round_number in range(options.rounds):
        order = (("direct", direct), ("proxy", proxy))
        for name, call in order if round_number % 2 == 0 else reversed(order):
            results[name] += timed(call, options.seconds)
    return results


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


def report(results: dict[str, list[float]], options) -> None:
    seconds = options.rounds * options.seconds
    direct, proxy = summary(results["direct"], seconds), summary(results["proxy"], seconds)
    ratio = proxy["rps"] / direct["rps"]
    added = proxy["p50_ms"] - direct["p50_ms"]
    for name, figures in (("direct", direct), ("proxy", proxy)):
        print(
            f"{name:>7}: {figures['rps']:8.0f} requests/s   p50 {figures['p50_ms']:6.2f} ms   "
            f"p95 {figures['p95_ms']:6.2f} ms"
        )
    verdict = "meets" if ratio >= 0.3 else "BELOW"
    print(f"  ratio: {ratio:.2f} of the direct figure ({verdict} the 0.3 target); p50 added {added:.2f} ms")
    print(
        f"RESULT proxy_rps={proxy['rps']:.0f} direct_rps={direct['rps']:.0f} ratio={ratio:.3f} "
        f"proxy_p50_ms={proxy['p50_ms']:.2f} direct_p50_ms={direct['p50_ms']:.2f} added_p50_ms={added:.2f}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one slice (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="slices per side (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per side, seconds (default 1)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database you can spare (migrated; the rows added stay) instead of a fresh SQLite file",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="connections-bench-proxy-"))
    provider_port = free_port()
    provider = multiprocessing.Process(target=_serve_provider, args=(provider_port,), daemon=True)
    provider.start()
    provider_origin = f"http://{HOST}:{provider_port}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DATABASE_URL": options.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            "OUTBOUND_ALLOWLIST": HOST,
            "PROXY_RATE": "100000000/min",
        }
    )
    import django
    from django.core.management import call_command
    from django.db import connections as db_connections

    django.setup()
    server = None
    try:
        call_command("migrate", verbosity=0)
        raw_key, connection_id = seed(provider_origin)
        db_connections.close_all()
        server = start_server(
            app=APP, env=dict(os.environ), workers=1, threads=1, log_path=workdir / "gunicorn.log"
        )
        print(
            f"provider on {provider_origin}; gunicorn on {HOST}:{server.port}, 1 worker x 1 thread; "
            f"{options.rounds} rounds x {options.seconds:g} s per side; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        results = measure(
            provider_origin=provider_origin,
            app_origin=f"http://{HOST}:{server.port}",
            raw_key=raw_key,
            connection_id=connection_id,
            options=options,
        )
        report(results, options)
    finally:
        if server is not None:
            server.stop()
        provider.terminate()
        db_connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
