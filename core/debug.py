"""What Django's DEBUG error page may show. ``bin/app`` runs with DEBUG on, and a technical 500
page would otherwise print the decrypted credentials a view held in its local variables, the
credential fields of a posted form and the API key of the request."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

# Names (variables, dict keys, form fields, headers, settings) whose values are never shown.
CREDENTIAL_NAMES = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|CREDENTIAL|PLAINTEXT|CIPHER|SESSION|BEARER|PRIVATE",
    flags=re.IGNORECASE,
)


class CredentialHidingReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, on also with DEBUG on (Django's own steps aside then), hiding by name:
    local variables, form fields and any dict key inside them that names a credential."""

    hidden_settings = CREDENTIAL_NAMES

    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        if request is None:
            return {}
        cleansed = super().get_post_parameters(request).copy()
        for name in list(cleansed):
            if CREDENTIAL_NAMES.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
