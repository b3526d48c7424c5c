"""Outbound HTTP to user-supplied URLs. Every request to the outside world goes through here.

``outbound_request()`` is the one guarded client:

- only http and https; plain http only to hosts in ``OUTBOUND_ALLOWLIST``; no user info in URLs;
- the host is resolved once and the connection is made to that checked address, while the
  ``Host`` header, TLS SNI and certificate verification keep the real name (``requests-hardened``'s
  adapter does the pinning);
- loopback, private, link-local, multicast, reserved, unspecified, carrier-grade NAT, cloud
  metadata and IPv6 transition addresses (IPv4-mapped, NAT64, 6to4, Teredo) are refused, also when
  spelled oddly (``2130706433``, ``0x7f.1``, ``127.1``) or reached through DNS or a redirect,
  unless the host is allowlisted;
- redirects are followed by hand, a bounded number of times, each hop checked again, and the
  caller's headers (credentials) are dropped when a redirect leaves the origin;
- connect and read timeouts, an overall deadline and a response size cap.

Failures raise an ``OutboundError`` subclass whose message is safe to show: it names the host,
never a header, a body or a query string value.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests_hardened.ip_filter import InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3 import Timeout as Urllib3Timeout

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

logger = logging.getLogger(__name__)

USER_AGENT = "Connections/1.0"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded (lower case).
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Headers a caller may not set on a request made for it: credentials, and what the client computes.
CALLER_REFUSED_HEADERS = HOP_BY_HOP_HEADERS | {"authorization", "cookie", "host", "content-length"}

NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Ranges Python's ``ipaddress`` flags do not cover, or that we refuse whole because they carry
# or translate to another address (so a public-looking IPv6 address can reach an IPv4 one).
EXTRA_BLOCKED_NETWORKS: dict[str, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {
    "carrier-grade NAT": [ipaddress.ip_network("100.64.0.0/10")],
    "IPv6 transition": [
        NAT64,
        ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
        ipaddress.ip_network("2002::/16"),  # 6to4
        ipaddress.ip_network("2001::/32"),  # Teredo
        ipaddress.ip_network("192.88.99.0/24"),  # 6to4 relay anycast
        IPV4_COMPATIBLE,
    ],
}
# Cloud metadata services, including those outside private ranges (Azure's wireserver).
METADATA_ADDRESSES = {
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
}
IPV4_NUMERIC = re.compile(r"^[0-9][0-9a-fx.]*$", re.IGNORECASE)
# What no header value may hold: C0 controls but the tab, DEL, C1 (NEL among them) and the
# Unicode line separators.
CONTROL_CHARACTER = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
URL_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


# --- Errors -------------------------------------------------------------------------------------


class OutboundError(Exception):
    """An outbound request that could not be made or completed. ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class OutboundBlocked(OutboundError):
    """The target is refused by policy; no request was sent."""


class OutboundInvalidUrl(OutboundBlocked):
    """A URL (the one asked for, or a redirect's ``Location``) that cannot be parsed."""


class OutboundDnsError(OutboundError):
    pass


class OutboundTlsError(OutboundError):
    pass


class OutboundTimeout(OutboundError):
    pass


class OutboundConnectionRefused(OutboundError):
    pass


class OutboundConnectionFailed(OutboundError):
    pass


class OutboundTooManyRedirects(OutboundError):
    pass


class OutboundResponseTooLarge(OutboundError):
    pass


# --- Policy ---------------------------------------------------------------------------------------


def _allowlist_entry(entry: str) -> tuple[str, int | None]:
    """``host`` or ``host:port`` (``[v6]:port``) as (host, port); a bare host allows every port."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:
        host, port = entry, ""  # a name, an IPv4 address or a bare IPv6 address
    return host.rstrip("."), (int(port) if port.isdigit() else None)


@lru_cache(maxsize=8)
def _allowlist_entries(entries: tuple[str, ...]) -> tuple[tuple[str, int | None], ...]:
    # Parsed once per value of the setting (checked twice per request), not once per check.
    return tuple(_allowlist_entry(entry) for entry in entries)


def host_in_allowlist(host: str, port: int | None) -> bool:
    """True when OUTBOUND_ALLOWLIST lets ``host`` be reached on ``port``. Entries are exact names or
    addresses, or ``*.example.com``, each with an optional ``:port`` (``127.0.0.1:8765``,
    ``[::1]:8443``); without one, every port of that host is allowed.

    Allowlisted hosts may resolve to private addresses and may be reached over plain http
    (an on-premise service, a local test provider).
    """
    host = host.lower().strip("[]").rstrip(".")
    for allowed_host, allowed_port in _allowlist_entries(tuple(settings.OUTBOUND_ALLOWLIST)):
        if allowed_port is not None and allowed_port != port:
            continue
        if allowed_host == host or (allowed_host.startswith("*.") and host.endswith(allowed_host[1:])):
            return True
    return False


def url_port(parts: SplitResult) -> int | None:
    """The port a URL reaches: the one written, or its scheme's default."""
    return parts.port or DEFAULT_PORTS.get(parts.scheme)


