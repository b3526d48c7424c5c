"""Connection tests per second through a real Celery worker.

Starts the local provider (tests/provider_server.py) answering each test in 200 ms, creates 500
connections to it, queues a test of each (``test_run_enqueue_many``: what the API's
``?async=true``, the schedule and ``test_connections --async`` do) and waits until real workers
have finished them all: one per core, each started with the Procfile's ``worker:`` command as
it stands (pool, concurrency, log level), only given a queue and a name of their own. The runs
travel in chunks (TEST_RUN_CHUNK run ids per message) and each worker thread makes a chunk's
provider calls at the same time, so up to threads × chunk calls are in flight per worker. Prints
tests per second, the ratio to the ideal for that many calls in flight (the provider's delay per
round of calls), the workers' CPU time per test, and this process's (the provider, queueing and
polling: it shares the machine's cores with the workers).

    .venv/bin/python bench/bench_connection_tests.py [--tests 500] [--workers N]

The broker is Redis when it answers at BENCH_REDIS_URL (default redis://127.0.0.1:6379/13, a
queue of its own), else Kombu's filesystem transport; the database a throwaway SQLite file, or
BENCH_DATABASE_URL (an empty database you own: it is migrated and filled).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
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
    """Environment for the workers: settings_test's fixed keys, the broker, the database, and
    otherwise the defaults (LOG_LEVEL INFO included). This process logs warnings only."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{WORK_DIR / 'bench.sqlite3'}"),
        "CELERY_FILESYSTEM_DIR": str(WORK_DIR / "celery"),
        "OUTBOUND_ALLOWLIST": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    if use_redis:
        env["REDIS_URL"] = REDIS_URL
    else:
        os.environ.pop("REDIS_URL", None)
    workers_env = {**os.environ, **env}
    workers_env.pop("LOG_LEVEL", None)
    os.environ.update(env, LOG_LEVEL="WARNING")
    return workers_env


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def procfile_worker() -> list[str]:
    """The Procfile's worker command, word by word (``celery -A config worker --pool …``)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == "worker":
            return shlex.split(command)
    sys.exit("the Procfile has no worker: line")


def worker_option(command: list[str], *names: str) -> str | None:
    """The value the worker command gives an option (``--concurrency 50`` or ``-c 50``)."""
    for index, word in enumerate(command[:-1]):
        if word in names:
            return command[index + 1]
    return None


def start_worker(env: dict, command: list[str], index: int = 0) -> tuple[subprocess.Popen, Path]:
    log = WORK_DIR / f"worker-{index}.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name(command[0])),
            *command[1:],
            "-Q",
            QUEUE,
            "-n",
            f"{QUEUE}-{index}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    # Ready when it answers a control ping (its log may not say so with LOG_LEVEL=WARNING).
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
    # A worker process is bound by one core (the GIL): one per core, as the README says.
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="Worker processes (default: one per core)"
    )
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
    command = procfile_worker()
    threads = int(worker_option(command, "--concurrency", "-c") or settings.CELERY_WORKER_CONCURRENCY)
    pool = worker_option(command, "--pool", "-P") or settings.CELERY_WORKER_POOL
    print(
        f"broker: {transport}; database: {connection.vendor}; {args.workers} worker process(es), each "
        f"`{shlex.join(command)}` (pool {pool}, {threads} threads)"
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

        workers = [start_worker(env, command, i) for i in range(args.workers)]
        cpu_before = sum(cpu_seconds(w.pid) for w, _ in workers)
        bench_before = cpu_seconds(os.getpid())
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
        bench_cpu = cpu_seconds(os.getpid()) - bench_before

        done = list(CheckRun.objects.filter(pk__in=pks).exclude(status__in=["queued", "running"]))
        passed = [run for run in done if run.status == "success"]
        if len(passed) != args.tests:
            failures = {run.message for run in done if run.status != "success"}
            sys.exit(
                f"only {len(passed)} of {args.tests} tests passed in {elapsed:.1f} s: {failures}\n{workers[0][1].read_text()[-3000:]}"
            )
        times = sorted(run.response_time_ms for run in passed)
        rate = args.tests / elapsed
        in_flight = threads * test_run_services.TEST_RUN_CHUNK * args.workers
        ideal = args.tests / (args.delay_ms / 1000 * math.ceil(args.tests / in_flight))
        messages = math.ceil(args.tests / test_run_services.TEST_RUN_CHUNK)
        print(
            f"{args.tests} tests: queued in {queued:.2f} s ({messages} task messages), "
            f"all finished after {elapsed:.2f} s"
        )
        print(
            f"provider call: median {statistics.median(times)} ms, p95 {times[int(len(times) * 0.95) - 1]} ms "
            f"(the provider answers in {args.delay_ms} ms)"
        )
        print(
            f"worker CPU: {worker_cpu:.2f} s over {elapsed:.2f} s ({worker_cpu / args.tests * 1000:.1f} ms per test); "
            f"this process (provider, queueing, polling): {bench_cpu:.2f} s; "
            f"time limit per task: {settings.CELERY_TASK_TIME_LIMIT} s"
        )
        print(
            f"RESULT tests_per_second={rate:.1f} worker_cpu_ms_per_test={worker_cpu / args.tests * 1000:.2f} "
            f"ideal={ideal:.0f} ratio={rate / ideal:.2f} transport={'redis' if use_redis else 'filesystem'} "
            f"threads={threads} calls_in_flight={in_flight} workers={args.workers}"
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
