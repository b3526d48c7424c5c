from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from core.api.fields import iso_timestamp


def test_timestamps_are_utc_with_milliseconds_truncated():
    assert iso_timestamp(None) is None
    assert iso_timestamp(datetime(2025, 11, 23, 15, 45, tzinfo=UTC)) == "2025-11-23T15:45:00.000Z"
    assert iso_timestamp(datetime(2025, 11, 23, 15, 45, 0, 999_999, tzinfo=UTC)) == "2025-11-23T15:45:00.999Z"
    kolkata = timezone(timedelta(hours=5, minutes=30))
    assert (
        iso_timestamp(datetime(2025, 11, 23, 21, 15, 0, 1_000, tzinfo=kolkata)) == "2025-11-23T15:45:00.001Z"
    )


def test_a_value_formatted_before_does_not_answer_for_another_instant():
    first = datetime(2025, 11, 23, 15, 45, 0, 123_456, tzinfo=UTC)
    assert iso_timestamp(first) == "2025-11-23T15:45:00.123Z"
    assert iso_timestamp(first.replace(microsecond=124_000)) == "2025-11-23T15:45:00.124Z"
    assert iso_timestamp(first.astimezone(ZoneInfo("Europe/Paris"))) == "2025-11-23T15:45:00.123Z"
    # The repeated hour at the end of summer time: equal as datetimes, an hour apart as instants.
    new_york = ZoneInfo("America/New_York")
    earlier, later = (
        datetime(2026, 11, 1, 1, 30, tzinfo=new_york),
        datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=new_york),
    )
    assert earlier == later
    assert (iso_timestamp(earlier), iso_timestamp(later)) == (
        "2026-11-01T05:30:00.000Z",
        "2026-11-01T06:30:00.000Z",
    )
    assert (iso_timestamp(later), iso_timestamp(earlier)) == (
        "2026-11-01T06:30:00.000Z",
        "2026-11-01T05:30:00.000Z",
    )
