"""Speed of the connections API against a bare Django JSON view, in one gunicorn server and run.

Usage (from the repository root, after ``bin/install``)::

    .venv/bin/python -m bench.bench_connections_api
    .venv/bin/python -m bench.bench_connections_api --database-url postgres://postgres@127.0.0.1:5432/conn_bench

What it does:

1. Prepares a database: by default a fresh SQLite file in a temporary folder; with
   ``--database-url`` an existing database you can spare (it is migrated; the rows the bench adds
   are deleted at the end). Settings are ``bench.settings``: the production settings, DEBUG off,
   fixed bench-only keys.
2. Seeds, through the real services, the bundled integration catalog, one API key, one user and
   ``--connections`` (100) Salesforce connections, so credentials are really AES-GCM encrypted and every write has its audit record.
3. Counts the SQL queries of one request to each endpoint (in process), then serves
   ``config.wsgi`` with gunicorn on 127.0.0.1 (a free port; ``--workers`` processes of
   ``--threads`` threads, by default one process per CPU) and checks each endpoint answers 200
   with the expected body.
4. Measures, with the same ``Authorization: Bearer`` header on each:

   - ``my_connections``: ``GET /api/user-integrations/my-connections?userId=…`` (all connections,
     each decrypted and masked);
   - ``detail``: ``GET /api/user-integrations/<connectionId>`` (decrypted credentials);
   - ``status_map``: ``GET /api/users/<userId>/connections/status?integrationIds=…`` with every
     integration of the catalog (seed 004's "is this user connected to X?", one SQL query);
   - ``bare``: ``GET /bench/bare``, a plain Django view returning a constant small JSON through
     the same middleware (``bench/urls.py``).

   The load generator is this process: ``--concurrency`` threads, each with its own keep-alive
   ``http.client`` connection, sending the next request as soon as the previous answer is read.
   After a short warm-up, ``--rounds`` rounds each give every endpoint a slice of ``--seconds``
   seconds (or ``--max-requests`` requests, whichever ends first), in an order rotated every
   round, so machine noise and warm caches fall on all three alike.

Output: per endpoint requests/second, p50/p95 latency, the spread of requests/second across
rounds, server CPU per request (gunicorn workers, from /proc), client CPU per request and SQL
queries per request, then the ratios to the bare view, ending with machine-parseable lines::

    RESULT my_connections_rps=… detail_rps=… bare_rps=… my_connections_ratio=… detail_ratio=…
    RESULT my_connections_p50_ms=… my_connections_p95_ms=… … bare_p95_ms=… my_connections_server_cpu_ms=… …

A ratio is the endpoint's requests/second divided by the bare view's (1.0 = as fast as bare).
The client shares the machine's CPUs with the server; it costs the same per request for every
endpoint, which weighs more on the cheap bare view, so on a small machine the ratios flatter the
API a little; the client CPU figure shows how much. Other busy processes on the machine lower and
scatter requests/second (see the load average printed first); server CPU per request is the
figure they disturb least. The default run takes about a minute.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # also when run as a file, not with -m

from bench import WORKER_HEADER  # noqa: E402

SETTINGS = "bench.settings"
HOST = "127.0.0.1"
APP = "config.wsgi:application"
CEILING = "bench.ceiling:application"
# The stack's ceiling for each endpoint: the same body from a one-file Django project (bench/ceiling.py).
CEILING_PATHS = {"ceiling_my_connections": "/ceiling/my-connections", "ceiling_detail": "/ceiling/detail"}
CEILING_OF = {"my_connections": "ceiling_my_connections", "detail": "ceiling_detail"}
MAIN_ENDPOINTS = ("my_connections", "detail", "status_map", "bare", *CEILING_PATHS)
SEED_CREDENTIALS = {"clientId": "3MVG9-bench-client", "clientSecret": "bench-client-secret-0123456789"}
SEED_VARIABLES = {"instance_url": "https://mycompany.salesforce.com"}
MAX_PAGE = 1000  # my-connections' default page (connections.selectors.MAX_PAGE_SIZE)


# --- Seeding (in this process, through the real services)


@dataclass(frozen=True)
class Seeded:
    raw_api_key: str
    api_key_pk: int
    user_pk: int
    user_id: str
    connection_id: str
    sweep: dict[int, tuple[int, str]]  # connections -> (user pk, userId)
    integration_ids: tuple[str, ...]

    def paths(self) -> dict[str, str]:
        return {
            "my_connections": my_connections_path(self.user_id),
            "detail": f"/api/user-integrations/{self.connection_id}",
            "status_map": f"/api/users/{self.user_id}/connections/status?"
            + urlencode({"integrationIds": ",".join(self.integration_ids)}),
            "bare": "/bench/bare",
            **{f"sweep_{size}": my_connections_path(user_id) for size, (_, user_id) in self.sweep.items()},
        }


def my_connections_path(user_id: str) -> str:
    return "/api/user-integrations/my-connections?" + urlencode({"userId": user_id})


def seed(*, connections: int, sweep: list[int]) -> Seeded:
    from accounts.api_keys import api_key_create
    from accounts.authentication import ApiKeyPrincipal
    from accounts.services import user_create
    from connections.services import connection_create
    from integrations.documents import PROVIDERS_DIR
    from integrations.models import Integration
    from integrations.services import integration_sync_from_files

    integration_sync_from_files(directory=PROVIDERS_DIR)  # the bundled catalog, as bin/app loads it
    api_key, raw_key = api_key_create(name="bench")
    tag = secrets.token_hex(4)
    user = user_create(user_id=f"bench_{tag}", name="Bench User", email=f"bench-{tag}@example.com")
    actor = ApiKeyPrincipal(api_key)
    created = [
        connection_create(
            actor=actor,
            user=user,
            integration_id="salesforce",
            auth_method_id="oauth2",
            credentials=SEED_CREDENTIALS,
            configured_variables=SEED_VARIABLES,
            connection_name=f"Salesforce {number}",
        )
        for number in range(1, connections + 1)
    ]
    return Seeded(
        raw_api_key=raw_key,
        api_key_pk=api_key.pk,
        user_pk=user.pk,
        user_id=user.user_id,
        connection_id=created[0].connection_id,
        sweep={size: seed_sweep_user(size, tag=tag) for size in sweep},
        integration_ids=tuple(Integration.objects.order_by("pk").values_list("pk", flat=True)),
    )


def seed_sweep_user(size: int, *, tag: str) -> tuple[int, str]:
    """A user with ``size`` connections, inserted in bulk (the services would take minutes for
    10,000): rows as connection_create writes them, credentials really encrypted."""
    from accounts.services import user_create
    from connections import encryption
    from connections.models import Connection, new_connection_id

    user = user_create(user_id=f"bench_{tag}_{size}", name="Sweep", email=f"bench-{tag}-{size}@example.com")
    rows = []
    for number in range(size):
        connection_id = new_connection_id()
        rows.append(
            Connection(
                connection_id=connection_id,
                user=user,
                integration_id="salesforce",
                auth_method_id="oauth2",
                auth_method_label="OAuth 2.0",
                connection_name=f"Salesforce {number}",
                configured_variables=SEED_VARIABLES,
                credentials_encrypted=encryption.encrypt_json(SEED_CREDENTIALS, bound_to=connection_id),
            )
        )
    Connection.objects.bulk_create(rows, batch_size=1000)
    return user.pk, user.user_id


def unseed(seeded: Seeded) -> None:
    """Remove what ``seed`` added to a database the bench does not own (connections go with their user)."""
    from accounts.models import ApiKey, User

    User.objects.filter(pk__in=[seeded.user_pk, *(pk for pk, _ in seeded.sweep.values())]).delete()
    ApiKey.objects.filter(pk=seeded.api_key_pk).delete()


def query_counts(seeded: Seeded) -> dict[str, int]:
    """SQL queries of one request to each endpoint, run in process, in the steady state."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {seeded.raw_api_key}")
    client.get("/bench/bare")
    client.get(seeded.paths()["detail"])  # the key's first use records last_used_at: not a per-request cost
    counts = {}
    for name, path in seeded.paths().items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(
                f"{name}: GET {path} answered {response.status_code} in process: {response.content[:300]!r}"
            )
        counts[name] = len(captured)
    return counts


