"""The guarded outbound client, against the local provider server over real sockets."""

import ipaddress
import socket
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from core.outbound_http import (
    OutboundBlocked,
    OutboundConnectionRefused,
    OutboundDnsError,
    OutboundResponseTooLarge,
    OutboundTimeout,
    OutboundTlsError,
    OutboundTooManyRedirects,
    _encoded_params,
    _session,
    address_block_reason,
    check_outbound_url,
    host_in_allowlist,
    outbound_request,
    redact_url,
)
from tests.provider_server import ProviderServer

# (host as written in a URL, what it is)
BLOCKED_LITERALS = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private network"),
    ("172.16.5.4", "private network"),
    ("192.168.1.1", "private network"),
    ("0.0.0.0", "unspecified"),
    ("169.254.169.254", "cloud metadata"),
    ("169.254.10.10", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.100.100.200", "cloud metadata"),
    ("168.63.129.16", "cloud metadata"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", None),
    ("192.0.2.1", None),  # documentation range
    ("[::1]", "loopback"),
    ("[::]", "unspecified"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("[::ffff:169.254.169.254]", "cloud metadata"),
    ("[::ffff:10.0.0.1]", "private network"),
    ("[64:ff9b::7f00:1]", "loopback"),
    ("[64:ff9b::a9fe:a9fe]", "cloud metadata"),
    ("[64:ff9b::808:808]", "IPv6 transition"),  # NAT64 of a public address: refused whole
    ("[2002:7f00:1::]", "loopback"),
    ("[2002:a00:1::]", "private network"),
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "loopback"),  # Teredo, client 127.0.0.1
    ("[::7f00:1]", "loopback"),  # IPv4-compatible, deprecated
    ("[::808:808]", "IPv6 transition"),
    ("[fd00::1]", "private network"),
    ("[fd00:ec2::254]", "cloud metadata"),
    ("[fe80::1]", "link-local"),
    ("[ff02::1]", "multicast"),
    ("[2001:db8::1]", None),
]
# Other spellings of 127.0.0.1 that the system resolver accepts.
ODD_LOOPBACK_SPELLINGS = [
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "017700000001",
    "0177.0.0.1",
    "127.1",
    "127.0.1",
]


def hosts_file_loopback_names() -> list[str]:
    """Names /etc/hosts maps to loopback on this machine, besides localhost."""
    names = set()
    for line in Path("/etc/hosts").read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0].startswith("127."):
            names.update(n for n in fields[1:] if n != "localhost")
    return sorted(names)


def probe_path() -> str:
    return f"/echo?probe={uuid.uuid4().hex}"


def was_hit(provider_server, path: str) -> bool:
    return any(hit_path == path for _, hit_path in provider_server.hits)


# --- Every address class refused, and allowed when listed


@pytest.mark.parametrize(("host", "kind"), BLOCKED_LITERALS)
def test_literal_address_is_refused_without_a_request(settings, host, kind):
    settings.OUTBOUND_ALLOWLIST = []
    with pytest.raises(OutboundBlocked) as caught:
        outbound_request("GET", f"https://{host}/latest/meta-data/?token=s3cret")
    assert "private address" in caught.value.message
    if kind:
        assert f"({kind})" in caught.value.message
    assert "s3cret" not in caught.value.message


@pytest.mark.parametrize(("host", "kind"), BLOCKED_LITERALS)
def test_literal_address_is_allowed_when_listed(settings, host, kind):
    settings.OUTBOUND_ALLOWLIST = [host]
    check_outbound_url(f"https://{host}/")
    check_outbound_url(f"http://{host}/")


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001::200e"]
)
def test_public_addresses_are_allowed(settings, address):
    settings.OUTBOUND_ALLOWLIST = []
    assert address_block_reason(ipaddress.ip_address(address)) is None
    check_outbound_url(f"https://{address}/" if "." in address else f"https://[{address}]/")


@pytest.mark.parametrize("host", ODD_LOOPBACK_SPELLINGS)
def test_odd_spelling_of_loopback_is_refused(settings, provider_server, host):
    settings.OUTBOUND_ALLOWLIST = []
    path = probe_path()
    with pytest.raises(OutboundBlocked, match=r"private address \(loopback\)"):
        outbound_request("GET", f"https://{host}:{provider_server.port}{path}")
    assert not was_hit(provider_server, path)


@pytest.mark.parametrize("host", ODD_LOOPBACK_SPELLINGS)
def test_odd_spelling_reaches_the_listed_address(settings, provider_server, host):
    # Listing the address also admits its other spellings: they are the same destination.
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    path = probe_path()
    response = outbound_request("GET", f"http://{host}:{provider_server.port}{path}")
    assert response.status_code == 200
    assert was_hit(provider_server, path)


