"""Shapes of the feature API. Input serializers document the payload; the rules that go beyond
shape live in ``features/mapping_rules.py`` so the add-feature page applies the same ones."""

from rest_framework import serializers

from core.api.envelope import envelope
from core.api.fields import QueryChoiceField, TimestampField
from features.models import FeatureMapping, FeatureTemplate


class FeatureTemplateOutput(serializers.ModelSerializer):
    fields = serializers.SerializerMethodField(method_name="fields_in_order")
    createdAt = TimestampField(source="created_at")
    updatedAt = TimestampField(source="updated_at")

    class Meta:
        model = FeatureTemplate
        fields = ["id", "name", "description", "category", "fields", "createdAt", "updatedAt"]

    def fields_in_order(self, template) -> dict:
        return template.fields_by_key


class ApiConfigOutput(serializers.Serializer):
    apiConfigId = serializers.CharField(source="api_config_id", allow_null=True)
    method = serializers.CharField()
    endpoint = serializers.CharField()


class FeatureMappingOutput(serializers.ModelSerializer):
    featureTemplateId = serializers.CharField(source="feature_template_id", allow_null=True)
    featureTemplateName = serializers.CharField(source="feature_template_name")
    fieldMappings = serializers.JSONField(source="field_mappings")
    apiConfig = ApiConfigOutput(source="*")
    extraFields = serializers.JSONField(source="extra_fields")
    createdAt = TimestampField(source="created_at")
    updatedAt = TimestampField(source="updated_at")

    class Meta:
        model = FeatureMapping
        fields = [
            "id",
            "featureTemplateId",
            "featureTemplateName",
            "fieldMappings",
            "apiConfig",
            "extraFields",
            "status",
            "createdAt",
            "updatedAt",
        ]


class CustomHandlersInput(serializers.Serializer):
    valueHandler = serializers.JSONField(
        required=False, allow_null=True, help_text="A handler name or {name, params}"
    )
    validationHandler = serializers.JSONField(required=False, allow_null=True)
    submitHandler = serializers.JSONField(required=False, allow_null=True)


class FieldMappingEntryInput(serializers.Serializer):
    enabled = serializers.BooleanField(required=False, default=True)
    overrides = serializers.DictField(
        required=False, allow_null=True, help_text="Template field properties to change"
    )
    customHandlers = CustomHandlersInput(required=False, allow_null=True)
    adminValue = serializers.JSONField(required=False, allow_null=True)


class PossibleValueInput(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()


class ExtraFieldInput(serializers.Serializer):
    fieldKey = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=["static", "dynamic"])
    fieldType = serializers.CharField()
    htmlType = serializers.CharField()
    fillBy = serializers.ChoiceField(choices=["User", "Admin"])
    required = serializers.BooleanField()
    possibleValues = PossibleValueInput(many=True, required=False, allow_null=True)
    customHandlers = CustomHandlersInput(required=False, allow_null=True)
    adminValue = serializers.JSONField(required=False, allow_null=True)
    order = serializers.IntegerField(required=False)


class ApiConfigInput(serializers.Serializer):
    apiConfigId = serializers.CharField(required=False, allow_null=True)
    method = serializers.ChoiceField(choices=FeatureMapping.Method.values)
    endpoint = serializers.CharField(help_text="A path relative to the integration's base URL")


class FeatureMappingInput(serializers.Serializer):
    featureTemplateId = serializers.CharField(allow_null=True, help_text="null builds a feature from scratch")
    featureTemplateName = serializers.CharField(required=False)
    fieldMappings = serializers.DictField(child=FieldMappingEntryInput(), required=False)
    apiConfig = ApiConfigInput()
    extraFields = ExtraFieldInput(many=True, required=False)
    status = serializers.ChoiceField(choices=FeatureMapping.Status.choices, required=False)


class PreviewInput(serializers.Serializer):
    input = serializers.DictField(
        required=False, help_text="Sample values the end user would enter, by field key"
    )


FeatureTemplateListEnvelope = envelope(
    "FeatureTemplateListEnvelope",
    features=FeatureTemplateOutput(many=True),
)


FeatureTemplateEnvelope = envelope("FeatureTemplateEnvelope", feature=FeatureTemplateOutput())


FeatureMappingListEnvelope = envelope(
    "FeatureMappingListEnvelope",
    featureMappings=FeatureMappingOutput(many=True),
)


FeatureMappingOnlyEnvelope = envelope("FeatureMappingOnlyEnvelope", mapping=FeatureMappingOutput())


FeatureMappingEnvelope = envelope(
    "FeatureMappingEnvelope",
    mapping=FeatureMappingOutput(),
    message=serializers.CharField(),
)


MessageEnvelope = envelope("MessageEnvelope", message=serializers.CharField())


class PreviewRequestOutput(serializers.Serializer):
    method = serializers.CharField()
    path = serializers.CharField()
    query = serializers.DictField()
    body = serializers.DictField(allow_null=True)


PreviewEnvelope = envelope(
    "PreviewEnvelope",
    valid=serializers.BooleanField(),
    request=PreviewRequestOutput(allow_null=True),
    validationErrors=serializers.ListField(child=serializers.CharField()),
    fieldErrors=serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    ignoredInput=serializers.ListField(child=serializers.CharField()),
    steps=serializers.DictField(child=serializers.ListField(child=serializers.DictField())),
)


class HandlerParameterOutput(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["integer", "string", "boolean"])
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    description = serializers.CharField()


class HandlerOutput(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["value", "validation", "submit"])
    description = serializers.CharField()
    parameters = HandlerParameterOutput(many=True)


HandlerListEnvelope = envelope(
    "HandlerListEnvelope",
    handlers=HandlerOutput(many=True),
    order=serializers.ListField(child=serializers.CharField()),
)


class HandlerListQuery(serializers.Serializer):
    kind = QueryChoiceField(
        choices=["value", "validation", "submit"],
        required=False,
        error_messages={"invalid_choice": "kind must be value, validation or submit"},
    )


class VocabularyItem(serializers.Serializer):
    id = serializers.CharField()
    description = serializers.CharField()


class HtmlTypeItem(VocabularyItem):
    fieldTypes = serializers.ListField(child=serializers.CharField())
    needsPossibleValues = serializers.BooleanField()


FieldTypesEnvelope = envelope(
    "FieldTypesEnvelope",
    fieldTypes=VocabularyItem(many=True),
    htmlTypes=HtmlTypeItem(many=True),
    types=VocabularyItem(many=True),
    fillBy=VocabularyItem(many=True),
)
