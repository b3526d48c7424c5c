import secrets

from django.conf import settings
from django.db import models


def new_connection_id() -> str:
    # 128 random bits: ids appear in URLs and must not be guessable or enumerable.
    return f"conn_{secrets.token_urlsafe(16)}"


class Connection(models.Model):
    """One user's account on one integration. Credentials are only ever stored encrypted."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    class TestStatus(models.TextChoices):
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"

    connection_id = models.CharField("connectionId", max_length=40, unique=True, default=new_connection_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    integration = models.ForeignKey("integrations.Integration", on_delete=models.PROTECT, related_name="connections")
    auth_method_id = models.CharField("authMethodId", max_length=64)
    auth_method_label = models.CharField("authMethodLabel", max_length=200)
    connection_name = models.CharField("connectionName", max_length=200)
    configured_variables = models.JSONField("configuredVariables", default=dict, blank=True)
    credentials_encrypted = models.TextField(
        help_text="A token from connections.encryption: key id, nonce and AES-GCM ciphertext.", editable=False
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    last_test_status = models.CharField(max_length=8, choices=TestStatus.choices, null=True, blank=True)
    last_test_message = models.TextField(null=True, blank=True)
    last_test_date = models.DateTimeField(null=True, blank=True)
    # Bumped by every write; the API's ETag, so clients can refuse to overwrite newer data.
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["user", "status"], name="connection_user_status"),
            models.Index(fields=["user", "integration"], name="connection_user_integration"),
            models.Index(fields=["user", "created_at"], name="connection_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.connection_name} ({self.connection_id})"

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class AuditEvent(models.Model):
    """Who did what to a connection and when. Names the fields that changed, never their values."""

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        REACTIVATE = "reactivate", "Reactivate"
        TEST = "test", "Test"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="audit_events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.CharField(max_length=200, help_text="accounts.access.actor_label of whoever acted.")
    fields = models.JSONField(default=list, blank=True, help_text="Names of the fields involved.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


class IdempotencyRecord(models.Model):
    """A POST …/connect made with an Idempotency-Key, so a retry returns the first result.

    Stores an HMAC of the request body (never the body: it holds credentials) and the
    connection it created; the response is rendered again from that connection.
    """

    key = models.CharField(max_length=255)
    actor = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["actor", "key"], name="idempotency_actor_key")]
