"""Token refreshes per second: 1,000 sign-in connections expiring at once, refreshed by real
workers on Redis against a local OAuth token endpoint that answers in 100 ms.

Starts the test suite's OAuth 2.0 provider (tests/oauth_provider, its own process), issues 1,000
token pairs, stores 1,000 connections whose access tokens expire in 30 s, runs what Celery beat
runs (``connections.oauth_refresh_due``: one task per chunk of REFRESH_CHUNK due connections) and
waits until real ``celery -A config worker`` processes (thread pool, the README's settings: one
process per core, 50 threads each) have refreshed them all. Prints refreshes per second, the CPU
time per refresh of the workers and of the token endpoint (robust to a loaded machine), and
checks that every token was refreshed exactly once (the provider counts refreshes per refresh
token).

    .venv/bin/python -m bench.bench_oauth_refresh [--connections 1000] [--concurrency 100]

Broker: Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379/13, a queue of its own). Database:
a throwaway SQLite file, or BENCH_DATABASE_URL (an empty database you own: it is migrated and filled).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORK_DIR = Path(tempfile.mkdtemp(prefix="bench-oauth-refresh-"))
# The SQLite file, broker folder and worker logs go with the run (a failed start prints its log).
atexit.register(shutil.rmtree, WORK_DIR, ignore_errors=True)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUE = f"bench-oauth-{uuid.uuid4().hex[:12]}"
CLIENT_ID, CLIENT_SECRET = "bench-app", "bench-app-secret-7Yt3"


def environment() -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{WORK_DIR / 'bench.sqlite3'}"),
        "CELERY_FILESYSTEM_DIR": str(WORK_DIR / "celery"),
        "REDIS_URL": REDIS_URL,
        "CELERY_QUEUE": QUEUE,
        "CACHE_KEY_PREFIX": QUEUE,
        "OUTBOUND_ALLOWLIST": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def start_worker(env: dict, threads: int, index: int) -> tuple[subprocess.Popen, Path]:
    log = WORK_DIR / f"worker-{index}.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("celery")), "-A", "config", "worker", "--pool", "threads",
         "--concurrency", str(threads), "-Q", QUEUE, "-n", f"{QUEUE}-{index}@%h", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "-l", "info"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    ends = time.monotonic() + 180  # a loaded machine takes a while to import everything
    while " ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > ends:
            sys.exit(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return process, log


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux): robust to a loaded machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill(provider, count: int):
    """The integration, its OAuth app and ``count`` connections expiring in 30 s."""
    from django.utils import timezone

    from accounts.models import User
    from connections import encryption
    from connections.models import Connection
    from connections.oauth.clients import oauth_app_save
    from connections.oauth.tokens import oauth_columns
    from tests.connections.factories import integration_from_document
    from tests.connections.oauth.conftest import idp_document

    integration = integration_from_document(idp_document(provider, clientAuth="basic"))
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    user = User.objects.create(
        user_id=f"bench_{uuid.uuid4().hex[:8]}", email=f"{uuid.uuid4().hex[:8]}@bench.test"
    )
    expires = int((timezone.now() + timedelta(seconds=30)).timestamp() * 1000)
    rows = []
    for issued in provider.issue_token_batch(CLIENT_ID, count, "read write"):
        credentials = {
            "accessToken": issued["access_token"],
            "refreshToken": issued["refresh_token"],
            "tokenType": "Bearer",
            "expiresAt": expires,
        }
        row = Connection(
            user=user, integration=integration, auth_method_id="oauth", auth_method_label="Sign in",
            connection_name="Bench", **oauth_columns(credentials, scopes=["read", "write"]),
        )  # fmt: skip
        row.credentials_encrypted = encryption.encrypt_json(credentials, bound_to=row.connection_id)
        rows.append(row)
    Connection.objects.bulk_create(rows, batch_size=500)
    return Connection.objects.filter(user=user)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100, help="Worker threads in all (default 100)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Worker processes")
    parser.add_argument(
        "--delay-ms", type=int, default=100, help="Token endpoint answer time (default 100 ms)"
    )
    args = parser.parse_args()

    env = environment()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection as db

    from connections.tasks import REFRESH_CHUNK, oauth_refresh_due
    from tests.oauth_provider import OAuthProvider

    call_command("migrate", verbosity=0)
    workers = []
    with OAuthProvider() as provider:
        provider.register_client(CLIENT_ID, CLIENT_SECRET, ["http://127.0.0.1:8000/oauth/callback"])
        provider.configure(token_delay_ms=args.delay_ms)
        connections = fill(provider, args.connections)
        print(
            f"broker: Redis ({REDIS_URL}); database: {db.vendor}; {args.workers} worker process(es), "
            f"{args.concurrency // args.workers} threads each; token endpoint answers in {args.delay_ms} ms"
        )
        try:
            workers = [start_worker(env, args.concurrency // args.workers, i) for i in range(args.workers)]
            pids = [process.pid for process, _ in workers]
            worker_cpu, idp_cpu = sum(map(cpu_seconds, pids)), cpu_seconds(provider.pid)
            started = time.monotonic()
            oauth_refresh_due()  # what beat runs: one task per chunk of due connections
            queued = time.monotonic() - started
            while connections.filter(oauth_refreshed_at__isnull=True).exists():
                if time.monotonic() - started > 300:
                    sys.exit("not every token was refreshed within 300 s")
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            worker_cpu = sum(map(cpu_seconds, pids)) - worker_cpu
            idp_cpu = cpu_seconds(provider.pid) - idp_cpu
            stats = provider.stats()
        finally:
            for process, _ in workers:
                process.terminate()
                process.wait(timeout=30)
            import redis

            store = redis.Redis.from_url(REDIS_URL)
            for key in store.scan_iter(match=f"*{QUEUE}*"):
                store.delete(key)
    requests = stats["token_requests"].get("refresh_token", 0)
    each_once = len(stats["refreshes"]) == args.connections and set(stats["refreshes"].values()) == {1}
    print(f"queued {args.connections} connections in chunks of {REFRESH_CHUNK} in {queued:.2f} s")
    print(
        f"refreshed {args.connections} tokens in {elapsed:.2f} s: {args.connections / elapsed:.0f} refreshes/s "
        f"(ideal for concurrency {args.concurrency}: {args.concurrency * 1000 / args.delay_ms:.0f}/s)"
    )
    print(
        f"CPU per refresh: workers {worker_cpu * 1000 / args.connections:.1f} ms, "
        f"token endpoint {idp_cpu * 1000 / args.connections:.1f} ms (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"token requests: {requests}; every token refreshed exactly once: {each_once}")
    if requests != args.connections or not each_once:
        sys.exit(1)


if __name__ == "__main__":
    main()
