"""API keys: ``ck_<prefix>_<secret>``. The prefix finds the row; a SHA-256 digest proves the key.

Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
A key that proved itself is kept in the cache for API_KEY_CACHE_SECONDS, so the API's hot paths
spend no query on it; revoking or deleting a key drops it from the cache at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey

KEY_PREFIX = "ck"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _cache_key(digest: str) -> str:
    return f"api-key:{digest}"


@transaction.atomic
def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned once and never stored."""
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(name=name.strip(), prefix=prefix, key_hash=_digest(raw_key))
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    api_key_forget(api_key=api_key)
    return api_key


def api_key_forget(*, api_key: ApiKey) -> None:
    """Drop the key from the authentication cache (after revoking or deleting it)."""
    cache.delete(_cache_key(api_key.key_hash))


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching ``raw_key``, or None."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    digest = _digest(raw_key)
    cached = cache.get(_cache_key(digest))
    if cached is not None:
        return cached
    api_key = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, digest):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    cache.set(_cache_key(digest), api_key, timeout=settings.API_KEY_CACHE_SECONDS)
    return api_key
