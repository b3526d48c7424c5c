"""Seconds to rotate the encryption key of 100,000 stored credentials on PostgreSQL.

    .venv/bin/python -m bench.bench_rotation [--connections 100000] [--batch-size 1000]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_speed_rotation]

Creates the database named in ``--database-url`` (it must not exist: the bench owns it and drops
it at the end, leaving the server as it found it), migrates it, inserts ``--connections``
connections encrypted with an old key (in bulk, not timed), then runs
``manage.py rotate_encryption_key`` in process with a new key first in ENCRYPTION_KEYS and prints
its wall-clock time and rows per second. Ends with ``RESULT rotation_seconds=… rotation_rows_per_s=…``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OLD_KEY = "bench-old:YmVuY2gtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="
NEW_KEY = "bench-new:bmV3LWJlbmNoLW9ubHktZW5jcnlwdGlvbi1rZXktMzI="
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench_speed_rotation"
CREDENTIALS = {"clientId": "3MVG9-bench-client", "clientSecret": "bench-client-secret-0123456789"}


def admin_connection(url: str):
    """A connection to the server's maintenance database, to create and drop the bench's own."""
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    )


def seed(count: int) -> None:
    from accounts.services import user_create
    from connections import encryption
    from connections.models import Connection, new_connection_id

    user = user_create(user_id="bench_rotation", name="Rotation", email="bench-rotation@example.com")
    for start in range(0, count, 10_000):
        rows = []
        for number in range(start, min(start + 10_000, count)):
            connection_id = new_connection_id()
            rows.append(
                Connection(
                    connection_id=connection_id,
                    user=user,
                    integration_id="salesforce",
                    auth_method_id="oauth2",
                    auth_method_label="OAuth 2.0",
                    connection_name=f"Salesforce {number}",
                    configured_variables={"instance_url": "https://mycompany.salesforce.com"},
                    credentials_encrypted=encryption.encrypt_json(CREDENTIALS, bound_to=connection_id),
                )
            )
        Connection.objects.bulk_create(rows, batch_size=2000)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Seconds to rotate the key of N stored credentials.")
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a database name that does not exist yet")
    options = parser.parse_args(argv)
    name = urlsplit(options.database_url).path.lstrip("/")
    with admin_connection(options.database_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # fails if it exists: never touch someone's data
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": options.database_url,
            "ENCRYPTION_KEYS": OLD_KEY,
        }
    )
    try:
        run(options)
    finally:
        from django.db import connections

        connections.close_all()
        with admin_connection(options.database_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(options: argparse.Namespace) -> None:
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seed(options.connections)
    print(f"Seeded {options.connections} connections on the old key in {time.perf_counter() - started:.1f} s")

    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    output = io.StringIO()
    started, cpu_started = time.perf_counter(), time.process_time()
    call_command("rotate_encryption_key", "--batch-size", str(options.batch_size), stdout=output)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(output.getvalue().splitlines()[-1])
    from connections.models import Connection

    left = Connection.objects.exclude(credentials_encrypted__startswith="v1.bench-new.").count()
    if left:
        raise SystemExit(f"{left} connections were not rotated")
    print(
        f"Rotated {options.connections} connections in {seconds:.1f} s "
        f"({options.connections / seconds:.0f}/s, batches of {options.batch_size}); "
        f"{cpu:.1f} s of CPU in this process (the rest is PostgreSQL and waiting for a CPU: "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"RESULT rotation_seconds={seconds:.2f} rotation_rows_per_s={options.connections / seconds:.0f} "
        f"rotation_client_cpu_seconds={cpu:.2f}"
    )


if __name__ == "__main__":
    main()
