"""The test OAuth 2.0 provider (tests/oauth_provider/), over real HTTP to its own process."""

import base64
import hashlib
import re
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

from tests.oauth_provider import PASSWORD, USER, USERNAME
from tests.test_celery_worker import wait_for

CALLBACK = "http://127.0.0.1:9/oauth/callback"
SECRET = "app-secret-4Rf7"


@pytest.fixture
def client_id(oauth_provider) -> str:
    client_id = f"app-{uuid.uuid4().hex[:8]}"
    oauth_provider.register_client(client_id, SECRET, [CALLBACK], scopes=["read", "write", "admin"])
    return client_id


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(idp, client_id: str, *, challenge: str | None, change: dict | None = None) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "read write",
        "state": "state-123",
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return idp.authorize_url + "?" + urlencode(params | (change or {}))


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def exchange(idp, client_id: str, code: str, verifier: str | None) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    if verifier:
        data["code_verifier"] = verifier
    return requests.post(idp.token_url, data=data, auth=(client_id, SECRET), timeout=10)


def refresh(idp, client_id: str, refresh_token: str) -> requests.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return requests.post(idp.token_url, data=data, auth=(client_id, SECRET), timeout=10)


def userinfo(idp, access_token: str) -> requests.Response:
    return requests.get(idp.userinfo_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def grant(idp, client_id: str) -> dict:
    """Tokens from a complete code flow with PKCE."""
    verifier, challenge = pkce_pair()
    code = query(idp.approve(authorization_url(idp, client_id, challenge=challenge)))["code"]
    response = exchange(idp, client_id, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def test_code_flow_with_pkce_through_sign_in_and_consent_pages(oauth_provider, client_id):
    idp = oauth_provider
    verifier, challenge = pkce_pair()
    browser = requests.Session()

    to_login = browser.get(authorization_url(idp, client_id, challenge=challenge), allow_redirects=False)
    assert to_login.status_code == 302
    login = browser.get(urljoin(idp.origin, to_login.headers["Location"]))
    assert 'name="username"' in login.text and 'name="password"' in login.text and "Sign in" in login.text
    assert not re.search(r"(src|href)=", login.text), "pages must load nothing"
    next_url = unescape(re.search(r'name="next" value="([^"]*)"', login.text).group(1))
    wrong = browser.post(
        idp.origin + "/login", data={"username": USERNAME, "password": "x", "next": next_url}
    )
    assert "Incorrect username or password" in wrong.text

    consent = browser.post(
        idp.origin + "/login", data={"username": USERNAME, "password": PASSWORD, "next": next_url}
    )
    assert re.search(r'<ul id="scopes"><li>read</li><li>write</li></ul>', consent.text)
    assert 'id="approve"' in consent.text and 'id="deny"' in consent.text
    csrf = re.search(r'name="csrf" value="([^"]*)"', consent.text).group(1)
    action = unescape(re.search(r'action="([^"]*)"', consent.text).group(1))
    forged = browser.post(urljoin(idp.origin, action), data={"csrf": "forged", "decision": "approve"})
    assert forged.status_code == 403
    approved = browser.post(
        urljoin(idp.origin, action), data={"csrf": csrf, "decision": "approve"}, allow_redirects=False
    )

    location = approved.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    assert query(location)["state"] == "state-123"
    response = exchange(idp, client_id, query(location)["code"], verifier)
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["scope"] == "read write"
    assert token["access_token"] and token["refresh_token"]
    assert userinfo(idp, token["access_token"]).json() == USER
    assert userinfo(idp, "not-a-token").status_code == 401
    assert idp.stats()["token_requests"] == {"authorization_code": 1}


def test_deny_redirects_with_access_denied_and_state(oauth_provider, client_id):
    _, challenge = pkce_pair()
    location = oauth_provider.approve(
        authorization_url(oauth_provider, client_id, challenge=challenge), decision="deny"
    )
    assert location.startswith(CALLBACK)
    assert query(location)["error"] == "access_denied"
    assert query(location)["state"] == "state-123"
    assert "code" not in query(location)


@pytest.mark.parametrize(
    "change",
    [{"client_id": "nobody"}, {"redirect_uri": "http://127.0.0.1:9/elsewhere"}],
)
def test_unknown_client_or_redirect_uri_shows_an_error_page_instead_of_redirecting(
    oauth_provider, client_id, change
):
    _, challenge = pkce_pair()
    response = requests.get(authorization_url(oauth_provider, client_id, challenge=challenge, change=change))
    assert response.status_code == 400
    assert "Authorization failed" in response.text


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "read delete"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ],
)
def test_bad_requests_redirect_back_with_the_error(oauth_provider, client_id, change, error):
    _, challenge = pkce_pair()
    response = requests.get(
        authorization_url(oauth_provider, client_id, challenge=challenge, change=change),
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert query(response.headers["Location"])["error"] == error
    assert query(response.headers["Location"])["state"] == "state-123"


def test_pkce_client_must_send_a_challenge(oauth_provider, client_id):
    location = oauth_provider.approve(authorization_url(oauth_provider, client_id, challenge=None))
    assert query(location)["error"] == "invalid_request"


@pytest.mark.parametrize("verifier", [None, "wrong-" + "v" * 50])
def test_missing_or_wrong_code_verifier_is_invalid_grant(oauth_provider, client_id, verifier):
    _, challenge = pkce_pair()
    code = query(oauth_provider.approve(authorization_url(oauth_provider, client_id, challenge=challenge)))[
        "code"
    ]
    response = exchange(oauth_provider, client_id, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert oauth_provider.stats()["pkce_failures"] == 1


def test_client_without_pkce_exchanges_a_code_without_verifier(oauth_provider):
    oauth_provider.register_client("plain-app", SECRET, [CALLBACK], require_pkce=False)
    code = query(oauth_provider.approve(authorization_url(oauth_provider, "plain-app", challenge=None)))[
        "code"
    ]
    assert exchange(oauth_provider, "plain-app", code, None).status_code == 200


def test_a_code_is_single_use_and_its_replay_revokes_the_tokens(oauth_provider, client_id):
    verifier, challenge = pkce_pair()
    code = query(oauth_provider.approve(authorization_url(oauth_provider, client_id, challenge=challenge)))[
        "code"
    ]
    token = exchange(oauth_provider, client_id, code, verifier).json()

    replay = exchange(oauth_provider, client_id, code, verifier)
    assert replay.json()["error"] == "invalid_grant"
    assert userinfo(oauth_provider, token["access_token"]).status_code == 401
    assert refresh(oauth_provider, client_id, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_an_expired_code_is_invalid_grant(oauth_provider, client_id):
    oauth_provider.configure(code_ttl=0)
    verifier, challenge = pkce_pair()
    code = query(oauth_provider.approve(authorization_url(oauth_provider, client_id, challenge=challenge)))[
        "code"
    ]
    assert exchange(oauth_provider, client_id, code, verifier).json()["error"] == "invalid_grant"


def test_client_authenticates_the_way_it_was_registered(oauth_provider):
    oauth_provider.register_client("post-app", SECRET, [CALLBACK], token_auth="client_secret_post")
    tokens = oauth_provider.issue_tokens("post-app", "read")
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    basic = requests.post(oauth_provider.token_url, data=data, auth=("post-app", SECRET))
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    wrong = requests.post(
        oauth_provider.token_url, data=data | {"client_id": "post-app", "client_secret": "x"}
    )
    assert wrong.json()["error"] == "invalid_client"
    body = requests.post(
        oauth_provider.token_url, data=data | {"client_id": "post-app", "client_secret": SECRET}
    )
    assert body.status_code == 200, body.text


def test_refresh_without_rotation_keeps_the_refresh_token(oauth_provider, client_id):
    token = grant(oauth_provider, client_id)
    for _ in range(2):
        response = refresh(oauth_provider, client_id, token["refresh_token"])
        assert response.status_code == 200
        assert "refresh_token" not in response.json()
        assert userinfo(oauth_provider, response.json()["access_token"]).status_code == 200
    stats = oauth_provider.stats()
    assert stats["refreshes"] == {token["refresh_token"]: 2}
    assert stats["token_requests"] == {"authorization_code": 1, "refresh_token": 2}


def test_rotation_issues_a_new_refresh_token_and_kills_the_old(oauth_provider, client_id):
    oauth_provider.configure(rotate_refresh_tokens=True)
    token = grant(oauth_provider, client_id)
    rotated = refresh(oauth_provider, client_id, token["refresh_token"]).json()
    assert rotated["refresh_token"] not in ("", None, token["refresh_token"])

    old = refresh(oauth_provider, client_id, token["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    assert refresh(oauth_provider, client_id, rotated["refresh_token"]).status_code == 200


def test_invalidate_grants_makes_every_refresh_invalid_grant(oauth_provider, client_id):
    token = grant(oauth_provider, client_id)
    oauth_provider.invalidate_grants()
    response = refresh(oauth_provider, client_id, token["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert userinfo(oauth_provider, token["access_token"]).status_code == 401
    assert refresh(oauth_provider, client_id, grant(oauth_provider, client_id)["refresh_token"]).ok


def test_revoking_a_refresh_token_revokes_its_access_tokens(oauth_provider, client_id):
    token = grant(oauth_provider, client_id)
    data = {"token": token["refresh_token"], "token_type_hint": "refresh_token"}
    assert requests.post(oauth_provider.revocation_url, data=data, auth=(client_id, "x")).status_code == 401

    assert (
        requests.post(oauth_provider.revocation_url, data=data, auth=(client_id, SECRET)).status_code == 200
    )
    assert refresh(oauth_provider, client_id, token["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(oauth_provider, token["access_token"]).status_code == 401
    unknown = requests.post(
        oauth_provider.revocation_url, data={"token": "unknown"}, auth=(client_id, SECRET)
    )
    assert unknown.status_code == 200
    stats = oauth_provider.stats()
    assert stats["revocation_requests"] == 3
    assert stats["revoked"] == [{"token": token["refresh_token"], "token_type": "refresh_token"}]


def test_revoking_an_access_token_leaves_the_refresh_token(oauth_provider, client_id):
    token = grant(oauth_provider, client_id)
    requests.post(
        oauth_provider.revocation_url, data={"token": token["access_token"]}, auth=(client_id, SECRET)
    )
    assert userinfo(oauth_provider, token["access_token"]).status_code == 401
    assert refresh(oauth_provider, client_id, token["refresh_token"]).status_code == 200
    assert oauth_provider.stats()["revoked"] == [
        {"token": token["access_token"], "token_type": "access_token"}
    ]


def test_access_tokens_expire_after_the_configured_ttl(oauth_provider, client_id):
    oauth_provider.configure(access_token_ttl=1)
    token = grant(oauth_provider, client_id)
    assert token["expires_in"] == 1
    assert userinfo(oauth_provider, token["access_token"]).status_code == 200
    assert wait_for(lambda: userinfo(oauth_provider, token["access_token"]).status_code == 401, timeout=10)
    expired = userinfo(oauth_provider, token["access_token"])
    assert expired.status_code == 401 and "invalid_token" in expired.headers["WWW-Authenticate"]
    oauth_provider.configure(access_token_ttl=0)
    assert oauth_provider.issue_tokens(client_id, "read")["expires_in"] == 0


def test_extra_fields_and_granted_scopes_shape_the_token_response(oauth_provider, client_id):
    oauth_provider.configure(extra_token_fields={"instance_url": "https://example.my.salesforce.com"})
    oauth_provider.configure(granted_scopes=["read"])
    token = grant(oauth_provider, client_id)
    assert token["instance_url"] == "https://example.my.salesforce.com"
    assert token["scope"] == "read"
    assert refresh(oauth_provider, client_id, token["refresh_token"]).json()["instance_url"]


def test_token_delay_applies_to_concurrent_requests_in_parallel(oauth_provider, client_id):
    refresh_tokens = [token["refresh_token"] for token in oauth_provider.issue_token_batch(client_id, 30)]
    oauth_provider.configure(token_delay_ms=300)
    started = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(lambda rt: refresh(oauth_provider, client_id, rt), refresh_tokens))
    elapsed = time.monotonic() - started
    assert all(response.status_code == 200 for response in responses)
    assert 0.3 <= elapsed < 2.0  # serialised, it would take 9 s
    assert oauth_provider.stats()["refreshes"] == dict.fromkeys(refresh_tokens, 1)


def test_token_endpoint_down_resets_the_connection_and_error_answers_500(oauth_provider, client_id):
    token = oauth_provider.issue_tokens(client_id, "read")
    oauth_provider.configure(token_endpoint="down")
    with pytest.raises(requests.ConnectionError):
        refresh(oauth_provider, client_id, token["refresh_token"])
    oauth_provider.configure(token_endpoint="error")
    assert refresh(oauth_provider, client_id, token["refresh_token"]).status_code == 500
    oauth_provider.configure(token_endpoint="up")
    assert refresh(oauth_provider, client_id, token["refresh_token"]).status_code == 200
    assert oauth_provider.stats()["refreshes"] == {token["refresh_token"]: 1}


def test_configure_rejects_unknown_options_and_reset_restores_defaults(oauth_provider, client_id):
    with pytest.raises(ValueError, match="unknown options"):
        oauth_provider.configure(token_delay=5)
    with pytest.raises(ValueError, match="token_endpoint"):
        oauth_provider.configure(token_endpoint="sideways")
    oauth_provider.configure(access_token_ttl=5, rotate_refresh_tokens=True)
    oauth_provider.issue_tokens(client_id)
    grant(oauth_provider, client_id)

    oauth_provider.reset()
    assert oauth_provider.configure()["access_token_ttl"] == 3600
    assert oauth_provider.stats()["token_requests"] == {}