@pytest.mark.parametrize("name", ["localhost", *hosts_file_loopback_names()])
def test_name_resolving_to_loopback_is_refused_after_resolution(settings, provider_server, name):
    settings.OUTBOUND_ALLOWLIST = []
    path = probe_path()
    with pytest.raises(OutboundBlocked) as caught:
        outbound_request("GET", f"https://{name}:{provider_server.port}{path}")
    # Which address the name resolved to is never said: that would map internal names.
    assert caught.value.message == f"Blocked: {name} refused: not a public address"
    assert "127.0.0.1" not in caught.value.message
    assert not was_hit(provider_server, path)


@pytest.mark.parametrize("name", ["localhost", *hosts_file_loopback_names()])
def test_name_resolving_to_loopback_is_reached_when_listed(settings, provider_server, name):
    settings.OUTBOUND_ALLOWLIST = [name]
    response = outbound_request("GET", f"http://{name}:{provider_server.port}/echo")
    assert response.status_code == 200
    # The Host header names the host as written, not the address.
    assert response.json()["headers"]["host"] == f"{name}:{provider_server.port}"


def test_wildcard_allowlist_entry_matches_subdomains_only(settings):
    settings.OUTBOUND_ALLOWLIST = ["*.corp.example"]
    check_outbound_url("http://crm.corp.example/")
    with pytest.raises(OutboundBlocked, match="plain http"):
        check_outbound_url("http://corp.example.evil/")


def test_local_provider_is_refused_without_the_allowlist(settings, provider_server):
    settings.OUTBOUND_ALLOWLIST = []
    path = probe_path()
    with pytest.raises(OutboundBlocked):
        outbound_request("GET", provider_server.url(path))
    assert not was_hit(provider_server, path)


def test_local_provider_is_reached_with_the_allowlist(allow_local_provider, provider_server):
    response = outbound_request("GET", provider_server.url("/echo"), params={"a": "1"})
    assert response.status_code == 200
    assert response.json()["query"] == {"a": "1"}
    assert response.json()["headers"]["user-agent"] == "Connections/1.0"


# --- Schemes and URL shapes


def test_plain_http_to_a_host_not_listed_is_refused(settings):
    settings.OUTBOUND_ALLOWLIST = []
    with pytest.raises(OutboundBlocked, match=r"plain http to api\.example\.com is not allowed"):
        outbound_request("GET", "http://api.example.com/v1")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "example.com/x"]
)
def test_only_http_and_https_are_allowed(url):
    with pytest.raises(OutboundBlocked, match="only http and https"):
        outbound_request("GET", url)


def test_url_with_user_info_is_refused():
    with pytest.raises(OutboundBlocked, match="user names or passwords") as caught:
        outbound_request("GET", "https://admin:hunter2@example.com/")
    assert "hunter2" not in caught.value.message


# --- Redirects


def test_redirect_to_the_metadata_address_is_refused(allow_local_provider, provider_server):
    with pytest.raises(OutboundBlocked, match=r"169\.254\.169\.254 is a private address \(cloud metadata\)"):
        outbound_request("GET", provider_server.url("/redirect-private"))


def test_redirect_to_a_name_resolving_to_loopback_is_refused(allow_local_provider, provider_server):
    target = f"https://localhost:{provider_server.port}/echo"
    with pytest.raises(OutboundBlocked, match="^Blocked: localhost refused: not a public address$"):
        outbound_request("GET", provider_server.url(f"/redirect?to={target}"))


@pytest.fixture
def second_loopback_server():
    """A provider on another loopback address: private, like a metadata service, yet local."""
    with ProviderServer(host="127.0.0.2") as server:
        yield server


def test_redirect_to_a_private_address_not_listed_is_refused(
    settings, provider_server, second_loopback_server
):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    target = second_loopback_server.url("/echo")
    with pytest.raises(OutboundBlocked, match=r"127\.0\.0\.2 is a private address \(loopback\)"):
        outbound_request("GET", provider_server.url(f"/redirect?to={target}"))
    assert second_loopback_server.hits == []


def test_redirect_to_a_listed_private_address_is_followed(settings, provider_server, second_loopback_server):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1", "127.0.0.2"]
    target = second_loopback_server.url("/echo")
    response = outbound_request("GET", provider_server.url(f"/redirect?to={target}"))
    assert response.status_code == 200
    assert response.url == target
    assert second_loopback_server.hits == [("GET", "/echo")]


def test_redirect_on_the_same_origin_keeps_the_headers(allow_local_provider, provider_server):
    response = outbound_request(
        "GET", provider_server.url("/redirect?to=/echo"), headers={"Authorization": "Bearer keep-me"}
    )
    assert response.url == provider_server.url("/echo")
    assert response.json()["headers"]["authorization"] == "Bearer keep-me"


