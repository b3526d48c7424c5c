"""Connection forms.

- ``ConnectionForm``: the wizard's configure step, built from one auth method of a schema document.
  It only shapes the input; the connection services stay the single judge of what is valid
  (required fields, ``showWhen``, patterns, URL templates). Their messages
  (``credentials.clientId is required``) are mapped back onto the inputs they name.
- ``ConnectionAdminForm``: the admin's connection form: secrets shown masked, each with an input
  to replace it.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

from connections.encryption import CredentialsUnreadable
from connections.models import Connection, OAuthApp
from connections.selectors import MASK, connection_credentials
from connections.services import ConnectionChanges, connection_update_plan
from core.errors import ApplicationError, ValidationFailed
from integrations.documents import is_secret_field, is_sign_in_method

CREDENTIAL_PREFIX = "credential__"
VARIABLE_PREFIX = "variable__"
CREDENTIALS = "credentials"
VARIABLES = "configuredVariables"
NAME_FIELD = "connection_name"

# "credentials.clientId is required", "configuredVariables.instance_url: Enter a valid URL"
SERVICE_ERROR = re.compile(rf"^({CREDENTIALS}|{VARIABLES})\.([A-Za-z][A-Za-z0-9_]*)(?::\s*|\s+)?(.*)$", re.S)
NAME_ERROR = re.compile(r"^connectionName(?::\s*|\s+)?(.*)$", re.S)

KEEP_SECRET_HELP = "Leave blank to keep the current value."


def form_key(group: str, name: str) -> str:
    """The HTML name of a schema field: ``credentials__clientId``."""
    return f"{group}__{name}"


def _widget(spec: dict, *, secret: bool) -> forms.Widget:
    kind = spec["type"]
    if kind == "password" or secret:
        # new-password: browsers must not autofill the user's own sign-in password here.
        return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    if kind == "textarea":
        return forms.Textarea(attrs={"rows": 4})
    if kind == "select":
        return forms.Select()
    if "instanceOf" in spec:
        # A bare instance name is welcome here, which type=url would refuse.
        return forms.TextInput(attrs={"autocomplete": "off", "inputmode": "url"})
    widget_class = {"url": forms.URLInput, "email": forms.EmailInput, "number": forms.NumberInput}
    return widget_class.get(kind, forms.TextInput)(attrs={"autocomplete": "off"})


def _option_value(value: Any) -> str:
    # Options may be numbers or booleans in the document; HTML carries text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _html_attrs(spec: dict, *, key: str, required: bool) -> dict:
    attrs: dict[str, Any] = {"aria-describedby": f"{key}-help {key}-errors"}
    if required:
        attrs["required"] = True
    if spec.get("placeholder"):
        attrs["placeholder"] = spec["placeholder"]
    if spec.get("pattern") and spec["type"] not in ("select", "number"):
        attrs["pattern"] = spec["pattern"]
        if spec.get("patternMessage"):
            attrs["data-pattern-message"] = spec["patternMessage"]
    if spec.get("minLength") is not None:
        attrs["minlength"] = spec["minLength"]
    if spec.get("maxLength") is not None:
        attrs["maxlength"] = spec["maxLength"]
    if spec["type"] == "number":
        attrs["step"] = "any"
    return attrs


class ConnectionForm(forms.Form):
    """Connection name plus one input per ``fields`` (credentials) and ``additionalFields``
    (configuredVariables) entry of ``auth_method``.

    ``editing`` marks secret inputs optional: left blank, the stored value is kept. ``kept``
    names the secrets a wizard draft holds from a refused submit: optional too, blank keeps them.
    """

    connection_name = forms.CharField(
        label="Connection name",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "aria-describedby": "connection_name-help"}),
    )

    def __init__(
        self, *args, auth_method: dict, editing: bool = False, kept: frozenset[str] = frozenset(), **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.auth_method = auth_method
        self.editing = editing
        self.specs: dict[str, tuple[str, dict]] = {}
        labels = {}
        for group, specs in (
            (CREDENTIALS, auth_method.get("fields", [])),
            (VARIABLES, auth_method.get("additionalFields", [])),
        ):
            for spec in specs:
                key = form_key(group, spec["name"])
                self.specs[key] = (group, spec)
                labels[spec["name"]] = (key, spec)
                self.fields[key] = self._field(group, spec, key)
        for key, (_, spec) in self.specs.items():
            show_when = spec.get("showWhen")
            if show_when:
                self.fields[key].show_when = self._condition(show_when, labels)
        self.mark_kept(kept)

    def mark_kept(self, names: frozenset[str]) -> None:
        """Show the secrets ``names`` as kept by the wizard draft: optional, blank keeps them."""
        self.kept = names
        for key, (_group, spec) in self.specs.items():
            field = self.fields[key]
            if not field.secret or spec["name"] not in names:
                continue
            field.kept_in_draft = field.keeps_current = True
            field.marked_required = field.required_when_shown = False
            field.widget.attrs.pop("required", None)
            field.widget.attrs["placeholder"] = "•••••••• (kept)"

    def _field(self, group: str, spec: dict, key: str) -> forms.Field:
        secret = is_secret_field(spec)
        keeps_current = secret and self.editing
        # showWhen fields are required only while visible; the service decides, not the browser.
        required = bool(spec.get("required")) and not spec.get("showWhen") and not keeps_current
        field_class = forms.ChoiceField if spec["type"] == "select" else forms.CharField
        extra = {}
        if spec["type"] == "select":
            extra["choices"] = [("", "Choose…")] + [
                (_option_value(option["value"]), option["label"]) for option in spec["options"]
            ]
        else:
            extra["strip"] = not secret  # a secret is stored exactly as typed
        field = field_class(label=spec["label"], required=False, widget=_widget(spec, secret=secret), **extra)
        field.widget.attrs.update(_html_attrs(spec, key=key, required=required))
        if keeps_current:
            field.widget.attrs["placeholder"] = "•••••••• (unchanged)"
        # A showWhen field's default is what it means while hidden (GitLab.com's address), not a
        # suggestion for when it is shown: "Self-managed" must not arrive prefilled with gitlab.com.
        if "default" in spec and "showWhen" not in spec and not self.is_bound:
            field.initial = _option_value(spec["default"])
        field.spec = spec
        field.group = group
        field.secret = secret
        # A kept secret is not asked for again: it is not marked required.
        field.marked_required = bool(spec.get("required")) and not keeps_current
        field.keeps_current = keeps_current
        field.kept_in_draft = False
        field.required_when_shown = (
            bool(spec.get("required")) and bool(spec.get("showWhen")) and not keeps_current
        )
        field.show_when = None
        return field

    @staticmethod
    def _condition(show_when: dict, labels: dict) -> dict:
        key, spec = labels[show_when["key"]]
        wanted = _option_value(show_when["value"])
        shown = next(
            (o["label"] for o in spec.get("options", []) if _option_value(o["value"]) == wanted), wanted
        )
        return {"field": key, "value": wanted, "note": f"Only needed when {spec['label']} is {shown}."}

    # --- Reading the input -------------------------------------------------------------------

    def _typed(self, spec: dict, raw: str) -> Any:
        if spec["type"] == "select":
            return next((o["value"] for o in spec["options"] if _option_value(o["value"]) == raw), raw)
        if spec["type"] == "number":
            # Left as text when it is not a number, so the service reports it.
            for cast in (int, float):
                try:
                    return cast(raw)
                except ValueError:
                    continue
        return raw

    def _shown(self, key: str) -> bool:
        """Whether a showWhen field applies to what was submitted. Without JavaScript every field
        is on the page; one whose condition does not hold is ignored, as the script would."""
        condition = self.fields[key].show_when
        if not condition:
            return True
        controlling = self.cleaned_data.get(condition["field"]) or ""
        if controlling == "":
            default = self.specs[condition["field"]][1].get("default")
            controlling = "" if default is None else _option_value(default)
        return controlling == condition["value"]

    def values(self, group: str) -> dict[str, Any]:
        """The filled-in values of one group, typed as the document says. Blank ones are left
        out, so a required one is reported missing."""
        return {name: value for name, value in self.values_for_update(group).items() if value != ""}

    def values_for_update(self, group: str) -> dict[str, Any]:
        """Every applicable value of one group, blanks included: on an update a blank clears an
        optional value and keeps a stored secret."""
        values = {}
        for key, (field_group, spec) in self.specs.items():
            if field_group == group and self._shown(key):
                raw = self.cleaned_data.get(key) or ""
                values[spec["name"]] = self._typed(spec, raw) if raw != "" else ""
        return values

    def secrets_typed(self) -> dict[str, str]:
        """The secrets typed into this submit that the services did not reject, by name."""
        return {
            spec["name"]: self.cleaned_data[key]
            for key, (group, spec) in self.specs.items()
            if group == CREDENTIALS
            and self.fields[key].secret
            and self.cleaned_data.get(key)
            and key not in self.errors
        }

    def secrets_to_reenter(self) -> list[forms.BoundField]:
        """Secret inputs of a refused submit the user must fill in again: rejected ones, and
        required ones neither typed nor kept."""
        return [
            self[key]
            for key, (group, spec) in self.specs.items()
            if self.fields[key].secret
            and not self.fields[key].keeps_current
            and self._shown(key)
            and (key in self.errors or (spec.get("required") and not self.data.get(key)))
        ]

    @property
    def credentials(self) -> dict[str, Any]:
        return self.values(CREDENTIALS)

    @property
    def configured_variables(self) -> dict[str, Any]:
        return self.values(VARIABLES)

    # --- Groups for the template --------------------------------------------------------------

    def group_fields(self, group: str) -> list[forms.BoundField]:
        return [self[key] for key, (field_group, _) in self.specs.items() if field_group == group]

    def credential_fields(self) -> list[forms.BoundField]:
        return self.group_fields(CREDENTIALS)

    def variable_fields(self) -> list[forms.BoundField]:
        return self.group_fields(VARIABLES)

    # --- Errors from the services ------------------------------------------------------------

    def add_service_errors(self, messages: list[str]) -> None:
        """Put each service message next to the input it names; the rest above the form."""
        for message in messages:
            match = SERVICE_ERROR.match(message)
            if match and form_key(match[1], match[2]) in self.fields:
                key = form_key(match[1], match[2])
                self.add_error(key, f"{self.fields[key].label} {match[3]}".strip())
                self.fields[key].widget.attrs["aria-invalid"] = "true"
                continue
            match = NAME_ERROR.match(message)
            if match:
                self.add_error(NAME_FIELD, f"Connection name {match[1]}".strip())
                continue
            self.add_error(None, message)


def initial_values(
    *, auth_method: dict, connection_name: str, configured_variables: dict, credentials: dict
) -> dict[str, Any]:
    """Edit mode: the stored values as form initial data. Secrets are never sent back."""
    initial: dict[str, Any] = {NAME_FIELD: connection_name}
    values = {**credentials, **configured_variables}
    for group, specs, stored in (
        (CREDENTIALS, auth_method.get("fields", []), credentials),
        (VARIABLES, auth_method.get("additionalFields", []), configured_variables),
    ):
        for spec in specs:
            if spec["name"] in stored and not is_secret_field(spec) and _shown(spec, values):
                initial[form_key(group, spec["name"])] = _option_value(stored[spec["name"]])
    return initial


def _shown(spec: dict, values: dict) -> bool:
    # A hidden field's stored value is its default (https://gitlab.com), not the user's entry.
    condition = spec.get("showWhen")
    if not condition:
        return True
    return _option_value(values.get(condition["key"], "")) == _option_value(condition["value"])


# --- The admin -------------------------------------------------------------------------------


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
            label=label,
            required=False,
            initial="" if value is None else value,
            help_text=field.get("description", ""),
        )

    def changes(self) -> ConnectionChanges:
        data = self.cleaned_data
        # Only what the operator edited: an untouched secret input is empty and must keep its value.
        edited = {name: data[name] for name in self.changed_data if name in data}
        credentials = {
            n.removeprefix(CREDENTIAL_PREFIX): v for n, v in edited.items() if n.startswith(CREDENTIAL_PREFIX)
        }
        variables = {
            n.removeprefix(VARIABLE_PREFIX): v for n, v in edited.items() if n.startswith(VARIABLE_PREFIX)
        }
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
            connection_update_plan(
                current=Connection.objects.get(pk=self.instance.pk), changes=self.changes()
            )
        except ValidationFailed as exc:
            for message in exc.errors or [exc.message]:
                self.add_error(None, message)
        except ApplicationError as exc:
            self.add_error(None, exc.message)
        return cleaned


class OAuthAppAdminForm(forms.ModelForm):
    """An operator's OAuth app: the sign-in method it is for, the client ID, and a secret input
    that is never filled in (typing replaces the stored secret, empty keeps it)."""

    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = OAuthApp
        fields = ["integration", "auth_method_id", "client_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = bool(self.instance.pk and self.instance.client_secret_encrypted)
        self.fields["client_secret"].help_text = (
            f"Stored: {MASK}. Type a new value to replace it; leave empty to keep it."
            if stored
            else "Not set."
        )
        if "auth_method_id" in self.fields:  # read-only once the app exists
            self.fields["auth_method_id"].help_text = "The id of a sign-in (oauth2_authorization_code) method"

    def clean(self):
        cleaned = super().clean()
        integration, method_id = cleaned.get("integration"), cleaned.get("auth_method_id")
        if integration and method_id and not is_sign_in_method(integration.auth_method(method_id)):
            methods = [m["id"] for m in integration.auth_methods if is_sign_in_method(m)]
            self.add_error(
                "auth_method_id",
                f"{integration} has no sign-in method '{method_id}'"
                + (f"; choose one of: {', '.join(methods)}" if methods else " (it has no sign-in method)"),
            )
        return cleaned
