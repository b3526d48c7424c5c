"""Resolving a baseUrl such as ``https://{{instance_url}}.salesforce.com/services/data/v58.0``.

Interpolation rule, for each ``{{name}}`` placeholder:

1. Surrounding whitespace and trailing slashes are dropped from the value.
2. If the value starts with ``http://`` or ``https://`` and the template already has a scheme
   right before the placeholder, the value's scheme is dropped.
3. If the value already ends with the literal text that follows the placeholder up to the next
   ``/`` (``.salesforce.com``) — or with all of the literal text that follows — that text is
   dropped, since the template supplies it.
4. A placeholder in the host must then be host labels only (letters, digits, ``-``, ``.``);
   a placeholder in the path or query is percent-encoded. A placeholder that opens the
   template (``{{server_url}}/api/v4``, for self-hosted services) must be an origin:
   ``https://host[:port]`` with no path, user info, query or fragment.

So the seed's ``instance_url`` = ``https://mycompany.salesforce.com`` and a bare ``mycompany`` both
resolve to ``https://mycompany.salesforce.com/services/data/v58.0``. Because the template keeps
``.salesforce.com`` after the placeholder, no value can move the host out of salesforce.com.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from urllib.parse import quote, urlsplit

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}")
ORIGIN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$", re.IGNORECASE
)
HOST_LABELS = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
SCHEME = re.compile(r"^https?://", re.IGNORECASE)


class UrlTemplateError(ValueError):
    """A value that cannot be put into the template; the message is safe to show."""


def template_variables(template: str) -> list[str]:
    """Placeholder names in order of appearance, without repeats."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def _in_host(template: str, position: int) -> bool:
    scheme_end = template.find("://")
    host_start = scheme_end + 3 if scheme_end >= 0 else 0
    path_start = template.find("/", host_start)
    return position >= host_start and (path_start < 0 or position < path_start)


def _normalise(value: str, before: str, after: str) -> str:
    value = value.strip().rstrip("/")
    if before.endswith("://"):
        value = SCHEME.sub("", value, count=1)
    literal_after = PLACEHOLDER.split(after, maxsplit=1)[0]
    host_suffix = re.split(r"[/?#]", literal_after, maxsplit=1)[0]
    if literal_after and value.endswith(literal_after.rstrip("/")) and literal_after.rstrip("/"):
        value = value[: -len(literal_after.rstrip("/"))]
    elif host_suffix and value.lower().endswith(host_suffix.lower()):
        value = value[: -len(host_suffix)]
    return value


def resolve_template(template: str, variables: dict, *, label: str = "configuredVariables") -> str:
    """Fill every placeholder of ``template`` from ``variables`` following the rule above."""
    parts: list[str] = []
    cursor = 0
    for match in PLACEHOLDER.finditer(template):
        name = match.group(1)
        raw = variables.get(name)
        if raw is None or str(raw).strip() == "":
            raise UrlTemplateError(f"{label}.{name} is required")
        value = _normalise(str(raw), template[: match.start()], template[match.end() :])
        if match.start() == 0:
            if not ORIGIN.match(value):
                raise UrlTemplateError(f"{label}.{name} must be a URL such as https://server.example.com")
        elif _in_host(template, match.start()):
            if not HOST_LABELS.match(value):
                raise UrlTemplateError(
                    f"{label}.{name} must be a host name such as 'mycompany' or a URL on this service"
                )
        else:
            value = quote(value, safe="")
        parts.append(template[cursor : match.start()])
        parts.append(value)
        cursor = match.end()
    parts.append(template[cursor:])
    return "".join(parts)


def host_matches(host: str, allowed_hosts: list[str]) -> bool:
    """Whether ``host`` is one of the integration's own hosts (``*`` allows any)."""
    host = host.lower().rstrip(".")
    for pattern in allowed_hosts:
        pattern = pattern.lower()
        if pattern == "*" or host == pattern or (pattern.startswith("*.") and fnmatch(host, pattern)):
            return True
    return False


def resolved_host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def instance_address(value: str, spec: dict) -> str:
    """A field's ``instanceOf`` rule: what users paste for their own instance, as its address.

    With ``{"domain": "my.salesforce.com", "aliases": ["lightning.force.com"]}``, a bare
    ``mycompany``, ``mycompany.my.salesforce.com`` and the browser's
    ``https://mycompany.lightning.force.com/lightning/page/home`` all become
    ``https://mycompany.my.salesforce.com``. Other hosts are left alone (the field's pattern and
    the baseUrl's ``allowedHosts`` then reject them with their own messages).
    """
    text = value.strip()
    host = urlsplit(text if SCHEME.match(text) else f"https://{text}").hostname or ""
    if not host or not HOST_LABELS.match(host):
        return value
    domain = spec["domain"].lower()
    for alias in spec.get("aliases", []):
        if host.endswith(f".{alias.lower()}"):
            return f"https://{host[: -len(alias)]}{domain}"
    if "." not in host:
        return f"https://{host}.{domain}"
    if host.endswith(f".{domain}") or host_matches(host, spec.get("keep", [])):
        return f"https://{host}"
    return value