# --- The server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def worker_cpu_seconds(self) -> float | None:
        """User + system CPU of the gunicorn workers so far (Linux /proc), None where unavailable."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            pids = children.read_text().split()
            ticks = 0
            for pid in pids:
                # Fields after the parenthesised command name; utime and stime are the 12th and 13th.
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(stat[11]) + int(stat[12])
        except (OSError, IndexError, ValueError):
            return None
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(*, app: str, env: dict, workers: int, threads: int, log_path: Path) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log_path),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    server = Server(process=process, port=port, log_path=log_path)
    # Ready when every worker has answered: each loads the app after the master already listens,
    # and measuring while one still boots would measure fewer workers.
    answered: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(answered) < workers:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with code {process.returncode}:\n{server.log_tail()}")
        try:
            answered.add(bare_worker(http.client.HTTPConnection(HOST, port, timeout=5), close=True))
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
    if len(answered) < workers:
        server.stop()
        raise SystemExit(
            f"{len(answered)} of {workers} gunicorn workers answered within 60 s:\n{server.log_tail()}"
        )
    return server


# --- The load generator


@dataclass
class Slice:
    requests: int
    seconds: float
    latencies: list[float]
    errors: list[str]


def fetch(connection: http.client.HTTPConnection, path: str, headers: dict) -> tuple[int, bytes]:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def bare_worker(connection: http.client.HTTPConnection, *, close: bool = False) -> str:
    """The id of the gunicorn worker that answers /bench/bare on ``connection``."""
    try:
        connection.request("GET", "/bench/bare")
        response = connection.getresponse()
        response.read()
    finally:
        if close:
            connection.close()
    worker = response.getheader(WORKER_HEADER)
    if response.status != 200 or worker is None:
        raise SystemExit(
            f"/bench/bare answered {response.status} without {WORKER_HEADER}: is ROOT_URLCONF bench.urls?"
        )
    return worker


def open_connections(
    *, port: int, count: int, workers: int
) -> tuple[list[http.client.HTTPConnection], Counter]:
    """``count`` keep-alive connections spread evenly over the gunicorn workers.

    gunicorn's workers race to accept, and left alone all of a slice's connections can land on
    one worker, which would halve the throughput measured at random. The bare view names the
    worker that answered; a connection to a worker that already has its share is replaced.
    """
    share = math.ceil(count / workers)
    kept: list[http.client.HTTPConnection] = []
    per_worker: Counter = Counter()
    for _ in range(count * 50):
        if len(kept) == count:
            return kept, per_worker
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        worker = bare_worker(connection)
        if per_worker[worker] < share:
            kept.append(connection)
            per_worker[worker] += 1
        else:
            connection.close()
    for connection in kept:
        connection.close()
    raise SystemExit(f"could not spread {count} connections over {workers} workers (got {dict(per_worker)})")


def run_slice(
    *, port: int, path: str, headers: dict, concurrency: int, workers: int, seconds: float, max_requests: int
) -> Slice:
    """Hammer one path from ``concurrency`` keep-alive connections for ``seconds`` or ``max_requests``."""
    connections, _ = open_connections(port=port, count=concurrency, workers=workers)
    tickets = itertools.count()  # next() on a count is atomic under the GIL: a shared request budget
    latencies: list[float] = []
    errors: list[str] = []
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def client(connection: http.client.HTTPConnection) -> None:
        mine = []
        start.wait()
        try:
            while time.perf_counter() < deadline[0] and next(tickets) < max_requests:
                began = time.perf_counter()
                status, body = fetch(connection, path, headers)
                mine.append(time.perf_counter() - began)
                if status != 200:
                    errors.append(f"{status}: {body[:200]!r}")
                    break
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(connection,), daemon=True) for connection in connections]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return Slice(
        requests=len(latencies), seconds=time.perf_counter() - began, latencies=latencies, errors=errors
    )


@dataclass
class Tally:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    round_rps: list[float] = field(default_factory=list)
    server_cpu: float | None = 0.0
    client_cpu: float = 0.0

    def add(self, piece: Slice, *, server_cpu: float | None, client_cpu: float) -> None:
        self.requests += piece.requests
        self.seconds += piece.seconds
        self.latencies.extend(piece.latencies)
        self.round_rps.append(piece.requests / piece.seconds)
        self.server_cpu = (
            None if server_cpu is None or self.server_cpu is None else self.server_cpu + server_cpu
        )
        self.client_cpu += client_cpu

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, percent: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] * 1000

    def per_request_ms(self, cpu_seconds: float | None) -> str:
        return "n/a" if cpu_seconds is None else f"{cpu_seconds / self.requests * 1000:.2f}"


def check_responses(
    *, port: int, paths: dict[str, str], headers: dict, expected_items: dict[str, int]
) -> dict[str, dict]:
    """One request each over HTTP: the bench must measure successful, complete answers. Returns
    the bodies (the ceiling answers the same ones)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    bodies = {}
    try:
        for name, path in paths.items():
            status, body = fetch(connection, path, headers)
            if status != 200:
                raise SystemExit(f"{name}: GET {path} answered {status}: {body[:300]!r}")
            bodies[name] = payload = json.loads(body)
            if name in expected_items and len(payload["connections"]) != expected_items[name]:
                raise SystemExit(
                    f"{name} listed {len(payload['connections'])} connections, expected {expected_items[name]}"
                )
            if name == "detail" and payload["connection"]["credentials"]["decrypted"] != SEED_CREDENTIALS:
                raise SystemExit("detail did not return the decrypted credentials")
            if name == "status_map" and payload.get("salesforce") != "connected":
                raise SystemExit(f"status_map did not say salesforce is connected: {payload}")
    finally:
        connection.close()
    return bodies


