"""Soak: the API under a mixed load while its provider misbehaves and Redis restarts.

Everything runs on loopback and is started here: a redis-server of its own on a free port (broker
and cache, with an append-only file so queued tests survive its restart), the app in gunicorn, a
Celery worker, and a provider that answers each call at random: correctly, slowly (past the read
timeout too), with 401/429/500/503, with a malformed redirect, or by resetting the connection.
Client threads mix reads, writes, inline tests and queued tests; halfway through, Redis is stopped
for a few seconds and started again. After the load, the bench waits one sweeper interval, runs
the sweeper, and counts test runs still ``running``.

    .venv/bin/python -m bench.bench_soak [--duration 150] [--clients 8] [--connections 40]

Prints requests sent, 5xx answers (must be 0; the documented 503 "task queue unavailable" while
Redis is down is counted apart), runs left running (must be 0) and latency percentiles. Bounded:
about duration + 100 s in all, never more than 5 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOST = "127.0.0.1"
SWEEPER_INTERVAL = 60  # the beat schedule's "sweep-connection-tests"
BAD_LOCATIONS = [
    "http://127.0.0.1:99999/",
    "http://h:8910 /",
    "http://h:8910:80/",
    "https://h:8911\\.example.com/",
]
TOKEN = "soak-token-4Fq9Lm2Zx"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# --- The misbehaving provider


class ChaosHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _answer(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        roll = random.random()
        if roll < 0.40:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return self._answer(200, {"ok": True})
            return self._answer(401, {"message": f"bad credentials {self.headers.get('Authorization')}"})
        if roll < 0.55:
            time.sleep(random.uniform(0.5, 4.5))  # past OUTBOUND_READ_TIMEOUT now and then
            return self._answer(200, {"ok": True})
        if roll < 0.70:
            status = random.choice([401, 429, 500, 503])
            return self._answer(status, {"error": "chaos", "message": f"status {status}"})
        if roll < 0.85:
            return self._answer(302, {}, {"Location": random.choice(BAD_LOCATIONS)})
        # A reset: close with SO_LINGER 0 so the client sees RST, not a clean end.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class ChaosProvider(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # clients hanging up (timeouts) and our own resets


# --- The processes


class OwnRedis:
    """A redis-server on its own port and folder; ``restart`` stops it and starts it again."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = free_port(), folder
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, "redis-server")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def wait_for_port(port: int, what: str, timeout: float = 60) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"{what} did not start on port {port}")


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


# --- The load


class Load:
    def __init__(self, port: int, api_key: str, user_id: str, connection_ids: list[str]) -> None:
        self.port, self.user_id, self.ids = port, user_id, connection_ids
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self.queue_unavailable = 0
        self.stop = threading.Event()

    def call(self, conn: http.client.HTTPConnection, method: str, path: str, body=None) -> None:
        started = time.monotonic()
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        response = conn.getresponse()
        payload = response.read()
        elapsed = time.monotonic() - started
        with self.lock:
            self.latencies.append(elapsed)
            self.statuses[response.status] += 1
            if response.status >= 500:
                text = payload.decode(errors="replace")
                if response.status == 503 and "task queue is unavailable" in text:
                    self.queue_unavailable += 1  # the documented answer while Redis is down
                else:
                    self.server_errors.append(f"{response.status} {method} {path}: {text[:200]}")

    def one(self, conn: http.client.HTTPConnection) -> None:
        connection_id = random.choice(self.ids)
        roll = random.random()
        if roll < 0.30:
            self.call(conn, "GET", f"/api/user-integrations/my-connections?userId={self.user_id}&limit=20")
        elif roll < 0.50:
            self.call(conn, "GET", f"/api/user-integrations/{connection_id}")
        elif roll < 0.62:
            body = {"connectionName": f"Soak {uuid.uuid4().hex[:6]}"}
            self.call(conn, "PUT", f"/api/user-integrations/{connection_id}", body)
        elif roll < 0.70:
            body = {
                "userId": self.user_id,
                "integrationId": "chaos",
                "authMethodId": "bearer",
                "connectionName": "Soak new",
                "credentials": {"token": TOKEN},
            }
            self.call(conn, "POST", "/api/user-integrations/connect", body)
        elif roll < 0.85:
            self.call(conn, "POST", f"/api/user-integrations/{connection_id}/test")
        else:
            self.call(conn, "POST", f"/api/user-integrations/{connection_id}/test?async=true")

    def client(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        while not self.stop.is_set():
            try:
                self.one(conn)
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.server_errors.append(f"no answer: {type(exc).__name__}")
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=60)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000 if ordered else 0.0


SOAK_DATABASE = f"bench_soak_{uuid.uuid4().hex[:8]}"


