from django.db import models


class ProcessHeartbeat(models.Model):
    """A Celery worker or beat process saying it is alive (``/readyz``, ``manage.py doctor``).

    Each process writes its row every WORKER_HEARTBEAT_SECONDS from a thread and deletes it on a
    clean shutdown; a row older than a minute is a process that died or lost the database.
    """

    class Kind(models.TextChoices):
        WORKER = "worker", "Worker"
        BEAT = "beat", "Beat"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="The worker's node name, or beat's host and pid.")
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="heartbeat_kind_name")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"