def _allowlisted(host: str, port: int | None) -> bool:
    """The host as written, or the address an odd spelling stands for (``127.1`` → ``127.0.0.1``)."""
    if host_in_allowlist(host, port):
        return True
    literal = ip_literal(host)
    return literal is not None and host_in_allowlist(str(literal), port)


def ip_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, with the resolver's ``inet_aton`` rules, or None for a name.

    ``2130706433``, ``0x7f.1``, ``017700000001`` and ``127.1`` all mean 127.0.0.1 to the system
    resolver, so they must be checked as that address rather than as names.
    """
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if IPV4_NUMERIC.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> Iterator[ipaddress.IPv4Address]:
    if address.ipv4_mapped:
        yield address.ipv4_mapped
    if address.sixtofour:
        yield address.sixtofour
    if address.teredo:
        yield from address.teredo
    # NAT64 and the deprecated IPv4-compatible form (but not :: and ::1) carry it in the low 32 bits.
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def address_block_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached (``"loopback"``, ``"link-local"`` …), or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(address):
            reason = address_block_reason(inner)
            if reason:
                return reason
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    for label, networks in EXTRA_BLOCKED_NETWORKS.items():
        if any(address.version == n.version and address in n for n in networks):
            return label
    for label, flag in (
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private network", address.is_private),
    ):
        if flag:
            return label
    if not address.is_global:
        return "not publicly routable"
    return None


def _blocked(host: str, address: IPAddress, reason: str) -> OutboundBlocked:
    if ip_literal(host) is not None:
        return OutboundBlocked(f"Blocked: {host} is a private address ({reason})")
    # Never which address a name resolved to: that would map internal names for whoever asks.
    logger.info("outbound: %s refused, it resolves to %s (%s)", host, address, reason)
    return OutboundBlocked(f"Blocked: {host} refused: not a public address")


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value, or None. Says what, never which
    character, as the value may hold a credential."""
    if CONTROL_CHARACTER.search(value):
        return "contains a control character (such as NUL, VT, FF, NEL, CR or LF)"
    if not value.isascii():
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return (
                "contains characters outside Latin-1 (ISO-8859-1), which HTTP header values cannot "
                "carry; percent-encode or base64 it if the service expects that"
            )
    return None


def parse_outbound_url(url: str, *, what: str = "The URL") -> SplitResult:
    """``url`` split, with its host and port readable; ``OutboundInvalidUrl`` when it is not a URL
    (a port out of range or not a number, a stray space or control character, a broken IPv6 host).

    Every URL the client is handed, first request and every redirect, is parsed here first, so a
    malformed one is a refusal with a clear message and never an exception from deeper down.
    """
    if URL_CONTROL_CHARACTER.search(url):
        raise OutboundInvalidUrl(f"{what} is not a valid URL (it contains a control character)")
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018 - raises ValueError for a malformed host
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise OutboundInvalidUrl(f"{what} is not a valid URL ({_url_problem(exc)})") from None
    if any(ch.isspace() or ch == "\\" for ch in parts.netloc):
        raise OutboundInvalidUrl(f"{what} is not a valid URL (a space or backslash in its host)")
    return parts


def _url_problem(exc: ValueError) -> str:
    text = str(exc)
    if "Port" in text or "port" in text:
        return "its port is not a number from 1 to 65535"
    if "IPv6" in text:
        return "its IPv6 address is malformed"
    return "it cannot be parsed"


