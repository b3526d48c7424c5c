import json

from django import forms

from integrations.documents import document_errors
from integrations.models import Integration


class PrettyJSONField(forms.JSONField):
    def prepare_value(self, value):
        # Indented so operators can read and edit a whole document.
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class IntegrationDocumentForm(forms.ModelForm):
    """The admin edits the document itself; every problem is shown on the field with its JSON path."""

    document = PrettyJSONField(
        widget=forms.Textarea(attrs={"rows": 36, "class": "vLargeTextField", "spellcheck": "false"}),
        help_text="The auth schema document (integrations/auth_schema.schema.json). "
        "Name, category, status and base URL are taken from it.",
    )

    class Meta:
        model = Integration
        fields = ["document"]

    def clean_document(self):
        document = self.cleaned_data["document"]
        errors = document_errors(document)
        if errors:
            raise forms.ValidationError(errors)
        if self.instance.pk and not self.instance._state.adding:
            if document["id"] != self.instance.pk:
                raise forms.ValidationError(f"$.id: must stay '{self.instance.pk}'")
        elif Integration.objects.filter(pk=document["id"]).exists():
            raise forms.ValidationError(f"$.id: an integration with id '{document['id']}' already exists")
        return document
