"""The provider's state and its Authlib wiring: RFC 6749 (code and refresh grants), 6750 (bearer
tokens), 7009 (revocation) and 7636 (PKCE). Everything lives in memory behind one lock, so each
token request checks and consumes a code or refresh token atomically while delays run in parallel.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import parse_qs

# Authlib refuses plain http unless told otherwise; this server only ever listens on loopback.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    ResourceProtector,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge

USER = {"id": 1, "login": "alice", "email": "alice@example.com", "name": "Alice Example"}
PASSWORD = "alice-password"
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
DEFAULTS = {
    "token_delay_ms": 0,
    "token_endpoint": "up",
    "access_token_ttl": 3600,
    "rotate_refresh_tokens": False,
    "extra_token_fields": {},
    "granted_scopes": None,
    "code_ttl": 60,
    "accessible_resources": [],
}


def validated_options(options: dict) -> dict:
    """``options`` checked against DEFAULTS; a typo must fail loudly, not configure nothing."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown options: {sorted(unknown)}")
    if options.get("token_endpoint", "up") not in ("up", "down", "error"):
        raise ValueError("token_endpoint must be 'up', 'down' or 'error'")
    for name in ("token_delay_ms", "access_token_ttl", "code_ttl"):
        value = options.get(name, 0)
        if not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a number >= 0")
    if not isinstance(options.get("extra_token_fields", {}), dict):
        raise ValueError("extra_token_fields must be an object")
    resources = options.get("accessible_resources", [])
    if not (isinstance(resources, list) and all(isinstance(r, dict) and r.get("id") for r in resources)):
        raise ValueError("accessible_resources must be a list of objects with an id")
    granted = options.get("granted_scopes")
    if granted is not None and not (isinstance(granted, list) and all(isinstance(s, str) for s in granted)):
        raise ValueError("granted_scopes must be a list of strings or null")
    return options


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    require_pkce: bool = True
    token_auth: str = "client_secret_basic"
    scopes: list[str] = field(default_factory=list)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        requested = scope_to_list(scope) or []
        return list_to_scope([s for s in requested if not self.scopes or s in self.scopes])

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method == self.token_auth

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


@dataclass
class Token(TokenMixin):
    """One issued access token; ``refresh_token`` is the grant it came from (shared until rotated)."""

    access_token: str
    refresh_token: str | None
    client_id: str
    scope: str
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return USER

    def get_client(self):
        return None


