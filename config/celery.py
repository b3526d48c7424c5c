"""The Celery app: ``celery -A config worker`` (settings under CELERY_* in config/settings.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("connections")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
