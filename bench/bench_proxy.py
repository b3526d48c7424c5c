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
3. Serves the app with gunicorn: ONE worker process (gthread, keep-alive) with ``--app-threads``
   threads, default 1: against a provider that answers at once the process is bound by its CPU, so
   one thread is its capacity; more threads only add switching between them (``--app-threads 4``,
   a deployment's default for slow providers, carries about 10% less). The direct side is measured
   at its best thread count too. ``OUTBOUND_ALLOWLIST`` lets it reach the provider and
   ``PROXY_RATE`` is raised out of the way.
4. Calls each side over keep-alive ``requests`` sessions, reading the provider's JSON:

   - ``direct``: ``GET <provider>/items`` with the bearer token, as a host product would without
     Connections;
   - ``proxy``: ``POST /api/user-integrations/<id>/proxy {"method": "GET", "path": "/items"}`` with
     the API key: the app authenticates the key, loads and decrypts the connection, checks the path,
     the rate limit, expands headers, calls the provider through the guarded client, records the
     call and answers the provider's result.

Two measurements, each in ``--rounds`` slices of ``--seconds`` per side, the sides alternating so
machine noise falls on both alike:

- **Per process, kept busy** (the issue's figure, ``ratio``): how many requests/s the app's one
  process carries when callers keep it busy, against how many one process calling the provider
  directly with ``requests`` makes. The callers are processes of their own (one keep-alive session
  each); the direct caller is one process with as many threads as make it fastest. A calibration
  first tries ``--callers`` caller processes (default 1,2,4,8) and ``--direct-threads`` threads
  (default 1,2,4) and prints each rate with the CPU each process used: the app is saturated where
  more callers no longer raise the rate, and its CPU share says how much of a core it got. Then
  the best of each is measured. This is a proxy process's capacity: the caller's own work runs
  elsewhere, as a host product's would.
- **One request at a time** from this process (``sequential_ratio`` and ``added_p50_ms``): each
  request waits for the one before, so a request takes the latency of its whole chain: this
  client, the app, the provider, back through the app to the client. It also counts the caller's
  own extra work (a POST with a JSON body and an envelope to parse) and two extra hops, so it is
  the latency a caller sees, not what a proxy process can carry.

Output: for each, requests/second and the ratio proxy/direct (the target is at least 0.3 per
process), the p50/p95 latency and the p50 latency the proxy adds; the CPU time each request costs
every process on its way (callers, the app's gunicorn worker, the provider; from /proc) and the
SQL queries of one proxied call, ending with machine-parseable lines::

    RESULT proxy_rps=… direct_rps=… ratio=… proxy_callers=… direct_threads=… app_cpu_share=…
           direct_caller_cpu_share=… busy_app_cpu_ms=… busy_direct_caller_cpu_ms=… core_ratio=…
    RESULT sequential_proxy_rps=… sequential_direct_rps=… sequential_ratio=… proxy_p50_ms=…
           direct_p50_ms=… added_p50_ms=…
    RESULT direct_client_cpu_ms=… proxy_client_cpu_ms=… app_cpu_ms=… provider_cpu_ms=… cpu_ratio=… queries=…

On a 2-core machine the callers and the provider share the cores with the app, and other busy
processes take their share too: ``app_cpu_share`` (and the direct caller's) says how much of one
core the measured process got. Where it is well below 1, ``core_ratio`` (requests per CPU-second of
the app's process against the direct caller's: ``busy_direct_caller_cpu_ms / busy_app_cpu_ms``) is
the capacity each would have on a core of its own, and moves little with the machine's load.
``cpu_ratio`` is the same for the one-at-a-time chain (direct: client + provider; proxy: client +
app + provider).
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
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # also when run as a file, not with -m

from bench.bench_connections_api import APP, HOST, SETTINGS, free_port, start_server  # noqa: E402

TOKEN = "bench-provider-token-0123456789"
PAYLOAD = {"method": "GET", "path": "/items"}
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


def call_direct(session: requests.Session, provider_origin: str) -> str | None:
    """One provider call as a host product makes it without Connections; what went wrong, if anything."""
    response = session.get(f"{provider_origin}/items", timeout=10)
    # Read the provider's answer, as a host product would.
    if response.status_code != 200 or response.json().get("total") != 1:
        return f"direct call answered {response.status_code}"
    return None


def call_proxy(session: requests.Session, proxy_url: str) -> str | None:
    """One proxied call of the provider; what went wrong, if anything."""
    response = session.post(proxy_url, json=PAYLOAD, timeout=30)
    if response.status_code != 200 or response.json().get("body", {}).get("total") != 1:
        return f"proxy answered {response.status_code}: {response.text[:300]}"
    return None


def caller_session(authorization: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {authorization}"
    return session


def measure(*, provider_origin: str, proxy_url: str, raw_key: str, cpu_of, options) -> dict:
    """One request at a time from this process; ``cpu_of()``: the CPU seconds so far of each process."""
    direct_session, proxy_session = caller_session(TOKEN), caller_session(raw_key)

    def direct():
        if error := call_direct(direct_session, provider_origin):
            raise SystemExit(error)

    def proxy():
        if error := call_proxy(proxy_session, proxy_url):
            raise SystemExit(error)

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


# --- Measuring throughput: callers in processes of their own


def _calls_until(
    deadline: float, call, session: requests.Session, target: str, counts: list, errors: list
) -> None:
    """``call(session, target)`` back to back until ``deadline``, counted in ``counts[0]``."""
    try:
        while time.perf_counter() < deadline:
            if error := call(session, target):
                errors.append(error)
                return
            counts[0] += 1
    except requests.RequestException as exc:
        errors.append(f"{type(exc).__name__}: {exc}")


def _caller(pipe, kind: str, target: str, authorization: str) -> None:
    """A load process: on each ``(seconds, threads)`` it receives, calls ``target`` back to back from
    ``threads`` threads (a keep-alive session each) and answers ``(calls, first error or None)``."""
    call = call_direct if kind == "direct" else call_proxy
    sessions: list[requests.Session] = []
    while (command := pipe.recv()) is not None:
        seconds, threads = command
        sessions += [caller_session(authorization) for _ in range(threads - len(sessions))]
        counts, errors = [[0] for _ in range(threads)], []
        deadline = time.perf_counter() + seconds
        workers = [
            threading.Thread(
                target=_calls_until, args=(deadline, call, sessions[index], target, counts[index], errors)
            )
            for index in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        pipe.send((sum(count for (count,) in counts), f"{kind}: {errors[0]}" if errors else None))


@dataclass
class Callers:
    """Load processes calling one target; ``run`` keeps the first ``processes`` busy for a slice."""

    pipes: list
    processes: list

    @classmethod
    def start(cls, count: int, *, kind: str, target: str, authorization: str) -> Callers:
        pipes, processes = [], []
        for _ in range(count):
            ours, theirs = multiprocessing.Pipe()
            process = multiprocessing.Process(
                target=_caller, args=(theirs, kind, target, authorization), daemon=True
            )
            process.start()
            pipes.append(ours)
            processes.append(process)
        return cls(pipes, processes)

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(process.pid) for process in self.processes)

    def run(self, *, processes: int, threads: int, seconds: float) -> int:
        for pipe in self.pipes[:processes]:
            pipe.send((seconds, threads))
        calls = 0
        for pipe in self.pipes[:processes]:
            done, error = pipe.recv()
            if error:
                raise SystemExit(error)
            calls += done
        return calls

    def stop(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            if process.is_alive():
                pipe.send(None)
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()


@dataclass
class Busy:
    """One side's slices with its callers kept busy: calls, wall seconds, CPU seconds per process."""

    calls: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def share(self, process: str) -> float:
        """CPU of ``process`` over the slices, as a fraction of one core."""
        return self.cpu.get(process, 0.0) / self.seconds if self.seconds else 0.0

    def per_call_ms(self, process: str) -> float:
        return self.cpu.get(process, 0.0) / self.calls * 1000 if self.calls else 0.0


def busy_slice(run, *, seconds: float, cpu_of, into: Busy | None = None) -> Busy:
    """``run(seconds)`` (the calls it made) with the CPU each process spent meanwhile, added ``into``."""
    busy = into or Busy()
    before, started = cpu_of(), time.perf_counter()
    busy.calls += run(seconds)
    after = cpu_of()
    busy.seconds += time.perf_counter() - started
    for process, spent in after.items():
        busy.cpu[process] = busy.cpu.get(process, 0.0) + spent - before[process]
    return busy


def busy_line(name: str, busy: Busy, processes: tuple[str, ...]) -> str:
    shares = ", ".join(f"{process} {busy.share(process):.0%}" for process in processes)
    return f"{name} {busy.rps:6.0f} requests/s; CPU of one core: {shares}"


def calibrate(*, direct: Callers, proxy: Callers, cpu_of, options) -> tuple[int, int]:
    """The direct caller's thread count and the number of proxy callers that give the most requests/s."""
    print("calibrating (after a warm-up, one slice of --warmup each):", flush=True)
    direct.run(processes=1, threads=max(options.direct_threads), seconds=options.warmup)
    proxy.run(processes=max(options.callers), threads=1, seconds=options.warmup)
    direct_rates = {}
    for threads in options.direct_threads:
        busy = busy_slice(
            lambda s, t=threads: direct.run(processes=1, threads=t, seconds=s),
            seconds=options.warmup,
            cpu_of=cpu_of,
        )
        direct_rates[threads] = busy.rps
        print("  " + busy_line(f"direct, 1 process x {threads} threads:", busy, DIRECT_PROCESSES), flush=True)
    proxy_rates = {}
    for callers in options.callers:
        busy = busy_slice(
            lambda s, c=callers: proxy.run(processes=c, threads=1, seconds=s),
            seconds=options.warmup,
            cpu_of=cpu_of,
        )
        proxy_rates[callers] = busy.rps
        print("  " + busy_line(f"proxy, {callers} callers:", busy, PROXY_PROCESSES), flush=True)
    return max(direct_rates, key=direct_rates.get), max(proxy_rates, key=proxy_rates.get)


DIRECT_PROCESSES = ("direct_caller", "provider")
PROXY_PROCESSES = ("app", "proxy_callers", "provider")


def measure_throughput(*, direct: Callers, proxy: Callers, cpu_of, options) -> tuple[dict, int, int]:
    """Each side kept busy in turn for ``--rounds`` slices: the direct caller with its best thread
    count, the app's one process by its best number of callers."""
    threads, callers = calibrate(direct=direct, proxy=proxy, cpu_of=cpu_of, options=options)
    sides = {"direct": Busy(), "proxy": Busy()}
    runs = {
        "direct": lambda s: direct.run(processes=1, threads=threads, seconds=s),
        "proxy": lambda s: proxy.run(processes=callers, threads=1, seconds=s),
    }
    for round_number in range(options.rounds):
        order = ("direct", "proxy") if round_number % 2 == 0 else ("proxy", "direct")
        for name in order:
            busy_slice(runs[name], seconds=options.seconds, cpu_of=cpu_of, into=sides[name])
    return sides, threads, callers


def report_throughput(sides: dict[str, Busy], *, threads: int, callers: int) -> None:
    direct, proxy = sides["direct"], sides["proxy"]
    ratio = proxy.rps / direct.rps
    print(f"per process, kept busy ({'meets' if ratio >= 0.3 else 'BELOW'} the 0.3 target at {ratio:.2f}):")
    print("  " + busy_line(f"direct, 1 process x {threads} threads:", direct, DIRECT_PROCESSES))
    print("  " + busy_line(f"proxy, 1 app process, {callers} callers:", proxy, PROXY_PROCESSES))
    # Where the machine's other processes keep the app off a full core, requests per CPU-second of
    # the one process on each side is the capacity that process would have on a core of its own.
    direct_core, proxy_core = direct.per_call_ms("direct_caller"), proxy.per_call_ms("app")
    core_ratio = direct_core / proxy_core if proxy_core else 0.0
    print(
        f"  CPU per request: direct caller {direct_core:.2f} ms, app {proxy_core:.2f} ms, "
        f"proxy callers {proxy.per_call_ms('proxy_callers'):.2f} ms; per CPU-second of the one process: "
        f"ratio {core_ratio:.2f}"
    )
    print(
        f"RESULT proxy_rps={proxy.rps:.0f} direct_rps={direct.rps:.0f} ratio={ratio:.3f} "
        f"proxy_callers={callers} direct_threads={threads} app_cpu_share={proxy.share('app'):.3f} "
        f"direct_caller_cpu_share={direct.share('direct_caller'):.3f} "
        f"busy_app_cpu_ms={proxy_core:.3f} "
        f"busy_direct_caller_cpu_ms={direct_core:.3f} core_ratio={core_ratio:.3f}"
    )


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
    print("one request at a time from this process:")
    for name, figures in (("direct", direct), ("proxy", proxy)):
        print(
            f"  {name:>7}: {figures['rps']:8.0f} requests/s   p50 {figures['p50_ms']:6.2f} ms   "
            f"p95 {figures['p95_ms']:6.2f} ms"
        )
    print(
        f"  ratio: {ratio:.2f} of the direct figure (the 0.3 target is per process, above); p50 added {added:.2f} ms"
    )
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
        f"RESULT sequential_proxy_rps={proxy['rps']:.0f} sequential_direct_rps={direct['rps']:.0f} "
        f"sequential_ratio={ratio:.3f} "
        f"proxy_p50_ms={proxy['p50_ms']:.2f} direct_p50_ms={direct['p50_ms']:.2f} added_p50_ms={added:.2f}"
    )
    print(
        "RESULT "
        + " ".join(f"{name}_cpu_ms={value:.3f}" for name, value in cpu.items())
        + f" cpu_ratio={cpu_ratio:.3f} queries={queries}"
    )


def thread_counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one slice (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="slices per side (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per side, seconds (default 1)")
    parser.add_argument(
        "--app-threads", type=int, default=1, help="threads of the app's one gunicorn process (default 1)"
    )
    parser.add_argument(
        "--callers",
        type=thread_counts,
        default=[1, 2, 4, 8],
        help="numbers of proxy caller processes to try, the best is measured (default 1,2,4,8)",
    )
    parser.add_argument(
        "--direct-threads",
        type=thread_counts,
        default=[1, 2, 4],
        help="threads of the direct caller process to try, the best is measured (default 1,2,4)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database you can spare (migrated; the rows added stay) instead of a fresh SQLite file",
    )
    return parser.parse_args(argv)


def measure_all(
    *, server, provider, provider_origin: str, raw_key: str, connection_id: str, queries: int, options
) -> None:
    """Both measurements against the running app and provider, and their report."""
    proxy_url = f"http://{HOST}:{server.port}/api/user-integrations/{connection_id}/proxy"
    direct = Callers.start(1, kind="direct", target=provider_origin, authorization=TOKEN)
    proxy = Callers.start(max(options.callers), kind="proxy", target=proxy_url, authorization=raw_key)
    try:

        def cpu_of() -> dict[str, float]:
            app = server.worker_cpu_seconds()
            if app is None:
                raise SystemExit("CPU times need Linux /proc")
            return {
                "client": time.process_time(),
                "app": app,
                "provider": process_cpu_seconds(provider.pid),
                "direct_caller": direct.cpu_seconds(),
                "proxy_callers": proxy.cpu_seconds(),
            }

        busy, threads, callers = measure_throughput(
            direct=direct, proxy=proxy, cpu_of=cpu_of, options=options
        )
        sides = measure(
            provider_origin=provider_origin,
            proxy_url=proxy_url,
            raw_key=raw_key,
            cpu_of=cpu_of,
            options=options,
        )
    finally:
        direct.stop()
        proxy.stop()
    report_throughput(busy, threads=threads, callers=callers)
    report(sides, queries=queries)


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
            app=APP,
            env=dict(os.environ),
            workers=1,
            threads=options.app_threads,
            log_path=workdir / "gunicorn.log",
        )
        print(
            f"provider on {provider_origin}; app: gunicorn on {HOST}:{server.port}, 1 worker process (gthread, "
            f"{options.app_threads} threads, keep-alive); {options.rounds} rounds x {options.seconds:g} s per side; "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        measure_all(
            server=server,
            provider=provider,
            provider_origin=provider_origin,
            raw_key=raw_key,
            connection_id=connection_id,
            queries=queries,
            options=options,
        )
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        if server is not None:
            server.stop()
        provider.terminate()
        db_connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