def measure(
    *, servers: dict[str, Server], paths: dict[str, str], headers: dict, endpoints: tuple[str, ...], options
) -> dict[str, Tally]:
    """Rounds over ``endpoints``; those named ceiling_* go to the ceiling server, the rest to the app."""

    def one_slice(name: str, seconds: float) -> tuple[Slice, float | None, float]:
        server = servers["ceiling" if name.startswith("ceiling_") else "app"]
        server_before, client_before = server.worker_cpu_seconds(), time.process_time()
        piece = run_slice(
            port=server.port,
            path=paths[name],
            headers=headers,
            concurrency=options.concurrency,
            workers=options.workers,
            seconds=seconds,
            max_requests=options.max_requests,
        )
        server_after, client_after = server.worker_cpu_seconds(), time.process_time()
        if piece.errors:
            raise SystemExit(
                f"{name}: {len(piece.errors)} failed requests, first: {piece.errors[0]}\n{server.log_tail()}"
            )
        if not piece.requests:
            raise SystemExit(f"{name}: no request completed in {seconds} s")
        server_cpu = None if server_before is None or server_after is None else server_after - server_before
        return piece, server_cpu, client_after - client_before

    for name in endpoints:  # warm-up: imports, caches and database connections in every worker
        one_slice(name, options.warmup)
    tallies = {name: Tally() for name in endpoints}
    for number in range(options.rounds):
        shift = number % len(endpoints)
        for name in endpoints[shift:] + endpoints[:shift]:
            piece, server_cpu, client_cpu = one_slice(name, options.seconds)
            tallies[name].add(piece, server_cpu=server_cpu, client_cpu=client_cpu)
        print(
            f"  round {number + 1}/{options.rounds}: "
            + "  ".join(f"{name} {tallies[name].round_rps[-1]:.0f} req/s" for name in endpoints),
            flush=True,
        )
    return tallies


