from django.core.validators import RegexValidator
from rest_framework import serializers

from accounts.models import USER_ID_PATTERN, User
from core.api.envelope import envelope
from core.api.fields import StatusField, TextField, TimestampField


class UserOutput(serializers.ModelSerializer):
    userId = TextField(source="user_id")
    createdAt = TimestampField(source="created_at")
    updatedAt = TimestampField(source="updated_at")

    class Meta:
        model = User
        fields = ["userId", "name", "email", "status", "createdAt", "updatedAt"]


class UserListItemOutput(UserOutput):
    class Meta(UserOutput.Meta):
        fields = ["userId", "name", "email", "status", "createdAt"]


class UserCreateInput(serializers.Serializer):
    userId = TextField(
        max_length=64,
        validators=[
            RegexValidator(
                USER_ID_PATTERN, "userId may use letters, digits, _ . @ - and start with a letter or digit"
            )
        ],
    )
    name = TextField(max_length=200)
    email = serializers.EmailField(
        max_length=254, error_messages={"invalid": "email must be a valid email address"}
    )
    status = StatusField(choices=User.Status.choices)


class UserUpdateInput(serializers.Serializer):
    name = TextField(max_length=200, required=False)
    email = serializers.EmailField(
        max_length=254, required=False, error_messages={"invalid": "email must be a valid email address"}
    )
    status = StatusField(choices=User.Status.choices)


class UserListQuery(serializers.Serializer):
    status = StatusField(choices=User.Status.choices)


UserEnvelope = envelope("UserEnvelope", user=UserOutput())


UserCreatedEnvelope = envelope("UserCreatedEnvelope", user=UserOutput(), message=serializers.CharField())


UserListEnvelope = envelope(
    "UserListEnvelope",
    users=UserListItemOutput(many=True),
    total=serializers.IntegerField(),
)
