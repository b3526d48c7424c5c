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
least 0.3) and the p50 latency the proxy adds; then the CPU time each request costs every process
on its way (this client, the app's gunicorn worker, the provider; from /proc) and the SQL queries
of one proxied call, ending with machine-parseable lines::

    RESULT proxy_rps=… direct_rps=… ratio=… proxy_p50_ms=… direct_p50_ms=… added_p50_ms=…
    RESULT direct_client_cpu_ms=… proxy_client_cpu_ms=… app_cpu_ms=… provider_cpu_ms=… cpu_ratio=… queries=…

Each request waits for the one before, so on an idle machine a request takes about the CPU time
it costs along its chain; ``cpu_ratio`` is the ratio those CPU times alone give (direct: client +
provider; proxy: client + app + provider). Other busy processes delay every hop of a chain, and
the proxy's chain has twice as many (client, app, provider, app, client), so on a loaded machine
the measured ratio falls well below ``cpu_ratio`` while the CPU figures hardly move.
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
from dataclasses import dataclass, field
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


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) so far, from Linux /proc."""
    # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    """What one side (direct or proxy) measured over all its slices."""

    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds

    def per_request_ms(self, process: str) -> float:
        return self.cpu.get(process, 0.0) / len(self.latencies) * 1000


def timed(call, seconds: float) -> list[float]:
    """Latencies (seconds) of ``call()`` made back to back for ``seconds``."""
    latencies = []
    ends = time.perf_counter() + seconds
    while (now := time.perf_counter()) < ends:
        call()
        latencies.append(time.perf_counter() - now)
    return latencies


def measure(
    *, provider_origin: str, app_origin: str, raw_key: str, connection_id: str, cpu_of, options
) -> dict:
    """``cpu_of()``: the CPU seconds so far of each process on the way, by name."""
    direct_session, proxy_session = requests.Session(), requests.Session()
    direct_session.headers["Authorization"] = f"Bearer {TOKEN}"
    proxy_session.headers["Authorization"] = f"Bearer {raw_key}"
    proxy_url = f"{app_origin}/api/user-integrations/{connection_id}/proxy"
    payload = {"method": "GET", "path": "/items"}

    # Both read the provider's answer, as a host product would.
    def direct():
        response = direct_session.get(f"{provider_origin}/items", timeout=10)
        if response.status_code != 200 or response.json().get("total") != 1:
            raise SystemExit(f"direct call answered {response.status_code}")

    def proxy():
        response = proxy_session.post(proxy_url, json=payload, timeout=30)
        if response.status_code != 200 or response.json().get("body", {}).get("total") != 1:
            raise SystemExit(f"proxy answered {response.status_code}: {response.text[:300]}")

    for call in (direct, proxy):
        timed(call, options.warmup)
    sides = {"direct": Side(), "proxy": Side()}
    for round_number in range(options.rounds):
        order = (("direct", direct), ("proxy", proxy))
        for name, call in order if round_number % 2 == 0 else reversed(order):
            before, started = cpu_of(), time.perf_counter()
            sides[name].latencies += timed(call, options.seconds)
            after = cpu_of()
            sides[name].seconds += time.perf_counter() - started
            for process, seconds in after.items():
                sides[name].cpu[process] = sides[name].cpu.get(process, 0.0) + seconds - before[process]
    return sides


def query_count(*, raw_key: str, connection_id: str) -> int:
    """SQL queries of one proxied call in the steady state, made in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    url = f"/api/user-integrations/{connection_id}/proxy"
    payload = {"method": "GET", "path": "/items"}
    client.post(url, payload, content_type="application/json")  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, payload, content_type="application/json")
    if response.status_code != 200:
        raise SystemExit(f"proxy answered {response.status_code} in process: {response.content[:300]!r}")
    return len(captured)


def summary(side: Side) -> dict[str, float]:
    ordered = sorted(side.latencies)
    return {
        "rps": len(ordered) / side.seconds,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


def report(sides: dict[str, Side], *, queries: int) -> None:
    direct, proxy = summary(sides["direct"]), summary(sides["proxy"])
    ratio = proxy["rps"] / direct["rps"]
    added = proxy["p50_ms"] - direct["p50_ms"]
    for name, figures in (("direct", direct), ("proxy", proxy)):
        print(
            f"{name:>7}: {figures['rps']:8.0f} requests/s   p50 {figures['p50_ms']:6.2f} ms   "
            f"p95 {figures['p95_ms']:6.2f} ms"
        )
    verdict = "meets" if ratio >= 0.3 else "BELOW"
    print(f"  ratio: {ratio:.2f} of the direct figure ({verdict} the 0.3 target); p50 added {added:.2f} ms")
    cpu = {
        "direct_client": sides["direct"].per_request_ms("client"),
        "proxy_client": sides["proxy"].per_request_ms("client"),
        "app": sides["proxy"].per_request_ms("app"),
        # The provider does the same work for both sides: their average is the better estimate.
        "provider": (sides["direct"].per_request_ms("provider") + sides["proxy"].per_request_ms("provider"))
        / 2,
    }
    proxy_chain = cpu["proxy_client"] + cpu["app"] + cpu["provider"]
    # CPU time is counted in clock ticks: a very short run may count none.
    cpu_ratio = (cpu["direct_client"] + cpu["provider"]) / proxy_chain if proxy_chain else 0.0
    print(
        f"  CPU per request: direct = client {cpu['direct_client']:.2f} + provider {cpu['provider']:.2f} ms; "
        f"proxy = client {cpu['proxy_client']:.2f} + app {cpu['app']:.2f} + provider {cpu['provider']:.2f} ms"
    )
    print(f"  ratio from CPU time alone: {cpu_ratio:.2f}; SQL queries per proxied call: {queries}")
    print(
        f"RESULT proxy_rps={proxy['rps']:.0f} direct_rps={direct['rps']:.0f} ratio={ratio:.3f} "
        f"proxy_p50_ms={proxy['p50_ms']:.2f} direct_p50_ms={direct['p50_ms']:.2f} added_p50_ms={added:.2f}"
    )
    print(
        "RESULT "
        + " ".join(f"{name}_cpu_ms={value:.3f}" for name, value in cpu.items())
        + f" cpu_ratio={cpu_ratio:.3f} queries={queries}"
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
        queries = query_count(raw_key=raw_key, connection_id=connection_id)
        db_connections.close_all()
        server = start_server(
            app=APP, env=dict(os.environ), workers=1, threads=1, log_path=workdir / "gunicorn.log"
        )
        print(
            f"provider on {provider_origin}; gunicorn on {HOST}:{server.port}, 1 worker x 1 thread; "
            f"{options.rounds} rounds x {options.seconds:g} s per side; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )

        def cpu_of() -> dict[str, float]:
            app = server.worker_cpu_seconds()
            if app is None:
                raise SystemExit("CPU times need Linux /proc")
            return {"client": time.process_time(), "app": app, "provider": process_cpu_seconds(provider.pid)}

        sides = measure(
            provider_origin=provider_origin,
            app_origin=f"http://{HOST}:{server.port}",
            raw_key=raw_key,
            connection_id=connection_id,
            cpu_of=cpu_of,
            options=options,
        )
        report(sides, queries=queries)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        if server is not None:
            server.stop()
        provider.terminate()
        db_connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