def report(tallies: dict[str, Tally], *, queries: dict[str, int], connections: int) -> None:
    print()
    print(
        f"{'endpoint':<24}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'rounds req/s':>16}"
        f"{'server CPU ms/req':>19}{'client CPU ms/req':>19}{'SQL/req':>9}{'requests':>10}"
    )
    for name, tally in tallies.items():
        spread = f"{min(tally.round_rps):.0f}-{max(tally.round_rps):.0f}"
        print(
            f"{name:<24}{tally.rps:>9.1f}{tally.percentile_ms(50):>9.2f}{tally.percentile_ms(95):>9.2f}"
            f"{spread:>16}{tally.per_request_ms(tally.server_cpu):>19}"
            f"{tally.per_request_ms(tally.client_cpu):>19}{queries.get(name, 0):>9}{tally.requests:>10}"
        )
    print()
    ratios = {name: tallies[name].rps / tallies[CEILING_OF[name]].rps for name in CEILING_OF}
    for name, ratio in ratios.items():
        print(
            f"{name} / stack ceiling: {ratio:.3f} of a one-file Django view answering the same body"
            + (f" ({connections} connections)" if name == "my_connections" else "")
            + f"; / in-app bare view: {tallies[name].rps / tallies['bare'].rps:.3f}"
        )
    print(f"status_map / in-app bare view: {tallies['status_map'].rps / tallies['bare'].rps:.3f}")
    print(
        "RESULT "
        + " ".join(f"{name}_rps={tallies[name].rps:.1f}" for name in MAIN_ENDPOINTS)
        + "".join(f" {name}_ceiling_ratio={ratio:.4f}" for name, ratio in ratios.items())
        + "".join(
            f" {name}_bare_ratio={tallies[name].rps / tallies['bare'].rps:.4f}"
            for name in (*CEILING_OF, "status_map")
        )
    )
    print(
        "RESULT "
        + " ".join(
            f"{name}_p{percent}_ms={tallies[name].percentile_ms(percent):.2f}"
            for name in MAIN_ENDPOINTS
            for percent in (50, 95)
        )
        + "".join(  # left out where /proc cannot tell
            f" {name}_server_cpu_ms={tallies[name].per_request_ms(tallies[name].server_cpu)}"
            for name in MAIN_ENDPOINTS
            if tallies[name].server_cpu is not None
        )
    )


