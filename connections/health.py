"""``manage.py doctor``'s checks of encryption keys and stored credentials (registered by the app
config): every row on a key that is still configured, how many wait for rotation, and a sample
that really decrypts."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ImproperlyConfigured

from connections import encryption
from connections.models import Connection
from core.doctor import Finding, Level

SAMPLE = 10  # the newest and the oldest rows each


def key_findings() -> Iterable[Finding]:
    try:
        ring = encryption.keyring()
    except ImproperlyConfigured as exc:
        yield Finding("keys", Level.FAIL, "ENCRYPTION_KEYS is not valid", str(exc).split(". ")[0])
        return
    by_key = {
        kid: Connection.objects.filter(
            credentials_encrypted__startswith=f"{encryption.VERSION}.{kid}."
        ).count()
        for kid in ring.keys
    }
    total = Connection.objects.count()
    unknown = total - sum(by_key.values())
    old = total - by_key[ring.current_id] - unknown
    yield Finding(
        "keys", Level.OK, f"{len(ring.keys)} key(s), newest '{ring.current_id}'; {total} credential set(s)"
    )
    if unknown:
        yield Finding(
            "keys",
            Level.FAIL,
            f"{unknown} credential set(s) on a key missing from ENCRYPTION_KEYS",
            "Put the missing key back in ENCRYPTION_KEYS (after the newest), then rotate.",
        )
    if old:
        yield Finding(
            "keys",
            Level.WARN,
            f"{old} credential set(s) on older keys",
            "python manage.py rotate_encryption_key, then drop the old keys.",
        )
    yield from _sample_findings()


def _sample_findings() -> Iterable[Finding]:
    rows = list(Connection.objects.order_by("-pk")[:SAMPLE]) + list(
        Connection.objects.order_by("pk")[:SAMPLE]
    )
    sample = {row.pk: row for row in rows}.values()
    unreadable = []
    for row in sample:
        try:
            encryption.decrypt_json(row.credentials_encrypted, bound_to=row.connection_id)
        except encryption.CredentialsUnreadable:
            unreadable.append(row.connection_id)
    if unreadable:
        yield Finding(
            "credentials",
            Level.FAIL,
            f"{len(unreadable)} of {len(sample)} sampled could not be decrypted: {', '.join(unreadable[:3])}",
            "Check ENCRYPTION_KEYS holds the keys they were written with; else reconnect them.",
        )
    else:
        yield Finding("credentials", Level.OK, f"{len(sample)} sampled, all decrypted")
