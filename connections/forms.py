"""The admin's connection form: secrets shown masked, each with an input to replace it."""

from __future__ import annotations

from django import forms

from connections.encryption import CredentialsUnreadable
from connections.models import Connection
from connections.selectors import MASK, connection_credentials
from connections.services import ConnectionChanges, connection_update_plan
from core.errors import ApplicationError, ValidationFailed
from integrations.documents import is_secret_field

CREDENTIAL_PREFIX = "credential__"
VARIABLE_PREFIX = "variable__"


class ConnectionAdminForm(forms.ModelForm):
    """Connection name and status, plus one input per credential and configured variable of
    the connection's auth method. Secret inputs start empty (the stored value is never sent to
    the browser); typing a value replaces it, leaving one empty keeps it."""

    class Meta:
        model = Connection
        fields = ["connection_name", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.credentials_unreadable: str | None = None
        connection = self.instance
        method = connection.integration.auth_method(connection.auth_method_id) or {}
        try:
            stored = connection_credentials(connection=connection)
        except CredentialsUnreadable as exc:
            self.credentials_unreadable = exc.error
            return
        for field in method.get("fields", []):
            self.fields[CREDENTIAL_PREFIX + field["name"]] = self._input(field, stored.get(field["name"]))
        for field in method.get("additionalFields", []):
            value = connection.configured_variables.get(field["name"])
            self.fields[VARIABLE_PREFIX + field["name"]] = self._input(field, value)

    @staticmethod
    def _input(field: dict, value) -> forms.Field:
        label = field["label"]
        if is_secret_field(field):
            state = f"Stored: {MASK}" if value not in (None, "") else "Not set"
            return forms.CharField(
                label=label,
                required=False,
                strip=False,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=f"{state}. Type a new value to replace it; leave empty to keep it.",
            )
        return forms.CharField(
            label=label, required=False, initial="" if value is None else value, help_text=field.get("description", "")
        )

    def changes(self) -> ConnectionChanges:
        data = self.cleaned_data
        # Only what the operator edited: an untouched secret input is empty and must keep its value.
        edited = {name: data[name] for name in self.changed_data if name in data}
        credentials = {n.removeprefix(CREDENTIAL_PREFIX): v for n, v in edited.items() if n.startswith(CREDENTIAL_PREFIX)}
        variables = {n.removeprefix(VARIABLE_PREFIX): v for n, v in edited.items() if n.startswith(VARIABLE_PREFIX)}
        return ConnectionChanges(
            connection_name=data.get("connection_name"),
            status=data.get("status"),
            credentials=credentials or None,
            configured_variables=variables or None,
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            connection_update_plan(current=Connection.objects.get(pk=self.instance.pk), changes=self.changes())
        except ValidationFailed as exc:
            for message in exc.errors or [exc.message]:
                self.add_error(None, message)
        except ApplicationError as exc:
            self.add_error(None, exc.message)
        return cleaned
