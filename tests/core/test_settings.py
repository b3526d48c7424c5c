"""Settings as an operator meets them: production refuses to start without keys, development
makes its own once, and the deploy checks pass with production settings."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-like-secret-key-with-enough-length-and-variety-0123456789",
    "ENCRYPTION_KEYS": "k1:q1V5uYqR2mBf0wH6kX3sT8nL4cZ7eJ9aP2dG5hM1vQo=",
    "ALLOWED_HOSTS": "connections.example.com",
}


def outside_environment(**env: str) -> dict:
    """A process environment as an operator's shell has it: none of this test run's settings
    (plain http, DJANGO_ALLOW_ASYNC_UNSAFE for the browser tests, …) leak in."""
    kept = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    return {**kept, "DJANGO_SETTINGS_MODULE": "config.settings", **env}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=outside_environment(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_checks_pass_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_keys_and_says_how_to_make_them():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in {"SECRET_KEY", "ENCRYPTION_KEYS"}}
    env.update(SECRET_KEY="", ENCRYPTION_KEYS="")

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY, ENCRYPTION_KEYS are not set" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr and "ENCRYPTION_KEYS:" in result.stderr


def test_debug_generates_development_keys_once_and_warns(tmp_path):
    env = {"DEBUG": "true", "SECRET_KEY": "", "ENCRYPTION_KEYS": "", "VAR_DIR": str(tmp_path)}
    show_key = (
        "import django; django.setup(); from django.conf import settings; print(settings.ENCRYPTION_KEYS[0])"
    )

    def run():
        return subprocess.run(
            [sys.executable, "-c", show_key],
            env=outside_environment(**env),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first, second = run(), run()

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    secrets_file = tmp_path / "dev-secrets.json"
    assert "generated development SECRET_KEY and ENCRYPTION_KEYS" in first.stderr
    assert str(secrets_file) in first.stderr
    assert "generated development" not in second.stderr
    assert first.stdout == second.stdout and first.stdout.startswith("dev1:")
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"


def test_celery_beat_keeps_its_schedule_under_var_dir(tmp_path):
    """bin/app with VAR_DIR set: beat must not write under the checkout's var/ (or fail there)."""
    env = outside_environment(DEBUG="true", VAR_DIR=str(tmp_path))
    env.pop("REDIS_URL", None)
    beat = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "config", "beat", "--loglevel", "INFO"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("celerybeat-schedule*")) and beat.poll() is None:
            assert time.monotonic() < deadline, "beat wrote no schedule under VAR_DIR"
            time.sleep(0.2)
    finally:
        beat.terminate()
        _, errors = beat.communicate(timeout=30)
    assert list(tmp_path.glob("celerybeat-schedule*")), errors
    assert "--schedule" not in (ROOT / "bin" / "app").read_text()
