"""The proxy benchmark runs end to end with tiny numbers, so it cannot rot unnoticed.

The script refuses to report figures unless every proxied call answered the provider's body, so a
passing run also means it measured real calls through the proxy.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.test_bench_connections_api import results

ROOT = Path(__file__).resolve().parents[2]
TINY_RUN = "--rounds 1 --seconds 0.3 --warmup 0.1 --callers 1,2 --direct-threads 1,2"


def test_the_proxy_benchmark_reports_rates_cpu_times_and_queries():
    run = subprocess.run(
        [sys.executable, "-m", "bench.bench_proxy", *TINY_RUN.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    figures = results(run.stdout)
    # Per process, kept busy: the best of the calibrated caller counts is measured.
    assert figures["proxy_rps"] > 0 and figures["direct_rps"] > 0
    assert figures["proxy_callers"] in (1, 2) and figures["direct_threads"] in (1, 2)
    assert f"1 app process, {figures['proxy_callers']:.0f} callers:" in run.stdout
    # The rates are printed rounded to whole requests per second.
    assert figures["ratio"] == pytest.approx(figures["proxy_rps"] / figures["direct_rps"], rel=0.2)
    for share in ("app_cpu_share", "direct_caller_cpu_share"):
        assert 0 <= figures[share] <= 1.5  # of one core; ticks land unevenly in a tiny run
    if figures["busy_app_cpu_ms"]:
        assert figures["core_ratio"] == pytest.approx(
            figures["busy_direct_caller_cpu_ms"] / figures["busy_app_cpu_ms"], abs=0.002
        )
    # One request at a time.
    assert figures["sequential_proxy_rps"] > 0 and figures["sequential_direct_rps"] > 0
    assert figures["sequential_ratio"] == pytest.approx(
        figures["sequential_proxy_rps"] / figures["sequential_direct_rps"], rel=0.2
    )
    assert figures["added_p50_ms"] == pytest.approx(
        figures["proxy_p50_ms"] - figures["direct_p50_ms"], abs=0.02
    )
    # CPU times are counted in clock ticks (10 ms): a tiny run may see none in one process.
    for process in ("direct_client", "proxy_client", "app", "provider"):
        assert figures[f"{process}_cpu_ms"] >= 0
    assert 0 <= figures["cpu_ratio"] <= 1
    assert 1 <= figures["queries"] <= 6
