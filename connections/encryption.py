"""Encryption of stored credentials. The only module that touches ``cryptography``.

Token format (text, safe in a TextField and in JSON): ``v1.<key id>.<base64url(nonce ‖ ciphertext)>``

- AES-256-GCM with a fresh random 96-bit nonce per value;
- the key id says which key of ``settings.ENCRYPTION_KEYS`` encrypted it, so keys can be rotated;
- the associated data binds the token to its row (the connection id) and to its own version and
  key id: a token copied onto another connection, or edited, fails to decrypt.

``ENCRYPTION_KEYS`` is a list of ``<key id>:<base64 32-byte key>``, newest first. New values
are encrypted with the newest key; any listed key decrypts. Nothing here ever falls back to
plaintext or returns a value it could not authenticate.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.errors import ApplicationError
from core.request_context import hide_in_logs

VERSION = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
KEYS_HELP = (
    "ENCRYPTION_KEYS must be a comma-separated list of <key id>:<base64 32-byte key>, newest first, "
    "e.g. k2:<key>,k1:<key>. Key ids use letters, digits, '_' or '-'. Generate a key with: "
    'python -c "import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
)


class CredentialsUnreadable(ApplicationError):
    """A stored value that cannot be decrypted. The message names the cause, never data or keys."""

    status_code = 500
    default_message = "Failed to decrypt credentials"


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]  # in settings order: the first is the newest

    @property
    def current_id(self) -> str:
        return next(iter(self.keys))


def _decode_key(kid: str, encoded: str) -> bytes:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        # Accept both alphabets; validate=True refuses stray characters instead of skipping them.
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"ENCRYPTION_KEYS: key '{kid}' is not valid base64. {KEYS_HELP}") from None
    if len(raw) != KEY_BYTES:
        raise ImproperlyConfigured(
            f"ENCRYPTION_KEYS: key '{kid}' is {len(raw)} bytes; AES-256 needs exactly {KEY_BYTES}. {KEYS_HELP}"
        )
    return raw


def parse_keys(entries: list[str] | tuple[str, ...]) -> Keyring:
    """Parse ``ENCRYPTION_KEYS`` strictly; every problem is an ImproperlyConfigured that names the key id."""
    keys: dict[str, bytes] = {}
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        kid, sep, encoded = entry.partition(":")
        kid, encoded = kid.strip(), encoded.strip()
        if not sep or not encoded:
            raise ImproperlyConfigured(f"ENCRYPTION_KEYS: an entry has no ':<key>' after its id. {KEYS_HELP}")
        if not KEY_ID.match(kid):
            raise ImproperlyConfigured(f"ENCRYPTION_KEYS: '{kid[:40]}' is not a valid key id. {KEYS_HELP}")
        if kid in keys:
            raise ImproperlyConfigured(f"ENCRYPTION_KEYS: key id '{kid}' appears twice. {KEYS_HELP}")
        keys[kid] = _decode_key(kid, encoded)
    if not keys:
        raise ImproperlyConfigured(f"ENCRYPTION_KEYS is empty. {KEYS_HELP}")
    return Keyring(keys)


@lru_cache(maxsize=4)
def _keyring_for(entries: tuple[str, ...]) -> Keyring:
    return parse_keys(entries)


def keyring() -> Keyring:
    # Keyed on the setting's value, so override_settings (and a reload) take effect at once.
    return _keyring_for(tuple(settings.ENCRYPTION_KEYS))


@lru_cache(maxsize=8)
def _cipher(key: bytes) -> AESGCM:
    # Built once per key: lists decrypt a thousand values per request.
    return AESGCM(key)


def current_key_id() -> str:
    return keyring().current_id


def _associated_data(kid: str, bound_to: str) -> bytes:
    return f"{VERSION}.{kid}.{bound_to}".encode()


def encrypt(plaintext: bytes, *, bound_to: str) -> str:
    """Encrypt with the newest key; ``bound_to`` (the row's public id) must be given again to decrypt."""
    ring = keyring()
    kid = ring.current_id
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = _cipher(ring.keys[kid]).encrypt(nonce, plaintext, _associated_data(kid, bound_to))
    return f"{VERSION}.{kid}.{base64.urlsafe_b64encode(nonce + ciphertext).decode()}"


def token_key_id(token: str) -> str:
    """The key id a token names; CredentialsUnreadable if it is not a token at all."""
    return _split(token)[1]


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != VERSION or not KEY_ID.match(parts[1]) or not parts[2]:
        raise CredentialsUnreadable(
            error="The stored value is not an encryption token this version understands"
        )
    return parts[0], parts[1], parts[2]


def decrypt(token: str, *, bound_to: str) -> bytes:
    _, kid, body = _split(token)
    key = keyring().keys.get(kid)
    if key is None:
        raise CredentialsUnreadable(error=f"Encrypted with key '{kid}', which is not in ENCRYPTION_KEYS")
    try:
        raw = base64.urlsafe_b64decode(body.encode())
    except (binascii.Error, ValueError):
        raise CredentialsUnreadable(error="The stored value is corrupt (bad base64)") from None
    if len(raw) <= NONCE_BYTES:
        raise CredentialsUnreadable(error="The stored value is corrupt (too short)")
    try:
        return _cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(kid, bound_to))
    except InvalidTag:
        raise CredentialsUnreadable(
            error=f"Authentication failed with key '{kid}': wrong key, altered value, or a value of another record"
        ) from None


def reencrypt(token: str, *, bound_to: str) -> str:
    """``token``'s value encrypted again with the newest key (key rotation). The plaintext never
    leaves this module, so it is neither parsed nor registered for log masking: nothing else
    sees it. CredentialsUnreadable as ``decrypt``."""
    return encrypt(decrypt(token, bound_to=bound_to), bound_to=bound_to)


def encrypt_json(value: dict, *, bound_to: str) -> str:
    hide_in_logs(_secret_values(value))
    return encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True).encode(), bound_to=bound_to)


def decrypt_json(token: str, *, bound_to: str) -> dict:
    plaintext = decrypt(token, bound_to=bound_to)
    try:  # every list item is decrypted to mask it: orjson parses several times faster
        value = orjson.loads(plaintext)
    except orjson.JSONDecodeError:  # what only the stdlib reads (integers beyond 64 bits, NaN)
        value = json.loads(plaintext)
    hide_in_logs(_secret_values(value))
    return value


def _secret_values(value: dict) -> list[str]:
    # Every plaintext that passes through here is kept out of the log lines of the current request
    # or task, in any encoding (core/log_format.py).
    return [item for item in value.values() if isinstance(item, str)]


def current_token_prefix() -> str:
    """Every token made with the newest key starts with this (rotation skips those)."""
    return f"{VERSION}.{current_key_id()}."