class Store:
    """Clients, codes, tokens, configuration and statistics; every access holds ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.used_codes: dict[str, list[str]] = {}  # code -> access tokens it produced
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}  # refresh token -> its latest access token
        self.sessions: dict[str, str] = {}  # browser session id -> CSRF token
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config = dict(DEFAULTS)
            self.token_requests: Counter[str] = Counter()
            self.refreshes: Counter[str] = Counter()
            self.revoked: list[dict] = []
            self.revocation_requests = 0
            self.pkce_failures = 0

    def stats(self) -> dict:
        with self.lock:
            return {
                "token_requests": dict(self.token_requests),
                "refreshes": dict(self.refreshes),
                "revocation_requests": self.revocation_requests,
                "revocations": len(self.revoked),
                "revoked": list(self.revoked),
                "pkce_failures": self.pkce_failures,
            }

    def invalidate_grants(self) -> None:
        with self.lock:
            for token in [*self.access_tokens.values(), *self.refresh_tokens.values()]:
                token.revoked = True
            self.refresh_tokens.clear()

    def revoke_refresh_token(self, refresh_token: str) -> None:
        """Drop a grant and the access tokens issued from it (RFC 7009 §2.1)."""
        with self.lock:
            self.refresh_tokens.pop(refresh_token, None)
            for token in self.access_tokens.values():
                if token.refresh_token == refresh_token:
                    token.revoked = True


class _Payload(OAuth2Payload):
    def __init__(self, args: dict[str, list[str]], form: dict[str, list[str]]):
        self._datalist = {key: args.get(key, []) + form.get(key, []) for key in {*args, *form}}
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


def _form(body: str, headers) -> dict[str, list[str]]:
    """A form body, or a JSON object of strings (Atlassian's and Notion's token requests)."""
    if (headers.get("Content-Type") or "").startswith("application/json"):
        try:
            data = json.loads(body or "{}")
        except ValueError:
            return {}
        return (
            {key: [value] for key, value in data.items() if isinstance(value, str)}
            if isinstance(data, dict)
            else {}
        )
    return parse_qs(body)


class HttpRequest(OAuth2Request):
    """An OAuth2Request built from http.server's request line, headers and body."""

    def __init__(self, method: str, uri: str, headers, query: str = "", body: str = ""):
        super().__init__(method, uri, headers=headers)
        args, form = parse_qs(query), _form(body, headers) if method == "POST" else {}
        self._args = {key: values[0] for key, values in args.items()}
        self._form = {key: values[0] for key, values in form.items()}
        self.payload = _Payload(args, form)

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class PkceChallenge(CodeChallenge):
    """S256 only; a client registered with ``require_pkce`` must send a challenge, and every
    failure at the token endpoint is ``invalid_grant`` (and counted)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def __init__(self, store: Store):
        super().__init__(required=True)
        self.store = store

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if grant.request.client.require_pkce and not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        try:
            super().validate_code_verifier(grant, result)
        except OAuth2Error as error:
            with self.store.lock:
                self.store.pkce_failures += 1
            raise InvalidGrantError(description=error.description or "Code verifier failed.") from error


def build_server(store: Store) -> tuple[AuthorizationServer, ResourceProtector]:
    server = _Server(store)
    server.register_grant(_AuthorizationCodeGrant, [PkceChallenge(store)])
    server.register_grant(_RefreshTokenGrant)
    server.register_endpoint(_Revocation)
    protector = ResourceProtector()
    protector.register_token_validator(_BearerValidator(store))
    return server, protector


class _Server(AuthorizationServer):
    def __init__(self, store: Store):
        super().__init__()
        self.store = store
        self.register_token_generator("default", self._generate_token)
        self._bearer = BearerTokenGenerator(
            access_token_generator=lambda **kw: "at-" + secrets.token_urlsafe(24),
            refresh_token_generator=lambda **kw: "rt-" + secrets.token_urlsafe(24),
        )

    def _generate_token(self, grant_type, client, user=None, scope=None, expires_in=None, **kwargs):
        config = self.store.config
        token = self._bearer(grant_type, client, user=user, scope=scope, **kwargs)
        # Set even when 0: BearerTokenGenerator leaves a falsy expires_in out.
        token["expires_in"] = int(config["access_token_ttl"])
        granted = config["granted_scopes"]
        token["scope"] = list_to_scope(granted) if granted is not None else token.get("scope", "")
        token.update(config["extra_token_fields"])
        return token

    def query_client(self, client_id):
        return self.store.clients.get(client_id)

    def save_token(self, token, request):
        store = self.store
        refresh = token.get("refresh_token") or (
            request.refresh_token and request.refresh_token.refresh_token
        )
        record = Token(
            access_token=token["access_token"],
            refresh_token=refresh,
            client_id=request.client.client_id,
            scope=token["scope"],
            issued_at=time.time(),
            expires_in=token["expires_in"],
        )
        store.access_tokens[record.access_token] = record
        store.refresh_tokens[refresh] = record
        if request.authorization_code:
            store.used_codes.setdefault(request.authorization_code.code, []).append(record.access_token)

    def send_signal(self, name, *args, **kwargs):
        pass

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        return status, body, headers


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*TOKEN_AUTH_METHODS, "none"]

    def validate_requested_scope(self):
        client = self.request.client
        requested = scope_to_list(self.request.payload.scope) or []
        if client.scopes and not set(requested) <= set(client.scopes):
            raise InvalidScopeError(f"Allowed scopes: {' '.join(client.scopes)}")

    def save_authorization_code(self, code, request):
        data = request.payload.data
        store = self.server.store
        store.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            expires_at=time.time() + store.config["code_ttl"],
        )

    def query_authorization_code(self, code, client):
        store = self.server.store
        if code in store.used_codes:
            # A replayed code: refuse it and revoke what it produced (RFC 6749 §4.1.2).
            for access_token in store.used_codes[code]:
                token = store.access_tokens[access_token]
                store.revoke_refresh_token(token.refresh_token)
                token.revoked = True
            return None
        item = store.codes.get(code)
        if item and item.client_id == client.client_id and time.time() < item.expires_at:
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        store = self.server.store
        store.codes.pop(authorization_code.code, None)
        store.used_codes.setdefault(authorization_code.code, [])

    def authenticate_user(self, authorization_code):
        return USER


class _RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*TOKEN_AUTH_METHODS, "none"]

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self):
        return self.server.store.config["rotate_refresh_tokens"]

    def authenticate_refresh_token(self, refresh_token):
        return self.server.store.refresh_tokens.get(refresh_token)

    def authenticate_user(self, refresh_token):
        return USER

    def revoke_old_credential(self, refresh_token):
        store = self.server.store
        store.refreshes[refresh_token.refresh_token] += 1
        if self.INCLUDE_NEW_REFRESH_TOKEN:
            store.refresh_tokens.pop(refresh_token.refresh_token, None)


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*TOKEN_AUTH_METHODS, "none"]

    def query_token(self, token_string, token_type_hint):
        store = self.server.store
        if token_type_hint != "refresh_token" and token_string in store.access_tokens:
            return store.access_tokens[token_string]
        return store.refresh_tokens.get(token_string) or store.access_tokens.get(token_string)

    def revoke_token(self, token, request):
        store = self.server.store
        presented = request.form["token"]
        kind = "refresh_token" if presented == token.refresh_token else "access_token"
        store.revoked.append({"token": presented, "token_type": kind})
        if kind == "refresh_token":
            store.revoke_refresh_token(presented)
        else:
            token.revoked = True


class _BearerValidator(BearerTokenValidator):
    def __init__(self, store: Store):
        super().__init__()
        self.store = store

    def authenticate_token(self, token_string):
        with self.store.lock:
            return self.store.access_tokens.get(token_string)