def test_redirect_to_another_origin_drops_the_credentials(settings, provider_server):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1", "localhost"]
    elsewhere = f"http://localhost:{provider_server.port}/echo"
    response = outbound_request(
        "GET",
        provider_server.url(f"/redirect?to={elsewhere}"),
        headers={"Authorization": "Bearer drop-me", "X-API-Key": "drop-me-too"},
    )
    assert response.url == elsewhere
    assert "authorization" not in response.json()["headers"]
    assert "x-api-key" not in response.json()["headers"]


def test_redirects_are_bounded(allow_local_provider, provider_server):
    with pytest.raises(OutboundTooManyRedirects, match=r"more than 3"):
        outbound_request("GET", provider_server.url("/redirect-loop"), max_redirects=3)


def test_post_becomes_get_after_a_302(allow_local_provider, provider_server):
    response = outbound_request("POST", provider_server.url("/redirect?to=/echo"), data={"a": "1"})
    assert response.json()["method"] == "GET"


# --- Timeouts, failures, size


@pytest.fixture
def own_server():
    """A provider for this test alone, so what it answered is this test's."""
    with ProviderServer() as server:
        yield server


def test_slow_response_times_out_at_the_read_timeout(allow_local_provider, own_server):
    with pytest.raises(OutboundTimeout, match=r"^Timed out after 0\.3 s$"):
        outbound_request("GET", own_server.url("/slow?ms=30000"), read_timeout=0.3)
    assert own_server.hits == [("GET", "/slow?ms=30000")]
    assert own_server.answered == [], "the client gave up before the answer came"


def test_overall_deadline_bounds_the_request(allow_local_provider, own_server):
    with pytest.raises(OutboundTimeout, match=r"^Timed out after 0\.4 s$"):
        outbound_request("GET", own_server.url("/slow?ms=30000"), read_timeout=5, deadline=0.4)
    assert own_server.answered == [], "the client gave up before the answer came"


def test_timeouts_come_from_settings(allow_local_provider, provider_server, settings):
    settings.OUTBOUND_READ_TIMEOUT = 0.2
    with pytest.raises(OutboundTimeout, match=r"0\.2 s"):
        outbound_request("GET", provider_server.url("/slow?ms=1500"))


def test_closed_port_is_connection_refused(allow_local_provider):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OutboundConnectionRefused, match=rf"^Connection refused by 127\.0\.0\.1:{port}$"):
        outbound_request("GET", f"http://127.0.0.1:{port}/")


def test_unknown_host_is_a_dns_error_without_the_query():
    with pytest.raises(OutboundDnsError) as caught:
        outbound_request("GET", "https://no-such-host.invalid/v1?api_key=s3cret")
    assert caught.value.message == "Could not resolve host no-such-host.invalid"


@pytest.fixture(scope="module")
def self_signed_provider(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    with ProviderServer(certfile=str(cert), keyfile=str(key)) as server:
        yield server


def test_untrusted_certificate_is_a_tls_error(allow_local_provider, self_signed_provider):
    with pytest.raises(OutboundTlsError, match="certificate verification failed .*self.signed"):
        outbound_request("GET", self_signed_provider.url("/echo"))


def test_response_over_the_cap_is_refused(allow_local_provider, provider_server):
    with pytest.raises(OutboundResponseTooLarge, match="1024 byte limit"):
        outbound_request("GET", provider_server.url("/huge?bytes=5000"), max_bytes=1024)


def test_streamed_response_is_cut_at_the_cap(allow_local_provider, own_server, settings):
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 100_000
    with pytest.raises(OutboundResponseTooLarge, match="100000 byte limit"):
        outbound_request("GET", own_server.url("/huge?bytes=50000000&chunked=1"))
    assert own_server.answered == [], "the client stopped reading at the cap"
    response = outbound_request("GET", own_server.url("/huge?bytes=50000000&chunked=1"), truncate=True)
    assert response.truncated and len(response.content) == 100_000


def test_response_within_the_cap_is_read_whole(allow_local_provider, provider_server):
    response = outbound_request("GET", provider_server.url("/huge?bytes=1000"), max_bytes=1000)
    assert len(response.content) == 1000 and not response.truncated


def test_redact_url_masks_query_values_and_user_info():
    assert redact_url("https://u:pw@api.example.com:8443/v1/x?api_key=s3cret&limit=1#frag") == (
        "https://api.example.com:8443/v1/x?api_key=***&limit=***"
    )
    assert redact_url("https://[::1]/x") == "https://[::1]/x"


# (the Location a provider answers with, as sent in /redirect?to=…, what the message says is wrong)
MALFORMED_LOCATIONS = [
    ("http://127.0.0.1:99999/", "its port is not a number from 1 to 65535"),
    ("http://h:8910%20/", "its port is not a number from 1 to 65535"),
    ("http://h:8910:80/", "its port is not a number from 1 to 65535"),
    ("https://h:8911%5C.example.com/", "its port is not a number from 1 to 65535"),
    ("http://[::1/", "its IPv6 address is malformed"),
    ("http://a%20b.example.com/", "a space or backslash in its host"),
    ("http://a%5Cb.example.com/", "a space or backslash in its host"),
]


@pytest.mark.parametrize(("location", "problem"), MALFORMED_LOCATIONS)
def test_a_malformed_redirect_location_is_refused_with_a_clear_message(
    allow_local_provider, provider_server, location, problem
):
    with pytest.raises(OutboundBlocked) as refused:
        outbound_request("GET", provider_server.url(f"/redirect?to={location}"))

    assert refused.value.message == (
        f"The redirect from 127.0.0.1 (its Location header) is not a valid URL ({problem})"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/",
        "http://h:1:2/",
        "https://[::1/",
        "https://a b.example.com/",
        "https://x\x00/",
    ],
)
def test_a_malformed_url_is_refused_before_anything_is_sent(url):
    with pytest.raises(OutboundBlocked) as refused:
        outbound_request("GET", url)

    assert refused.value.message.startswith("The URL is not a valid URL (")


