"""gunicorn's settings for the web process: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

PORT, WEB_CONCURRENCY (worker processes) and WEB_THREADS come from the environment. With
PROMETHEUS_MULTIPROC_DIR set, a worker process that exits has its live gauges dropped, so
``/metrics`` keeps adding up only the processes still running (counters keep their totals).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Behind a TLS-terminating proxy: trust its X-Forwarded-* headers (SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The app logs each request itself (with its request id); gunicorn's own lines go to stderr.
accesslog = None
errorlog = "-"


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
