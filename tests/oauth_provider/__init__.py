"""A real OAuth 2.0 authorization server for tests and benchmarks, run as its own process.

Built on Authlib's framework-agnostic server (RFC 6749 code + refresh grants, RFC 6750 bearer
tokens, RFC 7009 revocation, RFC 7636 PKCE S256) over a threaded ``http.server`` on 127.0.0.1.
State is in memory; the process starts in a few hundred milliseconds. No pytest needed::

    from tests.oauth_provider import OAuthProvider

    with OAuthProvider() as idp:            # starts the process on a free port, stops it on exit
        idp.register_client("app", "app-secret", ["http://127.0.0.1:8000/oauth/callback"],
                            require_pkce=True, token_auth="client_secret_basic",
                            scopes=["read", "write"])
        idp.authorize_url, idp.token_url, idp.revocation_url, idp.userinfo_url, idp.origin

In pytest use the session fixture ``oauth_provider`` (tests/conftest.py); it is reset after
every test that uses it.

The user: ``alice`` / ``alice-password`` (``USERNAME``/``PASSWORD``). ``userinfo_url`` answers a
valid bearer access token with ``{"id": 1, "login": "alice", "email": "alice@example.com",
"name": "Alice Example"}`` and 401 ``invalid_token`` when it is unknown, expired or revoked.

Authorization endpoint (GET ``authorize_url``): validates client_id, redirect_uri (exact match
with a registered one), response_type=code and scope (must be within the client's ``scopes``
when it has any). Errors before the redirect URI is trusted render a 400 page; later ones
redirect with ``error=…&state=…``. A client with ``require_pkce`` must send
``code_challenge`` + ``code_challenge_method=S256`` (else ``error=invalid_request``). A browser
without a session goes to the sign-in page (inputs ``username``, ``password``, button "Sign in";
the session cookie ``oauth_provider_session`` is remembered), then the consent page listing the
requested scopes (``ul#scopes``) with buttons "Approve" (``#approve``) and "Deny" (``#deny``).
Approve redirects with ``code`` and ``state``; Deny with ``error=access_denied&state=…``. Codes
live ``code_ttl`` seconds (60) and are single use; a replayed code is ``invalid_grant`` and
revokes the tokens it produced.

Token endpoint (POST ``token_url``): client authentication as registered (``token_auth``);
``authorization_code`` (checks redirect_uri and the PKCE verifier: missing or wrong is
``invalid_grant``) and ``refresh_token``. Answers ``access_token``, ``token_type`` "Bearer",
``expires_in``, ``refresh_token``, ``scope`` (+ ``extra_token_fields``). A refresh answers a new
``refresh_token`` only when ``rotate_refresh_tokens`` is on (then the old one is dead); otherwise
the response has none and the old refresh token stays valid, as with Google.

Revocation (POST ``revocation_url``, RFC 7009): same client authentication; ``token`` with an
optional ``token_type_hint``; 200 even for unknown tokens. Revoking a refresh token also revokes
the access tokens issued from it.

Sites (as Atlassian's 3LO): ``GET /oauth/token/accessible-resources`` answers a valid bearer
access token with the configured ``accessible_resources`` list; ``GET
/ex/jira/{cloudId}/rest/api/3/myself`` answers it with the user (``accountId``, ``displayName``,
``emailAddress``) when ``cloudId`` is one of their ids, 404 otherwise. The token endpoint also
takes a JSON body (``Content-Type: application/json``), as Atlassian and Notion document.

``configure(**options)`` (merged; ``reset()`` restores the defaults and clears the stats):
  ``token_delay_ms`` (0) every token response waits this long, concurrently;
  ``token_endpoint`` ("up") | "down" (the TCP connection is reset, no response) | "error" (500
  with an HTML body); ``access_token_ttl`` (3600 s; 0 allowed); ``rotate_refresh_tokens``
  (False); ``extra_token_fields`` ({}) merged into token responses; ``granted_scopes`` (None: as
  requested) the list of scopes the token responses grant; ``code_ttl`` (60 s);
  ``accessible_resources`` ([]) the sites listed, each an object with at least an ``id``.
  Unknown options or bad values raise ValueError.

``invalidate_grants()``: every refresh and access token issued so far is dead (``invalid_grant``
/ 401), as when the user revokes the app; later grants work.

``issue_tokens(client_id, scope="")``: a token response as if alice had approved the client,
without a browser; ``issue_token_batch(client_id, count, scope="")``: a list of ``count`` of
them in one call (1,000 take well under a second), for benchmarks. Neither counts in stats.

``approve(authorization_url, decision="approve")``: drives sign-in and consent with a plain HTTP
session, like a browser, and returns the redirect URL (the client's callback with ``code`` and
``state``, or an ``error``), without following it.

``stats()``::

    {"token_requests": {"authorization_code": n, "refresh_token": n},  # every request, even failed
     "refreshes": {refresh_token: successful refreshes with it},
     "revocation_requests": n, "revocations": n,
     "revoked": [{"token": …, "token_type": "access_token" | "refresh_token"}],
     "pkce_failures": n}

Standalone: ``python -m tests.oauth_provider.server --port 8765`` (control API over HTTP:
``POST /_control/{clients,configure,reset,invalidate-grants,tokens}``, ``GET /_control/stats``).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.oauth_provider.authorization import PASSWORD, USER

USERNAME = USER["login"]
ROOT = Path(__file__).resolve().parents[2]

__all__ = ["PASSWORD", "USER", "USERNAME", "OAuthProvider"]


class OAuthProvider:
    """The provider process on 127.0.0.1 (a free port unless ``port`` is given)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._process: subprocess.Popen | None = None
        self.origin = ""

    # --- lifecycle

    def start(self) -> OAuthProvider:
        command = [sys.executable, "-m", "tests.oauth_provider.server", "--exit-with-stdin"]
        self._process = subprocess.Popen(
            [*command, "--host", self.host, "--port", str(self.port)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        line = self._process.stdout.readline()
        if not line:
            self._process.wait()
            raise RuntimeError(f"OAuth provider did not start (exit code {self._process.returncode})")
        self.origin = json.loads(line)["origin"]
        self.port = int(self.origin.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process.stdin.close()
        self._process.stdout.close()
        self._process = None

    def __enter__(self) -> OAuthProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """The provider process's id (benchmarks read its CPU time)."""
        return self._process.pid

    # --- endpoints

    @property
    def authorize_url(self) -> str:
        return self.origin + "/authorize"

    @property
    def token_url(self) -> str:
        return self.origin + "/token"

    @property
    def revocation_url(self) -> str:
        return self.origin + "/revoke"

    @property
    def userinfo_url(self) -> str:
        return self.origin + "/userinfo"

    # --- control

    def _control(self, action: str, payload: dict | None = None) -> dict:
        response = requests.post(f"{self.origin}/_control/{action}", json=payload or {}, timeout=10)
        if response.status_code == 400:
            raise ValueError(response.json()["error"])
        response.raise_for_status()
        return response.json()

    def register_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        *,
        require_pkce: bool = True,
        token_auth: str = "client_secret_basic",
        scopes: list[str] | tuple[str, ...] = (),
    ) -> None:
        """Register (or replace) a confidential client; ``scopes`` empty allows any scope."""
        self._control(
            "clients",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": list(redirect_uris),
                "require_pkce": require_pkce,
                "token_auth": token_auth,
                "scopes": list(scopes),
            },
        )

    def configure(self, **options) -> dict:
        """Change behaviour (see the module docstring); returns the whole configuration."""
        return self._control("configure", options)

    def invalidate_grants(self) -> None:
        self._control("invalidate-grants")

    def reset(self) -> None:
        """Default configuration and empty stats; clients and issued tokens stay."""
        self._control("reset")

    def stats(self) -> dict:
        response = requests.get(f"{self.origin}/_control/stats", timeout=10)
        response.raise_for_status()
        return response.json()

    def issue_tokens(self, client_id: str, scope: str = "") -> dict:
        return self.issue_token_batch(client_id, 1, scope)[0]

    def issue_token_batch(self, client_id: str, count: int, scope: str = "") -> list[dict]:
        return self._control("tokens", {"client_id": client_id, "scope": scope, "count": count})["tokens"]

    def approve(self, authorization_url: str, *, decision: str = "approve") -> str:
        """Sign in as alice and answer the consent page; returns the redirect's Location."""
        with requests.Session() as browser:
            response = browser.get(authorization_url, allow_redirects=False, timeout=10)
            if response.is_redirect and response.headers["Location"].startswith("/login?"):
                login = browser.get(urljoin(self.origin, response.headers["Location"]), timeout=10)
                next_url = re.search(r'name="next" value="([^"]*)"', login.text).group(1)
                credentials = {"username": USERNAME, "password": PASSWORD, "next": html.unescape(next_url)}
                signed_in = browser.post(
                    self.origin + "/login", data=credentials, allow_redirects=False, timeout=10
                )
                next_page = urljoin(self.origin, signed_in.headers["Location"])
                response = browser.get(next_page, allow_redirects=False, timeout=10)
            if response.is_redirect:
                return response.headers["Location"]  # an error sent back to the client
            if response.status_code != 200 or 'id="approve"' not in response.text:
                raise ValueError(f"authorization failed with {response.status_code}: {response.text}")
            csrf = re.search(r'name="csrf" value="([^"]*)"', response.text).group(1)
            action = html.unescape(re.search(r'<form method="post" action="([^"]*)"', response.text).group(1))
            decided = browser.post(
                urljoin(self.origin, action),
                data={"csrf": csrf, "decision": decision},
                allow_redirects=False,
                timeout=10,
            )
            if not decided.is_redirect:
                raise ValueError(f"consent failed with {decided.status_code}: {decided.text}")
            return decided.headers["Location"]
