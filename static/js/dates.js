// One date format everywhere, in the user's time zone. The server renders dates with
// core/templatetags/datetimes.py in the zone this cookie names; dates drawn live use the same format.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const FORMAT = new Intl.DateTimeFormat("en-US", {
  month: "short",
  day: "numeric",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
});

export function rememberTimeZone() {
  if (zone && !document.cookie.split("; ").includes(`tz=${encodeURIComponent(zone)}`)) {
    document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
  }
}

export function formatDate(iso) {
  // "Nov 27, 2026, 14:05 UTC", as the server's "M j, Y, H:i T".
  const parts = Object.fromEntries(FORMAT.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.month} ${parts.day}, ${parts.year}, ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}
