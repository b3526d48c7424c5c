"""Keeping secrets out of any text the app stores, shows or logs.

A provider may echo a credential back in another form than it was sent: percent-encoded in a
URL, base64 in a ``Basic`` header it quotes, escaped inside JSON. ``secret_forms()`` lists every
form one secret can take and ``scrub()`` masks all of them (and ``user:password`` pairs) in a text.
Everything that keeps a provider's words, or a log line built from them, goes through ``scrub()``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from itertools import permutations
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values are left alone: masking them would mangle ordinary words.
MIN_SCRUBBED_LENGTH = 4
# A base64 run shorter than this matches ordinary text too often to be masked on its own.
MIN_BASE64_FRAGMENT = 6


def _base64_forms(raw: bytes) -> set[str]:
    """``raw`` in base64 (standard and URL-safe, with and without padding), and the part of its
    encoding that stays the same wherever it sits inside a longer base64 text."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        padded = encode(raw).decode()
        forms |= {padded, padded.rstrip("=")}
        for offset in (1, 2):
            # Preceded by ``offset`` bytes, the characters mixing those bytes' bits with the
            # secret's, or the secret's with whatever follows it, differ; the middle never does.
            shifted = encode(b"\0" * offset + raw).decode().rstrip("=")
            first = -(-8 * offset // 6)
            last = 8 * (offset + len(raw)) // 6
            forms.add(shifted[first:last])
        whole = len(raw) * 8 // 6
        forms.add(padded[:whole])
    return {form for form in forms if len(form) >= MIN_BASE64_FRAGMENT}


def secret_forms(secret: str) -> set[str]:
    """Every form of ``secret`` that may turn up in a message, a URL, a header or a log line:
    as is, percent-encoded (``quote``, ``quote_plus``, lower-case hex), JSON-escaped (ASCII or
    not, ``\\/`` too) and base64 (see ``_base64_forms``). Empty for values too short to mask."""
    if len(secret) < MIN_SCRUBBED_LENGTH:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret, safe="/:")}
    forms |= {_lower_hex(form) for form in list(forms)}
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms |= {escaped, escaped.replace("/", "\\/")}
    forms |= _base64_forms(secret.encode())
    return forms


def _lower_hex(text: str) -> str:
    parts = text.split("%")
    return parts[0] + "".join("%" + part[:2].lower() + part[2:] for part in parts[1:])


def basic_pair_forms(username: str, password: str) -> set[str]:
    """``username:password`` as an HTTP Basic header carries it (a short username included)."""
    return _base64_forms(f"{username}:{password}".encode())


def all_forms(secrets: Iterable[object]) -> set[str]:
    """Every form of every secret, and of every ``a:b`` pair of them (see ``scrub``)."""
    values = sorted({str(s) for s in secrets if s is not None and str(s) != ""}, key=len, reverse=True)
    forms: set[str] = set()
    for value in values:
        forms |= secret_forms(value)
    for first, second in permutations(values, 2):
        if len(second) >= MIN_SCRUBBED_LENGTH:
            forms |= basic_pair_forms(first, second)
    return forms


def mask_forms(text: str, forms: Iterable[str]) -> str:
    """``text`` with each of ``forms`` masked, the longest first."""
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, MASK)
    return text


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every form of every secret, and of every ``a:b`` pair of them, masked."""
    return mask_forms(text, all_forms(secrets))
