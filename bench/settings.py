"""Settings for ``bench/bench_connections_api.py``: the production settings (DEBUG off), fixed
bench-only keys, plain http on 127.0.0.1, and a URLConf that adds a bare JSON view to compare with.

The keys are set here rather than inherited so a stray DEBUG, .env file or test setting cannot
change what is measured; they protect nothing but throwaway benchmark data.
"""

import os
import warnings

os.environ["DEBUG"] = "false"
os.environ["SECRET_KEY"] = "bench-only-secret-key-never-use-elsewhere-0123456789-abcdefghijkl"
os.environ["ENCRYPTION_KEYS"] = "bench1:YmVuY2gtb25seS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="
# gunicorn is reached over plain http on loopback; a redirect to https would measure nothing.
os.environ["SECURE_SSL_REDIRECT"] = "false"
# The seeding writes an audit log line per connection; requests measured here log nothing anyway.
os.environ["LOG_LEVEL"] = "WARNING"

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# WhiteNoise warns that collectstatic never ran; the bench serves no static files.
warnings.filterwarnings("ignore", "No directory at", UserWarning)
