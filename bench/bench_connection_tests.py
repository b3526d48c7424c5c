"""Connection tests per second through a real Celery worker.

Starts the local provider (tests/provider_server.py) answering each test in 200 ms, creates 500
connections to it, queues a test of each (``test_run_enqueue_many``: what the API's
``?async=true``, the schedule and ``test_connections --async`` do) and waits until a real
``celery -A config worker`` process (thread pool) has finished them all. Prints tests per second
and the ratio to the ideal for the worker's concurrency (ideal = concurrency / 0.2 s).

    .venv/bin/python bench/bench_connection_tests.py [--tests 500] [--concurrency 100]

The broker is Redis when it answers at BENCH_REDIS_URL (default redis://127.0.0.1:6379/13, a
queue of its own), else Kombu's filesystem transport; the database a throwaway SQLite file, or
BENCH_DATABASE_URL (an empty database you own: it is migrated and filled).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORK_DIR = Path(tempfile.mkdtemp(prefix="bench-connection-tests-"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
QUEUE = f"bench-{uuid.uuid4().hex[:12]}"


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def configure(use_redis: bool) -> dict:
    """Environment for this process and the worker: settings_test's fixed keys, the broker, the database."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{WORK_DIR / 'bench.sqlite3'}"),
        "CELERY_FILESYSTEM_DIR": str(WORK_DIR / "celery"),
        "OUTBOUND_ALLOWLIST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    if use_redis:
        env["REDIS_URL"] = REDIS_URL
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.update(env)
    return {**os.environ, **env}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_worker(env: dict, concurrency: int, prefetch: int, index: int = 0) -> tuple[subprocess.Popen, Path]:
    log = WORK_DIR / f"worker-{index}.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")),
            "-A",
            "config",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--prefetch-multiplier",
            str(prefetch),
            "-Q",
            QUEUE,
            "-n",
            f"{QUEUE}-{index}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    # Ready when it answers a control ping: its log may not say so (LOG_LEVEL=WARNING).
    from config.celery import app

    name = f"{QUEUE}-{index}@{socket.gethostname()}"
    ends = time.monotonic() + 180  # a loaded machine starts workers slowly
    while not app.control.ping(destination=[name], timeout=0.5):
        if process.poll() is not None or time.monotonic() > ends:
            sys.exit(f"the worker did not start:\n{log.read_text()}")
    return process, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100, help="Worker threads in all (default 100)")
    # A worker process is bound by one core (the GIL): one per core, sharing the threads.
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="Worker processes (default: one per core)"
    )
    parser.add_argument("--prefetch", type=int, default=1, help="Worker prefetch multiplier (default 1)")
    parser.add_argument("--delay-ms", type=int, default=200, help="Provider answer time (default 200 ms)")
    args = parser.parse_args()

    use_redis = redis_reachable()
    env = configure(use_redis)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from config.celery import app
    from connections import encryption, test_run_services
    from connections.models import CheckRun, Connection
    from tests.connections.factories import local_provider
    from tests.provider_server import BEARER_TOKEN, ProviderServer

    app.conf.task_default_queue = QUEUE  # before anything is sent: a queue only this bench uses
    call_command("migrate", verbosity=0)
    transport = f"Redis ({REDIS_URL})" if use_redis else "filesystem (no Redis reachable)"
    print(
        f"broker: {transport}; database: {connection.vendor}; {args.workers} worker process(es), "
        f"{args.concurrency // args.workers} threads each; prefetch multiplier {args.prefetch}"
    )

    provider = ProviderServer().start()
    workers = []
    try:
        integration = local_provider(provider.origin, slow_ms=args.delay_ms)
        user = User.objects.create(
            user_id=f"bench_{uuid.uuid4().hex[:8]}", email=f"{uuid.uuid4().hex[:8]}@bench.test"
        )
        rows = []
        for n in range(args.tests):
            row = Connection(
                user=user,
                integration=integration,
                auth_method_id="slow",
                auth_method_label="Slow",
                connection_name=f"Bench {n}",
                configured_variables={},
            )
            row.credentials_encrypted = encryption.encrypt_json(
                {"token": BEARER_TOKEN}, bound_to=row.connection_id
            )
            rows.append(row)
        connections = Connection.objects.bulk_create(rows)
        for row in connections:
            row.integration = integration

        workers = [
            start_worker(env, args.concurrency // args.workers, args.prefetch, i) for i in range(args.workers)
        ]
        cpu_before = sum(cpu_seconds(w.pid) for w, _ in workers)
        started = time.monotonic()
        runs = test_run_services.test_run_enqueue_many(
            connections=connections, actor="bench", trigger="command"
        )
        queued = time.monotonic() - started
        pks = [run.pk for run in runs]
        unfinished = CheckRun.objects.filter(pk__in=pks, status__in=["queued", "running"])
        deadline = started + 120
        while unfinished.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        worker_cpu = sum(cpu_seconds(w.pid) for w, _ in workers) - cpu_before

        done = list(CheckRun.objects.filter(pk__in=pks).exclude(status__in=["queued", "running"]))
        passed = [run for run in done if run.status == "success"]
        if len(passed) != args.tests:
            failures = {run.message for run in done if run.status != "success"}
            sys.exit(
                f"only {len(passed)} of {args.tests} tests passed in {elapsed:.1f} s: {failures}\n{workers[0][1].read_text()[-3000:]}"
            )
        times = sorted(run.response_time_ms for run in passed)
        rate = args.tests / elapsed
        concurrency = args.concurrency // args.workers * args.workers
        ideal = concurrency / (args.delay_ms / 1000)
        print(f"{args.tests} tests: queued in {queued:.2f} s, all finished after {elapsed:.2f} s")
        print(
            f"provider call: median {statistics.median(times)} ms, p95 {times[int(len(times) * 0.95) - 1]} ms "
            f"(the provider answers in {args.delay_ms} ms)"
        )
        print(
            f"worker CPU: {worker_cpu:.2f} s over {elapsed:.2f} s ({worker_cpu / args.tests * 1000:.1f} ms per test); "
            f"time limit per task: {settings.CELERY_TASK_TIME_LIMIT} s"
        )
        print(
            f"RESULT tests_per_second={rate:.1f} ideal={ideal:.0f} ratio={rate / ideal:.2f} transport="
            f"{'redis' if use_redis else 'filesystem'} concurrency={concurrency} workers={args.workers}"
        )
    finally:
        for worker, _ in workers:
            worker.terminate()
        for worker, _ in workers:
            worker.wait(timeout=30)
        provider.stop()
        shutil.rmtree(WORK_DIR, ignore_errors=True)
        if use_redis:
            import redis

            store = redis.Redis.from_url(REDIS_URL)
            for key in store.scan_iter(match=f"*{QUEUE}*"):
                store.delete(key)


if __name__ == "__main__":
    main()
