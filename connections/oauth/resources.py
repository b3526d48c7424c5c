"""Which of the user's sites a new sign-in reaches, when the token response does not say.

Atlassian issues one token for every site the user approved; the API of a site lives under
``https://api.atlassian.com/ex/jira/{cloudId}``, and the cloudId comes from a separate call,
``GET https://api.atlassian.com/oauth/token/accessible-resources`` with the new token: a JSON list
of ``{"id", "url", "name", "scopes", …}``. A sign-in method declares that call in its ``apply``
(``resourcesUrl``, ``resourceVariables``, optionally ``resourceMatch``), so any provider answering
the same shape works without code of its own, and tests point the URL at a local server.

The site taken is the one the user named (``resourceMatch.variable``: a bare name, a host or a
URL, compared by host), else the first listed. The call goes through the guarded client, to one
of the integration's hosts; no message raised here holds the token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from connections.oauth.provider import OAuthProviderError, endpoint_url
from core.outbound_http import OutboundError, outbound_request

# Sites named in an error message, at most (the user's own sites: they may see them).
MAX_NAMED_SITES = 5


def _host(value: str) -> str:
    value = value.strip()
    return (urlsplit(value if "://" in value else f"https://{value}").hostname or "").rstrip(".")


def _names_site(wanted: str, site_url: str) -> bool:
    """``mycompany``, ``mycompany.atlassian.net`` and ``https://mycompany.atlassian.net/`` all
    name the site at https://mycompany.atlassian.net."""
    host, wanted_host = _host(site_url), _host(wanted)
    return bool(host and wanted_host) and wanted_host in (host, host.split(".", 1)[0])


def _listed_sites(response, spec: dict) -> list[dict]:
    """The entries of the answer that carry every field ``resourceVariables`` reads."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, list):
        raise OAuthProviderError("the list of your sites could not be read (not a JSON list)")
    fields = set(spec["resourceVariables"].values())
    return [
        entry
        for entry in payload
        if isinstance(entry, dict)
        and all(isinstance(entry.get(f), str | int) and entry.get(f) != "" for f in fields)
    ]


def _wanted_site(spec: dict, variables: dict, previous: dict) -> str:
    """The site the user named; on a reconnect without one, the site the connection had."""
    match = spec.get("resourceMatch")
    if not match:
        return ""
    wanted = str(variables.get(match["variable"]) or "").strip()
    kept = [name for name, field in spec["resourceVariables"].items() if field == match["field"]]
    return wanted or next((str(previous[name]) for name in kept if previous.get(name)), "")


def _chosen_site(sites: list[dict], spec: dict, wanted: str) -> dict:
    match = spec.get("resourceMatch")
    if not sites:
        raise OAuthProviderError("your account gave this app access to no site")
    if not wanted:
        return sites[0]
    for site in sites:
        if _names_site(wanted, str(site.get(match["field"], ""))):
            return site
    listed = ", ".join(str(site.get(match["field"])) for site in sites[:MAX_NAMED_SITES])
    raise OAuthProviderError(f"you did not give this app access to {wanted} (only to {listed})")


def oauth_resource_variables(
    *, spec: dict, access_token: str, variables: dict, allowed_hosts: list[str], previous: dict
) -> dict[str, str]:
    """configuredVariables of the site the new ``access_token`` is for (``resourceVariables``
    read from the chosen entry), or {} when the method declares no ``resourcesUrl``. ``previous``
    are the variables of the connection being reconnected (empty for a new one), so a reconnect
    keeps its site. OAuthProviderError with a message safe to show when the call fails or no
    site fits."""
    if "resourcesUrl" not in spec:
        return {}
    url = endpoint_url(spec, "resourcesUrl", variables=variables, allowed_hosts=allowed_hosts)
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    try:
        response = outbound_request("GET", url, headers=headers, truncate=True)
    except OutboundError as exc:
        raise OAuthProviderError(f"the list of your sites could not be fetched: {exc.message}") from None
    if not 200 <= response.status_code < 300:
        raise OAuthProviderError(f"the list of your sites could not be fetched ({response.status_code})")
    site = _chosen_site(_listed_sites(response, spec), spec, _wanted_site(spec, variables, previous))
    return {name: str(site[field]) for name, field in spec["resourceVariables"].items()}