def report_sweep(tallies: dict[str, Tally], *, sizes: list[int], queries: dict[str, int]) -> None:
    """my-connections by account size: with paging the cost should stop growing past one page."""
    print()
    print(f"{'connections':>12}{'items':>8}{'req/s':>9}{'server CPU ms/req':>19}{'SQL/req':>9}")
    for size in sizes:
        tally = tallies[f"sweep_{size}"]
        print(
            f"{size:>12}{min(size, MAX_PAGE):>8}{tally.rps:>9.1f}"
            f"{tally.per_request_ms(tally.server_cpu):>19}{queries[f'sweep_{size}']:>9}"
        )
    print(
        "RESULT "
        + " ".join(f"sweep_{size}_rps={tallies[f'sweep_{size}'].rps:.1f}" for size in sizes)
        + "".join(
            f" sweep_{size}_server_cpu_ms={tallies[f'sweep_{size}'].per_request_ms(tallies[f'sweep_{size}'].server_cpu)}"
            for size in sizes
            if tallies[f"sweep_{size}"].server_cpu is not None
        )
    )
    paged = [size for size in sizes if size >= MAX_PAGE]
    if len(paged) >= 2 and all(tallies[f"sweep_{size}"].server_cpu is not None for size in paged):
        low, high = (tallies[f"sweep_{size}"] for size in (paged[0], paged[-1]))
        growth = (high.server_cpu / high.requests) / (low.server_cpu / low.requests)
        print(f"server CPU per request, {paged[-1]} vs {paged[0]} connections: {growth:.2f}x")
        print(f"RESULT sweep_cpu_growth={growth:.3f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(
        description="Requests/second of my-connections and connection detail against a bare Django JSON view.",
    )
    parser.add_argument(
        "--connections", type=int, default=100, help="connections of the seeded user (default 100)"
    )
    parser.add_argument("--database-url", help="an existing database to use instead of a fresh SQLite file")
    parser.add_argument(
        "--workers", type=int, default=cpus, help=f"gunicorn worker processes (default {cpus}, one per CPU)"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--concurrency", type=int, help="client connections (default workers x threads)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="length of each endpoint's slice per round (default 3)"
    )
    parser.add_argument(
        "--max-requests", type=int, default=50_000, help="request cap per slice (default 50000)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per endpoint (default 1)")
    parser.add_argument(
        "--sweep",
        default="10,100,1000,10000",
        help="also measure my-connections for users with these many connections (default "
        "10,100,1000,10000; empty for none)",
    )
    options = parser.parse_args(argv)
    if options.concurrency is None:
        options.concurrency = options.workers * options.threads
    for name in ("connections", "workers", "threads", "concurrency", "rounds", "max_requests"):
        if getattr(options, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        options.sweep = [int(size) for size in options.sweep.split(",") if size.strip()]
    except ValueError:
        parser.error("--sweep takes comma-separated numbers of connections")
    if options.seconds <= 0 or options.warmup <= 0:
        parser.error("--seconds and --warmup must be positive")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="connections-bench-"))
    database_url = options.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    # The server inherits exactly these; whatever the calling shell or test run set is overridden.
    os.environ.update({"DJANGO_SETTINGS_MODULE": SETTINGS, "DATABASE_URL": database_url})

    import django
    from django.core.management import call_command
    from django.db import connections as db_connections

    django.setup()
    servers: dict[str, Server] = {}
    seeded = None
    try:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        seeded = seed(connections=options.connections, sweep=options.sweep)
        print(
            f"Seeded {options.connections} connections for {seeded.user_id}"
            + (f" and users with {', '.join(map(str, options.sweep))}" if options.sweep else "")
            + f" in {time.perf_counter() - started:.1f} s"
            + f" ({'fresh SQLite file' if not options.database_url else 'given database'})"
        )
        queries = query_counts(seeded)
        db_connections.close_all()
        run(servers=servers, seeded=seeded, options=options, queries=queries, workdir=workdir)
    finally:
        for server in servers.values():
            server.stop()
        if seeded is not None and options.database_url:
            unseed(seeded)
        db_connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)


