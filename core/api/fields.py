from datetime import UTC, datetime
from functools import lru_cache

from rest_framework import serializers


def iso_timestamp(value: datetime | None) -> str | None:
    """UTC with milliseconds, as the contract writes it: 2025-11-23T15:45:00.000Z."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # what the database and timezone.now() give
        return _utc_iso_timestamp(value)
    return _iso_timestamp(value)


def _iso_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A list of a hundred connections writes two hundred timestamps, the same ones request after
# request, and formatting one costs about twenty times a cache hit. UTC values only: two of them
# are equal exactly when their instants are (in other zones an hour repeated at the end of
# summer time has two instants that compare equal).
_utc_iso_timestamp = lru_cache(maxsize=16_384)(_iso_timestamp)


class TimestampField(serializers.DateTimeField):
    def to_representation(self, value):
        return iso_timestamp(value)


# The contract's wording for a bad status, shared by users, connections and integrations.
STATUS_MESSAGE = "Invalid status value. Must be 'active' or 'inactive'"


class QueryChoiceField(serializers.ChoiceField):
    """A choice that, sent empty (``?status=``), is refused like any other value outside the enum.
    DRF would read an empty query or form value as "not sent"; the schema says otherwise."""

    def get_value(self, dictionary):
        if dictionary.get(self.field_name, None) == "":
            return ""
        return super().get_value(dictionary)


class TextField(serializers.CharField):
    """A string, and only a string: ``"name": 0`` is refused, not stored as ``"0"``."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StatusField(QueryChoiceField):
    """An optional ``status`` (active/inactive) filter or value, refused in the contract's words."""

    def __init__(self, *, choices, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(choices=choices, error_messages={"invalid_choice": STATUS_MESSAGE}, **kwargs)
