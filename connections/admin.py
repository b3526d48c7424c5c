from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import UserAdmin
from accounts.models import User
from connections import encryption
from connections.encryption import CredentialsUnreadable
from connections.forms import CREDENTIAL_PREFIX, VARIABLE_PREFIX, ConnectionAdminForm, OAuthAppAdminForm
from connections.health import FAILING_WINDOW, IntegrationHealth, integration_health_list
from connections.models import (
    AuditEvent,
    CheckRun,
    Connection,
    OAuthApp,
    ProxyCall,
    WebhookDelivery,
    WebhookEndpoint,
)
from connections.oauth.clients import oauth_app_save, oauth_callback_url, oauth_environment_prefix
from connections.services import connection_delete, connection_update
from connections.test_run_services import test_run_enqueue_many
from connections.webhooks import (
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_endpoint_validate,
)
from core.errors import ServiceUnavailable, ValidationFailed
from core.heartbeats import heartbeats_recent
from core.models import ProcessHeartbeat

RECENT_ROWS = 20


class RecentRowsFormSet(BaseInlineFormSet):
    def get_queryset(self):
        # A connection re-tested daily or called all day gathers thousands of rows; show the newest.
        return super().get_queryset()[:RECENT_ROWS]


class RecentRowsInline(admin.TabularInline):
    """The newest rows of a connection's (or an endpoint's) history, read-only, each linking to its page."""

    formset = RecentRowsFormSet
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class AuditEventInline(admin.TabularInline):
    model = AuditEvent
    fields = ["created_at", "action", "actor", "fields", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- Connection tests: history (read-only), the "needs attention" filter and the "Test selected" action.

TEST_RUN_FIELDS = [
    "run_id",
    "connection",
    "status",
    "status_code",
    "response_time_ms",
    "message",
    "endpoint",
    "trigger",
    "requested_by",
    "attempts",
    "queued_at",
    "requeued_at",
    "started_at",
    "finished_at",
]


class CheckRunInline(RecentRowsInline):
    model = CheckRun
    fields = [
        "run_id",
        "status",
        "status_code",
        "response_time_ms",
        "message",
        "trigger",
        "requested_by",
        "queued_at",
        "finished_at",
    ]
    readonly_fields = fields
    ordering = ["-queued_at", "-id"]
    verbose_name_plural = f"Recent test runs (newest {RECENT_ROWS})"


@admin.register(CheckRun)
class CheckRunAdmin(admin.ModelAdmin):
    """Every test of every connection, as recorded: read-only."""

    list_display = [
        "run_id",
        "connection",
        "status",
        "status_code",
        "response_time_ms",
        "trigger",
        "queued_at",
        "finished_at",
    ]
    list_filter = ["status", "trigger", "connection__integration"]
    search_fields = ["run_id", "connection__connection_id", "connection__connection_name"]
    list_select_related = ["connection"]
    readonly_fields = TEST_RUN_FIELDS
    fields = TEST_RUN_FIELDS + ["error_message"]
    date_hierarchy = "queued_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Proxied calls: what host products did with a connection's credentials (read-only).

PROXY_CALL_FIELDS = [
    "created_at",
    "connection",
    "method",
    "path",
    "status_code",
    "duration_ms",
    "attempts",
    "error",
    "actor",
    "feature_mapping_id",
]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProxyCall)
class ProxyCallAdmin(ReadOnlyAdmin):
    """Every call made through a connection (proxy and feature runs): never a body or a secret."""

    list_display = PROXY_CALL_FIELDS[:8]
    list_filter = ["method", "status_code", "connection__integration"]
    search_fields = ["connection__connection_id", "path", "actor", "feature_mapping_id"]
    list_select_related = ["connection"]
    fields = readonly_fields = PROXY_CALL_FIELDS
    date_hierarchy = "created_at"


class ProxyCallInline(RecentRowsInline):
    model = ProxyCall
    fields = readonly_fields = ["created_at", "method", "path", "status_code", "duration_ms", "actor"]
    ordering = ["-created_at", "-id"]
    verbose_name_plural = f"Recent proxied calls (newest {RECENT_ROWS})"


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "needs_attention"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        threshold = settings.CONNECTION_ATTENTION_AFTER
        if self.value() == "yes":
            return queryset.filter(consecutive_failures__gte=threshold)
        if self.value() == "no":
            return queryset.filter(consecutive_failures__lt=threshold)
        return queryset