def run(
    *, servers: dict[str, Server], seeded: Seeded, options, queries: dict[str, int], workdir: Path
) -> None:
    """Serve the app, then the ceiling with the app's own answers, and measure both in rounds."""
    gunicorn = {"workers": options.workers, "threads": options.threads}
    servers["app"] = start_server(app=APP, env=dict(os.environ), log_path=workdir / "app.log", **gunicorn)
    paths = seeded.paths() | CEILING_PATHS
    headers = {"Authorization": f"Bearer {seeded.raw_api_key}", "Accept": "application/json"}
    expected = {"my_connections": options.connections} | {
        f"sweep_{size}": min(size, MAX_PAGE) for size in options.sweep
    }
    app_paths = {name: path for name, path in paths.items() if not name.startswith("ceiling_")}
    bodies = check_responses(
        port=servers["app"].port, paths=app_paths, headers=headers, expected_items=expected
    )
    payloads = workdir / "ceiling.json"
    payloads.write_text(json.dumps({"detail": bodies["detail"], "my_connections": bodies["my_connections"]}))
    servers["ceiling"] = start_server(
        app=CEILING,
        env={**os.environ, "CEILING_PAYLOADS": str(payloads)},
        log_path=workdir / "ceiling.log",
        **gunicorn,
    )
    print(
        f"gunicorn ({options.workers} workers x {options.threads} threads) serving the app on "
        f"{HOST}:{servers['app'].port} and the stack ceiling (bench/ceiling.py) on {HOST}:{servers['ceiling'].port}; "
        f"client: {options.concurrency} keep-alive connections spread over the workers; "
        f"{options.rounds} rounds x {options.seconds:g} s per endpoint",
        flush=True,
    )
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run "
        "(other busy processes lower and scatter requests/second)",
        flush=True,
    )
    common = {"servers": servers, "paths": paths, "headers": headers, "options": options}
    tallies = measure(endpoints=MAIN_ENDPOINTS, **common)
    report(tallies, queries=queries, connections=options.connections)
    if options.sweep:
        print("\nmy-connections by account size (default paging: up to 1000 items a response):", flush=True)
        sweep = measure(endpoints=tuple(f"sweep_{size}" for size in options.sweep), **common)
        report_sweep(sweep, sizes=options.sweep, queries=queries)


if __name__ == "__main__":
    main()
