"""Test settings: production-like (DEBUG off) with fixed keys and fast hashing."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
# Two keys, newest first, so rotation can be exercised.
os.environ.setdefault(
    "ENCRYPTION_KEYS",
    "test2:q1V5uYqR2mBf0wH6kX3sT8nL4cZ7eJ9aP2dG5hM1vQo=,test1:3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("API_WRITE_THROTTLE_RATE", "100000/min")
# --- Connection tests: tasks published by tests go to a throwaway folder, not the dev queue; one
# per process of a parallel run (pytest-xdist workers inherit the controller's environment, and a
# test counts what was published). Processes a test starts keep their test's folder.
if "CELERY_FILESYSTEM_DIR" not in os.environ or os.environ.get(
    "CELERY_FILESYSTEM_DIR_OF", os.environ.get("PYTEST_XDIST_WORKER", "")
) != os.environ.get("PYTEST_XDIST_WORKER", ""):
    os.environ["CELERY_FILESYSTEM_DIR"] = tempfile.mkdtemp(prefix="connections-celery-")
    os.environ["CELERY_FILESYSTEM_DIR_OF"] = os.environ.get("PYTEST_XDIST_WORKER", "")
    atexit.register(shutil.rmtree, os.environ["CELERY_FILESYSTEM_DIR"], ignore_errors=True)

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# Tests (and the browser driving the live server) speak plain http.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Serve static files straight from the source folders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# --- Connection tests: a Celery worker is a separate process, so on SQLite the test database is
# a file it can open (in memory it would be private to the test process); one per process, and
# pytest-django adds the xdist worker's name (test_…_gw0) on PostgreSQL as on SQLite.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

    def _remove_test_database_files() -> None:
        # Django deletes the database file; its -wal and -shm files outlived it when another
        # process (a worker, a live-server thread) had it open, and piled up in var/ run after run.
        for path in VAR_DIR.glob(f"test-{os.getpid()}.sqlite3*"):  # noqa: F405
            path.unlink(missing_ok=True)

    atexit.register(_remove_test_database_files)
