import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.documents import is_sign_in_method


def new_connection_id() -> str:
    # 128 random bits: ids appear in URLs and must not be guessable or enumerable.
    return f"conn_{secrets.token_urlsafe(16)}"


class Connection(models.Model):
    """One user's account on one integration. Credentials are only ever stored encrypted."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    class CheckStatus(models.TextChoices):
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"

    connection_id = models.CharField(
        "connection ID", max_length=40, unique=True, default=new_connection_id, editable=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.PROTECT, related_name="connections"
    )
    auth_method_id = models.CharField("auth method ID", max_length=64)
    auth_method_label = models.CharField("auth method", max_length=200)
    connection_name = models.CharField("connection name", max_length=200)
    configured_variables = models.JSONField("configured variables", default=dict, blank=True)
    credentials_encrypted = models.TextField(
        help_text="A token from connections.encryption: key id, nonce and AES-GCM ciphertext.", editable=False
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    last_test_status = models.CharField(max_length=8, choices=CheckStatus.choices, null=True, blank=True)
    last_test_message = models.TextField(null=True, blank=True)
    last_test_date = models.DateTimeField(null=True, blank=True)
    # Tests failed in a row since the last success (connections/test_run_services.py keeps it).
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    # Set by a permanent delete: credentials and values are erased, the row stays for its history.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Bumped by every write; the API's ETag, so clients can refuse to overwrite newer data.
    version = models.PositiveIntegerField(default=1, editable=False)
    # --- Sign-in (OAuth 2.0 authorization code) connections: what the tokens are worth, in the
    # clear because none of it is secret (the tokens themselves are in credentials_encrypted).
    oauth_scopes = models.JSONField("OAuth scopes", default=list, blank=True, editable=False)
    oauth_expires_at = models.DateTimeField("access token expires", null=True, blank=True, editable=False)
    oauth_has_refresh_token = models.BooleanField("has a refresh token", default=False, editable=False)
    oauth_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The one refresh in flight: whoever set the claim (a random id) until when. Taken with a
    # conditional UPDATE, so exactly one process refreshes a token at a time (connections/oauth/tokens.py).
    oauth_refresh_claim = models.CharField(max_length=32, blank=True, default="", editable=False)
    oauth_refresh_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The provider refused the grant (invalid_grant, a revoked app): only signing in again helps.
    needs_reconnect = models.BooleanField("needs reconnecting", default=False)
    reconnect_reason = models.TextField(blank=True, default="")
    # The account these credentials belong to at the provider, read by the integration's
    # ``identity`` block after a successful test or sign-in. Not secret; shown to the user.
    account_id = models.CharField("account ID", max_length=255, blank=True, default="", editable=False)
    account_display_name = models.CharField(
        "account name", max_length=255, blank=True, default="", editable=False
    )
    account_email = models.CharField("account email", max_length=254, blank=True, default="", editable=False)
    account_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Imported tokens: a keyed hash of the imported access token (never the token), so importing
    # the same token again finds this connection instead of creating a second one.
    import_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "integration", "import_fingerprint"],
                # Tombstones of permanently deleted connections do not block importing the token again.
                condition=~models.Q(import_fingerprint="") & models.Q(deleted_at__isnull=True),
                name="connection_import_once",
            )
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="connection_user_status"),
            models.Index(fields=["user", "integration"], name="connection_user_integration"),
            models.Index(fields=["user", "created_at"], name="connection_user_created"),
            # Proactive refresh: refreshable tokens by expiry.
            models.Index(
                fields=["oauth_expires_at"],
                name="connection_oauth_due",
                condition=models.Q(oauth_has_refresh_token=True, needs_reconnect=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection_name} ({self.connection_id})"

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    @property
    def deleted_permanently(self) -> bool:
        return self.deleted_at is not None

    @property
    def account(self) -> dict | None:
        """``{accountId, displayName, email}`` once the provider has told us, else None."""
        if not self.account_id:
            return None
        return {
            "accountId": self.account_id,
            "displayName": self.account_display_name or None,
            "email": self.account_email or None,
        }

    @property
    def is_sign_in(self) -> bool:
        """Connected by signing in at the provider (OAuth 2.0 authorization code): tokens, not typed secrets."""
        return is_sign_in_method(self.integration.auth_method(self.auth_method_id))

    @property
    def needs_attention(self) -> bool:
        """Failed CONNECTION_ATTENTION_AFTER tests in a row: someone should look at it."""
        return self.consecutive_failures >= settings.CONNECTION_ATTENTION_AFTER


def new_test_run_id() -> str:
    return f"run_{secrets.token_urlsafe(16)}"


class CheckRun(models.Model):
    """One test of a connection: queued, run (inline or by a worker) and its outcome.

    Holds what the provider answered and how long it took, never a credential.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        ERROR = "error", "Error"

    class Trigger(models.TextChoices):
        API = "api", "API"
        SCHEDULE = "schedule", "Schedule"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command"
        PAGE = "page", "Page"  # the Test button of the wizard or My Connections

    run_id = models.CharField(
        "test run ID", max_length=40, unique=True, default=new_test_run_id, editable=False
    )
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="test_runs")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    endpoint = models.TextField(null=True, blank=True, help_text="The URL called, credential values masked.")
    queued_at = models.DateTimeField(default=timezone.now)
    # Set when the sweeper sends a queued run again (its first message was lost or never sent).
    requeued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Times a worker (or request) took it up."
    )
    requested_by = models.CharField(max_length=200, help_text="accounts.access.actor_label, or the schedule.")
    trigger = models.CharField(max_length=8, choices=Trigger.choices)

    class Meta:
        verbose_name = "test run"  # the API's and pages' word for it
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["connection", "-queued_at"], name="testrun_connection_queued"),
            models.Index(fields=["status", "queued_at"], name="testrun_status_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCESS, self.Status.ERROR)


class AuditEvent(models.Model):
    """Who did what to a connection and when. Names the fields that changed, never their values."""

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        REACTIVATE = "reactivate", "Reactivate"
        TEST = "test", "Test"
        RECONNECT = "reconnect", "Reconnect"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnection"
        REVOKE = "revoke", "Revoke tokens"
        IMPORT = "import", "Import"
        DELETE_PERMANENTLY = "erase", "Delete permanently"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="audit_events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.CharField(max_length=200, help_text="accounts.access.actor_label of whoever acted.")
    fields = models.JSONField(default=list, blank=True, help_text="Names of the fields involved.")
    detail = models.TextField(
        blank=True, default="", help_text="An outcome worth keeping (a provider's reason), never a secret."
    )
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


class ProxyCall(models.Model):
    """One request a host product sent to a provider through a connection (the proxy, a feature
    run). Holds the method, the path with query values masked, the outcome and who asked; never a
    body, a header or a credential."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="proxy_calls")
    method = models.CharField(max_length=8)
    path = models.TextField(help_text="Relative to the connection's base URL; query values masked.")
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The provider's answer; empty when none came."
    )
    duration_ms = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Requests sent, retries included.")
    error = models.TextField(blank=True, help_text="Why the call failed or was refused, if it did.")
    actor = models.CharField(max_length=200, help_text="accounts.access.actor_label of the caller.")
    feature_mapping_id = models.CharField(
        max_length=64, blank=True, help_text="The feature mapping run, for feature runs."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["connection", "-created_at"], name="proxycall_connection_created")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code or self.error or '…'}"


class WebhookEndpoint(models.Model):
    """A URL of the host product that receives signed events (Standard Webhooks).

    The signing secret is stored encrypted and shown once, when the endpoint is created.
    """

    class Event(models.TextChoices):
        CONNECTION_CREATED = "connection.created"
        CONNECTION_UPDATED = "connection.updated"
        CONNECTION_DELETED = "connection.deleted"
        CONNECTION_TEST_FAILED = "connection.test.failed"
        CONNECTION_NEEDS_ATTENTION = "connection.needs_attention"
        CONNECTION_RECONNECT_REQUIRED = "connection.reconnect_required"
        CONNECTION_REFRESH_FAILED = "connection.refresh_failed"

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event types sent to this endpoint.")
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, editable=False)
    # Deliveries that ended "failed" in a row; WEBHOOK_DISABLE_AFTER_FAILURES of them disable it.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    @property
    def encryption_binding(self) -> str:
        # The secret's ciphertext is bound to its row: it cannot be copied to another endpoint.
        return f"webhook-endpoint:{self.pk}"


def new_webhook_message_id() -> str:
    return f"msg_{secrets.token_urlsafe(16)}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: its payload (ids, names, statuses; never a credential) and the
    attempts to deliver it. The ``message_id`` (``webhook-id``) stays the same across retries and
    redeliveries, so receivers can drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, default=new_webhook_message_id, editable=False)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint} ({self.status})"


def new_connect_session_token() -> str:
    # 256 random bits; only its SHA-256 digest is stored (connections/connect/services.py).
    return f"cs_{secrets.token_urlsafe(32)}"


class ConnectSession(models.Model):
    """A host product's one-time link that lets one of its users through the wizard without a
    password: exchanged once, by one browser, for a short session scoped to that user's wizard and
    My Connections, restricted to ``integration_ids`` (empty: every active integration) or to
    ``connection`` (reconnect or edit that one)."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration_ids = models.JSONField("integration IDs", default=list, blank=True)
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.CASCADE, related_name="connect_sessions"
    )
    return_url = models.CharField("return URL", max_length=2000, blank=True, default="")
    created_by = models.CharField(max_length=200, help_text="accounts.access.actor_label of the creator.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    exchanged_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"connect session {self.pk} for {self.user_id}"

    def is_open(self, now) -> bool:
        return self.finished_at is None and now < self.expires_at


class OAuthApp(models.Model):
    """An operator's OAuth app (client) at a provider, for one sign-in auth method of an integration.

    The client secret is encrypted like credentials and never shown again. Without a row, the
    bundled catalog falls back to ``OAUTH_<INTEGRATION>_CLIENT_ID`` / ``_CLIENT_SECRET``.
    """

    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE, related_name="+")
    auth_method_id = models.CharField("auth method ID", max_length=64)
    client_id = models.CharField("client ID", max_length=500)
    client_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OAuth app"
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "auth_method_id"], name="oauthapp_integration_method"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} / {self.auth_method_id}"

    @property
    def encryption_binding(self) -> str:
        # What the secret's ciphertext is bound to: it cannot be moved to another app.
        return f"oauthapp:{self.integration_id}:{self.auth_method_id}"


class OAuthFlow(models.Model):
    """One sign-in in progress: the ``state`` sent to the provider (stored only as a hash), who
    started it and what to create when the provider sends the user back. Single use, short-lived.
    """

    state_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey("integrations.Integration", on_delete=models.CASCADE, related_name="+")
    auth_method_id = models.CharField(max_length=64)
    # Reconnect: the connection that gets the new tokens (it keeps its id, name and history).
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    connection_name = models.CharField(max_length=200, blank=True, default="")
    configured_variables = models.JSONField(default=dict, blank=True)
    redirect_uri = models.CharField(max_length=500)
    return_url = models.CharField(max_length=2000, blank=True, default="")
    # The PKCE verifier, encrypted (bound to the state hash); empty when the method has no PKCE.
    code_verifier_encrypted = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=200)
    # Started by the user in this app's pages: the callback must come in their signed-in session.
    # Started by a host product (API key): bound to the userId, any browser may bring it back,
    # but never one signed in as somebody else.
    requires_session = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth sign-in in progress"
        verbose_name_plural = "OAuth sign-ins in progress"

    def __str__(self) -> str:
        return f"{self.integration_id} sign-in for {self.user_id}"
