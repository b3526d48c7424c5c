"""Outbound HTTP to user-supplied URLs. Every request to the outside world goes through here."""

from __future__ import annotations

from django.conf import settings


def host_in_allowlist(host: str) -> bool:
    """True for hosts in OUTBOUND_ALLOWLIST: exact names or addresses, or ``*.example.com``.

    Allowlisted hosts may resolve to private addresses and may be reached over plain http
    (an on-premise service, a local test provider).
    """
    host = host.lower().strip("[]").rstrip(".")
    for entry in settings.OUTBOUND_ALLOWLIST:
        entry = entry.lower().strip().strip("[]").rstrip(".")
        if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False