@pytest.mark.parametrize(
    ("entry", "allowed"),
    [
        ("127.0.0.1", True),  # a bare host: every port
        ("127.0.0.1:{port}", True),
        ("127.0.0.1:{other}", False),
        ("localhost:{port}", False),  # another name for it is not listed
        ("[::ffff:127.0.0.1]:{port}", False),
    ],
)
def test_an_allowlist_entry_may_name_the_one_port_it_allows(settings, provider_server, entry, allowed):
    settings.OUTBOUND_ALLOWLIST = [entry.format(port=provider_server.port, other=provider_server.port + 1)]
    url = provider_server.url("/echo")

    if allowed:
        assert outbound_request("GET", url).status_code == 200
    else:
        with pytest.raises(OutboundBlocked):
            outbound_request("GET", url)


@pytest.mark.parametrize(
    ("entry", "host", "port", "allowed"),
    [
        ("onprem.corp:8443", "onprem.corp", 8443, True),
        ("onprem.corp:8443", "onprem.corp", 443, False),
        ("*.corp:8080", "crm.corp", 8080, True),
        ("*.corp:8080", "crm.corp", 80, False),
        ("[::1]:8765", "::1", 8765, True),
        ("[::1]:8765", "::1", 8766, False),
        ("::1", "::1", 1234, True),
        ("ONPREM.corp.", "onprem.corp", 80, True),
    ],
)
def test_allowlist_entries_with_and_without_ports(settings, entry, host, port, allowed):
    settings.OUTBOUND_ALLOWLIST = [entry]

    assert host_in_allowlist(host, port) is allowed


class _CookieHandler(BaseHTTPRequestHandler):
    """Sets a cookie on every answer and says which cookie it was sent; keeps connections alive."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.client_ports.add(self.client_address[1])
        body = (self.headers.get("Cookie") or "none").encode()
        self.send_response(200)
        self.send_header("Set-Cookie", "session=victim-session; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def cookie_server(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookieHandler)
    server.client_ports = set()
    # shutdown() waits for serve_forever's next poll: every 0.5 s by default.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    yield server
    server.shutdown()
    server.server_close()


def test_a_thread_reuses_its_session_and_connections_but_never_cookies(cookie_server):
    origin = f"http://127.0.0.1:{cookie_server.server_address[1]}"
    first = outbound_request("GET", f"{origin}/a")
    second = outbound_request("GET", f"{origin}/b")

    assert first.content == second.content == b"none"  # the cookie set by the first never went back
    assert len(cookie_server.client_ports) == 1  # one connection, kept alive for the second call


def test_each_thread_has_its_own_session():
    sessions = []
    thread = threading.Thread(target=lambda: sessions.append(_session()))
    thread.start()
    thread.join()
    assert sessions[0] is not _session()
    assert _session() is _session()


def test_environment_proxies_and_netrc_credentials_are_never_used(
    allow_local_provider, provider_server, monkeypatch, tmp_path
):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login intruder password from-the-environment\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens: a request through it fails
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    response = outbound_request("GET", f"{provider_server.origin}/echo")

    assert response.status_code == 200  # reached directly, not through the proxy
    assert "authorization" not in response.json()["headers"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"a": "1", "b": "x y&z", "é": "ü"},
        [("a", "1"), ("a", "2"), ("b", "")],
        {"list": ["1", "2"], "none": None, "some": [None, "x"], "number": 5, "bytes": b"\xff"},
        [("t", True), ("f", 1.5)],
    ],
)
def test_query_parameters_are_encoded_as_requests_encodes_them(params):
    assert _encoded_params(params) == requests.PreparedRequest._encode_params(params)