def check_outbound_url(url: str) -> None:
    """Refuse, without any network traffic, a URL that can be judged from its text alone.

    Host names are judged again after resolution, at connection time.
    """
    parts = parse_outbound_url(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https"):
        raise OutboundBlocked(f"Blocked: only http and https URLs are allowed, not {parts.scheme or 'none'}")
    if not host:
        raise OutboundBlocked("Blocked: the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise OutboundBlocked("Blocked: URLs with user names or passwords in them are not allowed")
    if _allowlisted(host, url_port(parts)):
        return
    literal = ip_literal(host)
    if literal is not None:
        reason = address_block_reason(literal)
        if reason:
            raise _blocked(host, literal, reason)
    if parts.scheme == "http":
        raise OutboundBlocked(f"Blocked: plain http to {host} is not allowed; use https")


def redact_url(url: str) -> str:
    """``url`` fit for logs and messages: no user info, no fragment, query values masked."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        return "(invalid URL)"
    query = urlencode([(name, "***") for name, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


# --- The client -----------------------------------------------------------------------------------


class GuardedAdapter(IPFilterAdapter):
    """requests-hardened's pinning adapter, with our stricter address rules and the allowlist."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        if _allowlisted(host, url_port(parts)):
            # Any address is acceptable, so there is nothing to pin.
            return HTTPAdapter.build_connection_pool_key_attributes(self, request, verify, cert)
        try:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        except InvalidIPAddress as exc:
            address = ipaddress.ip_address(str(exc))
            raise _blocked(host, address, address_block_reason(address) or "private network") from None
        address = ipaddress.ip_address(host_params["host"].strip("[]"))
        reason = address_block_reason(address)
        if reason:
            raise _blocked(host, address, reason)
        return host_params, pool_kwargs


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    reason: str
    headers: Mapping[str, str]
    content: bytes
    url: str
    elapsed_ms: int
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not (or was truncated)."""
        return jsonlib.loads(self.content)


_per_thread = threading.local()


def _session() -> requests.Session:
    """This thread's session, made once (workers test in many threads): its adapters and the
    headers every request carries. The adapters' connection pools are keyed by the pinned address
    (GuardedAdapter), so a keep-alive connection is reused only to an address checked for this
    very request; a host that now resolves elsewhere gets a new, checked connection.

    Requests go straight to the adapter (``_send``), never through ``Session.request``: no cookie
    jar, environment proxy, .netrc credential or redirect of requests' own takes part, so no call
    can see or send another's cookies and redirects are only followed, checked, by
    ``outbound_request``. (Session.request's merging was also a fifth of a request's CPU.)"""
    session = getattr(_per_thread, "session", None)
    if session is None:
        session = requests.Session()
        session.mount("http://", GuardedAdapter(is_https_proto=False))
        session.mount("https://", GuardedAdapter(is_https_proto=True))
        session.headers["User-Agent"] = USER_AGENT
        _per_thread.session = session
    return session


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port or DEFAULT_PORTS.get(parts.scheme)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (requests and urllib3 nest errors several ways)."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))


def _seconds(value: float) -> str:
    return f"{value:g}"


def _translate(exc: Exception, url: str, timeout: float) -> OutboundError:
    """A safe, specific error for a requests failure. Never uses ``str(exc)``: it may hold headers."""
    parts = urlsplit(url)
    host = parts.hostname or "the host"
    causes = list(_causes(exc))
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in causes):
        return OutboundDnsError(f"Could not resolve host {host}")
    # Before timeouts: urllib3's NewConnectionError is also a ConnectTimeoutError.
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        return OutboundConnectionRefused(f"Connection refused by {host}:{port}")
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return OutboundConnectionFailed(f"Connection reset by {host}")
    if isinstance(exc, requests.Timeout) or any(
        isinstance(c, (socket.timeout, TimeoutError, urllib3.exceptions.TimeoutError)) for c in causes
    ):
        return OutboundTimeout(f"Timed out after {_seconds(timeout)} s")
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or "certificate verification failed"
            return OutboundTlsError(f"TLS error with {host}: certificate verification failed ({detail})")
    if isinstance(exc, requests.exceptions.SSLError) or any(isinstance(c, ssl.SSLError) for c in causes):
        return OutboundTlsError(f"TLS error with {host}: the secure connection could not be established")
    if isinstance(exc, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL)):
        return OutboundError("The request could not be built: a URL or header value is invalid")
    return OutboundConnectionFailed(f"Could not connect to {host}")


def _read_body(response: HTTPResponse, *, max_bytes: int, truncate: bool, deadline: float, limit: float):
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes and not truncate:
        raise OutboundResponseTooLarge(f"Response larger than the {max_bytes} byte limit")
    body = bytearray()
    for chunk in response.stream(64 * 1024, decode_content=True):
        body.extend(chunk)
        if len(body) > max_bytes:
            if truncate:
                return bytes(body[:max_bytes]), True
            raise OutboundResponseTooLarge(f"Response larger than the {max_bytes} byte limit")
        if time.monotonic() > deadline:
            raise OutboundTimeout(f"Timed out after {_seconds(limit)} s")
    return bytes(body), False


@dataclass(frozen=True)
class _Hop:
    """One request of a chain of redirects; a redirect answer makes the next one."""

    method: str
    url: str
    headers: dict[str, str]
    params: Mapping[str, str] | None
    data: Mapping[str, str] | None
    json: Any

    def redirected(self, response: _Answer, location: str) -> _Hop:
        host = urlsplit(response.url).hostname
        what = f"The redirect from {host} (its Location header)"
        try:
            next_url = urljoin(response.url, location)
        except ValueError as exc:
            raise OutboundInvalidUrl(f"{what} is not a valid URL ({_url_problem(exc)})") from None
        parse_outbound_url(next_url, what=what)
        method, data, json = self.method, self.data, self.json
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method = "GET" if method != "HEAD" else method
            data = json = None
        headers = self.headers
        if _origin(next_url) != _origin(response.url):
            # Credentials belong to the origin they were configured for.
            headers, data, json = {}, None, None
        # The query parameters are already part of the URL the server redirected from.
        return _Hop(method=method, url=next_url, headers=headers, params=None, data=data, json=json)


@dataclass(frozen=True)
class _Budget:
    """The time limits of one ``outbound_request``, shared by all its hops."""

    connect_timeout: float
    read_timeout: float
    deadline: float
    started: float

    def hop_timeouts(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The (connect, read) timeouts for the next hop, and the limits a timeout message names."""
        remaining = self.started + self.deadline - time.monotonic()
        if remaining <= 0:
            raise OutboundTimeout(f"Timed out after {_seconds(self.deadline)} s")
        configured = (self.connect_timeout, self.read_timeout)
        timeouts = (min(configured[0], remaining), min(configured[1], remaining))
        # A message names the configured limit that cut the wait short.
        limits = (
            configured[0] if configured[0] < remaining else self.deadline,
            configured[1] if configured[1] < remaining else self.deadline,
        )
        return timeouts, limits


@dataclass
class _Answer:
    """A response whose body is still to be read, and the URL it answers (a redirect resolves
    ``Location`` against it)."""

    raw: HTTPResponse
    url: str
    consumed: bool = False

    @property
    def status(self) -> int:
        return self.raw.status

    @property
    def headers(self) -> HTTPHeaderDict:
        return self.raw.headers


def _encoded_params(params) -> str:
    """``params`` (a mapping or pairs; a list value repeats the name) encoded as requests'
    ``PreparedRequest._encode_params`` encodes them, without its runtime Protocol checks (a quarter
    of preparing a request)."""
    pairs = []
    for name, values in params.items() if isinstance(params, Mapping) else params:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        for value in values:
            if value is not None:
                pairs.append(
                    (
                        name.encode("utf-8") if isinstance(name, str) else name,
                        value.encode("utf-8") if isinstance(value, str) else value,
                    )
                )
    return urlencode(pairs, doseq=True)


def _prepared(session: requests.Session, hop: _Hop) -> requests.PreparedRequest:
    """URL, query, body and headers encoded (and header values checked) by requests' own rules.

    Its auth, cookie and hook steps are left out: a URL with user info never gets this far
    (``check_outbound_url``), and the client keeps no cookies and sets no hooks."""
    headers = CaseInsensitiveDict(session.headers)
    headers.update(hop.headers)
    for name in [name for name, value in headers.items() if value is None]:
        del headers[name]  # as requests does: None unsets a header
    prepared = requests.PreparedRequest()
    prepared.prepare_method(hop.method)
    prepared.prepare_url(hop.url, _encoded_params(hop.params or ()))
    prepared.prepare_headers(headers)
    prepared.prepare_body(hop.data, None, hop.json)
    return prepared


@contextmanager
def _send(session: requests.Session, hop: _Hop, timeouts: tuple[float, float], limits: tuple[float, float]):
    """The answer to ``hop``, its connection back in the pool (or closed, if the body was left
    unread) on leaving. The prepared request goes to the pinned pool the adapter picks, as
    ``HTTPAdapter.send`` would send it, without the ``requests.Response`` (and its cookie jar)
    that ``send`` builds around the answer: a third of a request's CPU in the client."""
    try:
        prepared = _prepared(session, hop)
        adapter = session.get_adapter(prepared.url)
        pool = adapter.get_connection_with_tls_context(prepared, True, proxies={}, cert=None)
        adapter.cert_verify(pool, prepared.url, True, None)
        raw = pool.urlopen(
            method=prepared.method,
            url="/" + prepared.path_url.lstrip("/"),
            body=prepared.body,
            headers=prepared.headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=adapter.max_retries,
            timeout=Urllib3Timeout(connect=timeouts[0], read=timeouts[1]),
            chunked=not (prepared.body is None or "Content-Length" in prepared.headers),
        )
    except OutboundError:
        raise
    except urllib3.exceptions.MaxRetryError as exc:
        connect_timeout = isinstance(exc.reason, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            exc.reason, urllib3.exceptions.NewConnectionError
        )
        raise _translate(exc, hop.url, limits[0] if connect_timeout else limits[1]) from None
    except requests.ConnectTimeout as exc:
        raise _translate(exc, hop.url, limits[0]) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise _translate(exc, hop.url, limits[1]) from None
    answer = _Answer(raw=raw, url=prepared.url)
    try:
        yield answer
    finally:
        if not answer.consumed:
            raw.close()
        raw.release_conn()


def _receive(
    response: _Answer,
    *,
    url: str,
    budget: _Budget,
    read_limit: float,
    max_bytes: int,
    truncate: bool,
) -> OutboundResponse:
    try:
        content, truncated = _read_body(
            response.raw,
            max_bytes=max_bytes,
            truncate=truncate,
            deadline=budget.started + budget.deadline,
            limit=budget.deadline,
        )
    except OutboundError:
        raise
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise _translate(exc, url, read_limit) from None
    response.consumed = not truncated
    return OutboundResponse(
        status_code=response.status,
        reason=response.raw.reason or "",
        headers=dict(response.headers),
        content=content,
        url=response.url,
        elapsed_ms=round((time.monotonic() - budget.started) * 1000),
        truncated=truncated,
    )


def outbound_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    deadline: float | None = None,
    max_bytes: int | None = None,
    truncate: bool = False,
    max_redirects: int | None = None,
) -> OutboundResponse:
    """Send one request (following redirects) under every guard above; raise ``OutboundError``.

    Timeouts and limits default to the ``OUTBOUND_*`` settings. With ``truncate`` a body over
    ``max_bytes`` is cut short (``truncated=True``) instead of failing the request.
    """
    budget = _Budget(
        connect_timeout=connect_timeout or settings.OUTBOUND_CONNECT_TIMEOUT,
        read_timeout=read_timeout or settings.OUTBOUND_READ_TIMEOUT,
        deadline=deadline or settings.OUTBOUND_DEADLINE,
        started=time.monotonic(),
    )
    max_bytes = max_bytes or settings.OUTBOUND_MAX_RESPONSE_BYTES
    max_redirects = settings.OUTBOUND_MAX_REDIRECTS if max_redirects is None else max_redirects
    hop = _Hop(
        method=method.upper(), url=url, headers=dict(headers or {}), params=params, data=data, json=json
    )
    session = _session()
    for _ in range(max_redirects + 1):
        check_outbound_url(hop.url)
        timeouts, limits = budget.hop_timeouts()
        with _send(session, hop, timeouts, limits) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECT_STATUSES and location:
                hop = hop.redirected(response, location)
                continue
            return _receive(
                response,
                url=hop.url,
                budget=budget,
                read_limit=limits[1],
                max_bytes=max_bytes,
                truncate=truncate,
            )
    raise OutboundTooManyRedirects(f"Too many redirects (more than {max_redirects})")