def _health_links(row: IntegrationHealth, since) -> dict[str, str]:
    connections = reverse("admin:connections_connection_changelist")
    runs = reverse("admin:connections_checkrun_changelist")
    of_integration = {"integration__id__exact": row.integration_id}
    return {
        "all": f"{connections}?{urlencode(of_integration)}",
        "active": f"{connections}?{urlencode({**of_integration, 'status__exact': 'active'})}",
        "inactive": f"{connections}?{urlencode({**of_integration, 'status__exact': 'inactive'})}",
        "attention": f"{connections}?{urlencode({**of_integration, 'needs_attention': 'yes'})}",
        "reconnect": f"{connections}?{urlencode({**of_integration, 'needs_reconnect__exact': '1'})}",
        "failed_runs": f"{runs}?"
        + urlencode(
            {
                "connection__integration__id__exact": row.integration_id,
                "status__exact": "error",
                "finished_at__gte": since.isoformat(timespec="seconds"),
            }
        ),
    }


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Connections are created by their users (API or wizard); operators inspect, fix and
    deactivate them. No page ever shows a stored secret."""

    form = ConnectionAdminForm
    # Name and id share a column so the status columns fit at 1280 px beside the filters.
    list_display = [
        "name",
        "owner",
        "integration",
        "status",
        "last_test",
        "needs_attention",
        "updated_at",
    ]
    list_filter = ["integration", "status", "last_test_status", NeedsAttentionFilter, "needs_reconnect"]
    search_fields = ["connection_id", "connection_name", "user__user_id", "user__email"]
    list_select_related = ["user", "integration"]
    ordering = ["-created_at"]
    actions = ["deactivate", "test_selected"]
    inlines = [CheckRunInline, ProxyCallInline, AuditEventInline]
    change_list_template = "admin/connections/connection/change_list.html"
    readonly_fields = [
        "connection_id",
        "user",
        "integration",
        "auth_method_label",
        "encryption_key",
        "last_test_status",
        "last_test_message",
        "last_test_date",
        "consecutive_failures",
        "all_test_runs",
        "version",
        "created_at",
        "updated_at",
        "oauth_scopes",
        "oauth_expires_at",
        "oauth_has_refresh_token",
        "oauth_refreshed_at",
        "needs_reconnect",
        "reconnect_reason",
    ]

    def get_fieldsets(self, request, obj=None):
        form = self.get_form(request, obj, fields=None)(instance=obj)
        credential_fields = [name for name in form.fields if name.startswith(CREDENTIAL_PREFIX)]
        variable_fields = [name for name in form.fields if name.startswith(VARIABLE_PREFIX)]
        return [
            (
                None,
                {
                    "fields": [
                        "connection_id",
                        "connection_name",
                        "user",
                        "integration",
                        "auth_method_label",
                        "status",
                    ]
                },
            ),
            ("Credentials", {"fields": credential_fields + ["encryption_key"]}),
            ("Configured variables", {"fields": variable_fields}),
            (
                "Last test",
                {
                    "fields": [
                        "last_test_status",
                        "last_test_message",
                        "last_test_date",
                        "consecutive_failures",
                        "all_test_runs",
                    ]
                },
            ),
            ("Record", {"fields": ["version", "created_at", "updated_at"]}),
        ] + self._sign_in_fieldset(obj)

    @staticmethod
    def _sign_in_fieldset(obj):
        if obj is None or not obj.is_sign_in:
            return []
        fields = ["oauth_scopes", "oauth_expires_at", "oauth_has_refresh_token", "oauth_refreshed_at"]
        return [("Sign-in tokens", {"fields": fields + ["needs_reconnect", "reconnect_reason"]})]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The per-method inputs are added by the form itself; the admin must not check them
        # against the model's fields.
        kwargs["fields"] = ["connection_name", "status"]
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="Encryption")
    def encryption_key(self, obj: Connection) -> str:
        try:
            return f"AES-256-GCM with key '{encryption.token_key_id(obj.credentials_encrypted)}'"
        except CredentialsUnreadable as exc:
            return exc.error or exc.message

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # soft delete only: the "Deactivate" action

    def has_change_permission(self, request, obj=None) -> bool:
        # A connection deleted permanently is kept for its history only: nothing left to edit.
        if obj is not None and obj.deleted_permanently:
            return False
        return super().has_change_permission(request, obj)

    def get_urls(self):
        health = path("health/", self.admin_site.admin_view(self.health_view), name="connections_health")
        return [health, *super().get_urls()]

    def health_view(self, request):
        """Per integration: connections by status, failing tests, samples, links to the lists."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        since = timezone.now() - FAILING_WINDOW
        rows = [(row, _health_links(row, since)) for row in integration_health_list()]
        context = {
            **self.admin_site.each_context(request),
            "title": "Health by integration",
            "opts": self.model._meta,
            "rows": rows,
            "attention_after": settings.CONNECTION_ATTENTION_AFTER,
            "workers": len(heartbeats_recent(kind=ProcessHeartbeat.Kind.WORKER)),
            "beats": len(heartbeats_recent(kind=ProcessHeartbeat.Kind.BEAT)),
        }
        return TemplateResponse(request, "admin/connections/health.html", context)

    def history_view(self, request, object_id, extra_context=None):
        # Connections change through the API, the wizard and workers, not through admin's own
        # forms: their story is the audit trail, so the History page shows it beside admin's log.
        connection = self.get_object(request, object_id)
        events = connection.audit_events.all()[:200] if connection else []
        return super().history_view(request, object_id, {**(extra_context or {}), "audit_events": events})

    def save_model(self, request, obj, form, change):
        # Through the service: row lock, merge, validation, re-encryption and the audit record.
        connection_update(connection=obj, actor=request.user, changes=form.changes())
        obj.refresh_from_db()

    @admin.action(description="Deactivate selected connections")
    def deactivate(self, request, queryset):
        count = 0
        for connection in queryset.filter(status=Connection.Status.ACTIVE):
            connection_delete(connection=connection, actor=request.user)
            count += 1
        self.message_user(request, f"Deactivated {count} connection(s).", messages.SUCCESS)

    @admin.display(description="Connection", ordering="connection_name")
    def name(self, obj: Connection) -> str:
        return format_html(
            '{}<br><code class="connection-id">{}</code>', obj.connection_name, obj.connection_id
        )

    @admin.display(description="Last test", ordering="last_test_status")
    def last_test(self, obj: Connection) -> str:
        return obj.get_last_test_status_display() or "Not tested"

    @admin.display(description="User", ordering="user__user_id")
    def owner(self, obj: Connection) -> str:
        return obj.user.user_id

    @admin.display(description="Needs attention")
    def needs_attention(self, obj: Connection) -> str:
        # Words, not admin's green tick: a tick would read as "fine" for a failing connection.
        if obj.needs_attention:
            return format_html('<strong class="needs-attention">{}</strong>', "Yes")
        return "No"

    @admin.display(description="Test history")
    def all_test_runs(self, obj: Connection) -> str:
        url = reverse("admin:connections_checkrun_changelist") + f"?q={obj.connection_id}"
        return format_html('<a href="{}">All test runs</a>', url)

    @admin.action(description="Test selected connections")
    def test_selected(self, request, queryset):
        # Queued for the workers: an admin page must not wait on many providers.
        active = list(queryset.filter(status=Connection.Status.ACTIVE))
        try:
            runs = test_run_enqueue_many(
                connections=active, actor=request.user, trigger=CheckRun.Trigger.ADMIN
            )
        except ServiceUnavailable as exc:
            self.message_user(request, f"{exc.message} {exc.error}", messages.ERROR)
            return
        skipped = queryset.count() - len(active)
        note = f" ({skipped} inactive skipped)" if skipped else ""
        self.message_user(
            request,
            f"Queued {len(runs)} connection test(s){note}; results appear under Test runs.",
            messages.SUCCESS,
        )