def own_database(server: str, work: Path) -> str:
    """A new, empty database of this run's own (production runs PostgreSQL), or a SQLite file."""
    if server == "sqlite":
        return f"sqlite:///{work / 'soak.sqlite3'}"
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{SOAK_DATABASE}"')
    return server.rsplit("/", 1)[0] + "/" + SOAK_DATABASE


def drop_own_database(url: str) -> None:
    if not url.endswith(SOAK_DATABASE):
        return
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{SOAK_DATABASE}" WITH (FORCE)')


def seed(provider_port: int, connections: int) -> tuple[str, str, list[str]]:
    from accounts.api_keys import api_key_create
    from accounts.models import User
    from connections import encryption
    from connections.models import Connection
    from tests.connections.factories import integration_from_document, local_provider_document

    document = local_provider_document(f"http://{HOST}:{provider_port}")
    document["id"], document["displayName"] = "chaos", "Chaos provider"
    document["testRequest"] = {"method": "GET", "path": "/anything"}
    integration = integration_from_document(document)
    user = User.objects.create(user_id="soak_user", email="soak@bench.test", name="Soak")
    rows = []
    for n in range(connections):
        row = Connection(
            user=user,
            integration=integration,
            auth_method_id="bearer",
            auth_method_label="Bearer",
            connection_name=f"Soak {n}",
            configured_variables={},
        )
        row.credentials_encrypted = encryption.encrypt_json({"token": TOKEN}, bound_to=row.connection_id)
        rows.append(row)
    Connection.objects.bulk_create(rows)
    return api_key_create(name="soak")[1], user.user_id, [row.connection_id for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=150, help="Seconds of load (default 150)")
    parser.add_argument("--clients", type=int, default=8, help="Client threads (default 8)")
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument(
        "--database",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="A PostgreSQL server to create a throwaway database on (dropped after), or 'sqlite'",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    database_url = own_database(args.database, work)
    redis_server = OwnRedis(work)
    redis_server.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_server.url,
        "OUTBOUND_ALLOWLIST": HOST,
        "OUTBOUND_READ_TIMEOUT": "3",
        "OUTBOUND_DEADLINE": "6",
        "VAR_DIR": str(work),
        "LOG_LEVEL": "ERROR",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from connections.models import CheckRun
    from connections.test_run_schedule import test_run_sweep

    call_command("migrate", verbosity=0)
    provider = ChaosProvider((HOST, 0), ChaosHandler)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    api_key, user_id, ids = seed(provider.server_address[1], args.connections)

    app_port = free_port()
    processes = [
        start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"{HOST}:{app_port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
            env,
            work / "gunicorn.log",
        ),
        start(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "config",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "16",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            env,
            work / "worker.log",
        ),
    ]
    try:
        wait_for_port(app_port, "gunicorn")
        time.sleep(3)  # both gunicorn workers up
        load = Load(app_port, api_key, user_id, ids)
        clients = [threading.Thread(target=load.client, daemon=True) for _ in range(args.clients)]
        started = time.monotonic()
        for thread in clients:
            thread.start()
        time.sleep(args.duration / 2)
        print(f"{time.monotonic() - started:.0f} s: stopping redis-server (port {redis_server.port}) for 5 s")
        redis_server.stop()
        time.sleep(5)
        redis_server.start()
        print(f"{time.monotonic() - started:.0f} s: redis-server is back")
        time.sleep(max(0.0, args.duration - (time.monotonic() - started)))
        load.stop.set()
        for thread in clients:
            thread.join(timeout=70)
        elapsed = time.monotonic() - started

        print(f"load over after {elapsed:.0f} s; waiting one sweeper interval ({SWEEPER_INTERVAL} s)")
        time.sleep(SWEEPER_INTERVAL)
        swept = test_run_sweep()
        running = CheckRun.objects.filter(status=CheckRun.Status.RUNNING).count()
        queued = CheckRun.objects.filter(status=CheckRun.Status.QUEUED).count()
        runs = CheckRun.objects.count()
        sent = sum(load.statuses.values())
        print(f"statuses: {dict(sorted(load.statuses.items()))}")
        for line in load.server_errors[:10]:
            print(f"  5xx: {line}")
        if load.server_errors:
            log = (work / "gunicorn.log").read_text().splitlines()
            print("\n".join(line for line in log if "Error" in line or "error" in line)[-3000:])
        print(f"test runs: {runs} ({queued} still queued, to be sent again by the sweeper: {swept.requeued})")
        print(
            f"RESULT requests={sent} rate={sent / elapsed:.1f}/s server_errors_5xx={len(load.server_errors)} "
            f"documented_503_queue_down={load.queue_unavailable} runs_left_running={running} "
            f"p50_ms={percentile(load.latencies, 0.50):.0f} p99_ms={percentile(load.latencies, 0.99):.0f}"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        provider.shutdown()
        redis_server.stop()
        drop_own_database(database_url)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
