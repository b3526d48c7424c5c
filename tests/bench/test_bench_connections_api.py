"""The speed benchmark runs end to end with tiny numbers, so it cannot rot unnoticed.

The script itself refuses to report figures unless every endpoint answered 200 with the seeded
connections and their decrypted credentials, so a passing run also means it measured real answers.
"""

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
TINY_RUN = [
    "--connections",
    "3",
    "--workers",
    "1",
    "--threads",
    "2",
    "--rounds",
    "1",
    "--seconds",
    "0.3",
    "--warmup",
    "0.1",
    "--sweep",
    "2,5",
]


def run_bench(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.bench_connections_api", *TINY_RUN, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def results(stdout: str) -> dict[str, float]:
    figures = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            figures.update(
                (name, float(value)) for name, value in (pair.split("=") for pair in line.split()[1:])
            )
    return figures


def assert_reports_figures(run: subprocess.CompletedProcess) -> None:
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Seeded 3 connections" in run.stdout
    figures = results(run.stdout)
    for name in ("my_connections", "detail", "bare", "ceiling_my_connections", "ceiling_detail"):
        assert figures[f"{name}_rps"] > 0
        assert 0 < figures[f"{name}_p50_ms"] <= figures[f"{name}_p95_ms"]
    for name in ("my_connections", "detail"):
        assert figures[f"{name}_bare_ratio"] == pytest.approx(
            figures[f"{name}_rps"] / figures["bare_rps"], rel=0.01
        )
        assert figures[f"{name}_ceiling_ratio"] == pytest.approx(
            figures[f"{name}_rps"] / figures[f"ceiling_{name}_rps"], rel=0.01
        )
    assert figures["sweep_2_rps"] > 0 and figures["sweep_5_rps"] > 0


@pytest.fixture
def postgres_scratch_url():
    """A throwaway database beside the suite's own, on the suite's PostgreSQL server."""
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_bench_smoke"
    server = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"], "password": db["PASSWORD"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{server['password']}" if server["password"] else ""
    yield f"postgres://{server['user']}{password}@{server['host']}:{server['port']}/{name}", server, name
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_bench_on_a_fresh_sqlite_file_prints_rates_latencies_and_ratios():
    assert_reports_figures(run_bench())


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] not in ("django.db.backends.postgresql", "core.postgresql"),
    reason="runs when the suite runs on PostgreSQL",
)
def test_bench_on_a_given_postgres_database_removes_what_it_seeded(postgres_scratch_url):
    url, server, name = postgres_scratch_url
    assert_reports_figures(run_bench("--database-url", url))
    with psycopg.connect(dbname=name, **server) as scratch:
        leftovers = [
            scratch.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "accounts_user",
                "accounts_apikey",
                "connections_connection",
                "connections_auditevent",
            )
        ]
    assert leftovers == [0, 0, 0, 0]