class UserConnectionInline(admin.TabularInline):
    """The user's connections, read-only and without credentials; edit them on their own page."""

    model = Connection
    fields = [
        "connection_id",
        "connection_name",
        "integration",
        "auth_method_label",
        "status",
        "last_test_status",
        "last_test_date",
    ]
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("integration")


# accounts knows nothing of connections: the user page gains its connections from here.
admin.site.unregister(User)


@admin.register(User)
class UserWithConnectionsAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserConnectionInline]


@admin.register(OAuthApp)
class OAuthAppAdmin(admin.ModelAdmin):
    """Operators' OAuth apps: what end users sign in with. The secret is encrypted and never shown."""

    form = OAuthAppAdminForm
    list_display = ["integration", "auth_method_id", "client_id", "has_secret", "updated_at"]
    list_select_related = ["integration"]
    readonly_fields = ["callback_url", "environment_names", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["integration", "auth_method_id", "client_id", "client_secret"]}),
        ("Register at the provider", {"fields": ["callback_url", "environment_names"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The method an app is for is its identity: create another app for another method.
        return self.readonly_fields + (["integration", "auth_method_id"] if obj else [])

    def get_form(self, request, obj=None, change=False, **kwargs):
        self._request = request  # the callback URL is built from it when PUBLIC_URL is not set
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="Callback (redirect) URL")
    def callback_url(self, obj) -> str:
        url = oauth_callback_url(request=getattr(self, "_request", None))
        note = (
            "" if settings.PUBLIC_URL else " (from this request: set PUBLIC_URL to the address users reach)"
        )
        return format_html("<code data-callback-url>{}</code>{}", url, note)

    @admin.display(description="Or set in the environment")
    def environment_names(self, obj) -> str:
        if obj is None or not obj.integration_id:
            return "OAUTH_<INTEGRATION>_CLIENT_ID and OAUTH_<INTEGRATION>_CLIENT_SECRET"
        prefix = oauth_environment_prefix(obj.integration_id)
        return f"{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET (an app saved here wins)"

    @admin.display(description="Client secret", boolean=True)
    def has_secret(self, obj: OAuthApp) -> bool:
        return bool(obj.client_secret_encrypted)

    def save_model(self, request, obj, form, change):
        saved = oauth_app_save(
            integration=form.cleaned_data.get("integration") or obj.integration,
            auth_method_id=form.cleaned_data.get("auth_method_id") or obj.auth_method_id,
            client_id=form.cleaned_data["client_id"],
            client_secret=form.cleaned_data.get("client_secret"),
        )
        obj.pk, obj._state.adding = saved.pk, False


# --- Webhooks to the host product: endpoints (secret shown once), the delivery log, redelivery.


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Where the events are POSTed.")
    events = forms.MultipleChoiceField(
        choices=WebhookEndpoint.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events sent to this URL.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events"]

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                webhook_endpoint_validate(url=data["url"], events=data["events"])
            except ValidationFailed as exc:
                raise ValidationError(exc.errors) from None
        return data


class WebhookDeliveryInline(RecentRowsInline):
    model = WebhookDelivery
    fields = readonly_fields = [
        "created_at",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
    ]
    ordering = ["-created_at", "-id"]
    verbose_name_plural = f"Recent deliveries (newest {RECENT_ROWS})"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "enabled", "disabled_reason", "consecutive_failures", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    readonly_fields = ["enabled", "disabled_reason", "consecutive_failures", "created_at", "updated_at"]
    actions = ["rotate_secret", "enable_selected"]
    inlines = [WebhookDeliveryInline]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            webhook_endpoint_update(
                endpoint=obj, url=data["url"], events=data["events"], description=data["description"]
            )
            return
        endpoint, secret = webhook_endpoint_create(
            url=data["url"], events=data["events"], description=data["description"]
        )
        obj.pk, obj.created_at, obj.secret_encrypted = (
            endpoint.pk,
            endpoint.created_at,
            endpoint.secret_encrypted,
        )
        obj._state.adding = False
        messages.warning(request, f"Signing secret for {endpoint.url} (shown once, copy it now): {secret}")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and not obj.enabled:
            messages.error(request, obj.disabled_reason or "This endpoint is disabled.")
        return form

    @admin.action(description="Rotate the signing secret (the new one is shown once)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = webhook_endpoint_rotate_secret(endpoint=endpoint)
            messages.warning(request, f"New signing secret for {endpoint.url} (shown once): {secret}")

    @admin.action(description="Enable selected endpoints")
    def enable_selected(self, request, queryset):
        for endpoint in queryset:
            webhook_endpoint_enable(endpoint=endpoint)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).", messages.SUCCESS)


DELIVERY_FIELDS = [
    "message_id",
    "endpoint",
    "event_type",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
    "next_attempt_at",
    "last_attempt_at",
    "created_at",
    "payload",
]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every event sent (or being sent) to an endpoint, with its last answer; "Redeliver" sends
    it again with the same webhook-id."""

    list_display = DELIVERY_FIELDS[:8]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["message_id", "event_type", "endpoint__url"]
    list_select_related = ["endpoint"]
    fields = readonly_fields = DELIVERY_FIELDS
    date_hierarchy = "created_at"
    actions = ["redeliver"]

    @admin.action(description="Redeliver selected")
    def redeliver(self, request, queryset):
        sent = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                webhook_delivery_redeliver(delivery=delivery)
                sent += 1
            except ValidationFailed as exc:
                self.message_user(request, exc.errors[0], messages.ERROR)
        self.message_user(request, f"Redelivering {sent} delivery(ies).", messages.SUCCESS)
