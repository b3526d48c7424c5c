"""One date format on every page, in the user's time zone (UserTimeZoneMiddleware activates it)."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()

# static/js/dates.js writes the same format for dates drawn live.
DATETIME_FORMAT = "M j, Y, H:i T"


@register.filter
def when(value):
    """``<time datetime="ISO">Nov 27, 2026, 14:05 CET</time>``; empty for no date."""
    if not value:
        return ""
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}">{}</time>', value.isoformat(), date_format(local, DATETIME_FORMAT)
    )
