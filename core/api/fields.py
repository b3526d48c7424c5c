from datetime import UTC, datetime

from rest_framework import serializers


def iso_timestamp(value: datetime | None) -> str | None:
    """UTC with milliseconds, as the contract writes it: 2025-11-23T15:45:00.000Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TimestampField(serializers.DateTimeField):
    def to_representation(self, value):
        return iso_timestamp(value)


# The contract's wording for a bad status, shared by users, connections and integrations.
STATUS_MESSAGE = "Invalid status value. Must be 'active' or 'inactive'"


class StatusField(serializers.ChoiceField):
    """An optional ``status`` (active/inactive) filter or value, refused in the contract's words."""

    def __init__(self, *, choices, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=choices, error_messages={"invalid_choice": STATUS_MESSAGE}, **kwargs)
