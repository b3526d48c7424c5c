"""Integration icons, served by the app itself so that no page loads a logo from another host.

A provider folder may hold an ``icon.svg``; an integration without one (e.g. created through the
API) gets a monogram: its initials on a colour derived from its id.
"""

from __future__ import annotations

import hashlib
import re
from html import escape
from pathlib import Path

from integrations.documents import PROVIDERS_DIR

# Readable with white text (contrast ≥ 4.5:1) and distinct from one another.
_FALLBACK_COLOURS = ["#1d4ed8", "#047857", "#b45309", "#be123c", "#6d28d9", "#0f766e", "#4338ca", "#a21caf"]


def icon_file(integration_id: str) -> Path | None:
    path = PROVIDERS_DIR / integration_id / "icon.svg"
    return path if path.is_file() else None


def initials(display_name: str) -> str:
    """``Google Sheets`` → ``GS``, ``HubSpot`` → ``HS``, ``Stripe`` → ``S``."""
    words = re.findall(r"[A-Za-z0-9]+", display_name)
    if not words:
        return "?"
    if len(words) == 1:
        capitals = re.findall(r"[A-Z]", words[0])
        return "".join(capitals[:2]) if len(capitals) > 1 else words[0][0].upper()
    return (words[0][0] + words[1][0]).upper()


def fallback_colour(integration_id: str) -> str:
    digest = hashlib.sha256(integration_id.encode()).digest()
    return _FALLBACK_COLOURS[digest[0] % len(_FALLBACK_COLOURS)]


def monogram_svg(*, display_name: str, background: str, foreground: str = "#ffffff") -> str:
    text = escape(initials(display_name))
    size = 30 if len(text) == 1 else 24
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64" '
        f'role="img" aria-label="{escape(display_name)}">'
        f'<rect width="64" height="64" rx="14" fill="{escape(background)}"/>'
        f'<text x="32" y="32" dy="0.35em" text-anchor="middle" fill="{escape(foreground)}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" '
        f'font-size="{size}" font-weight="700">{text}</text></svg>\n'
    )
