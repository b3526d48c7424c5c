"""API keys are proved once and then trusted briefly from the cache; revoking or deleting one
ends that at once."""

import pytest

from accounts.api_keys import api_key_create, api_key_revoke
from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(db):
    return api_key_create(name="host product")


def test_a_proven_key_costs_no_query(key, client, django_assert_num_queries):
    _, raw = key
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client.get("/api/users", **headers)

    with django_assert_num_queries(1):  # the users, not the key
        assert client.get("/api/users", **headers).status_code == 200
    assert ApiKey.objects.get().last_used_at is not None


def test_a_revoked_key_is_refused_at_once(key, client):
    api_key, raw = key
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/users", **headers).status_code == 200

    api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))

    response = client.get("/api/users", **headers)
    assert response.status_code == 401
    assert response.json()["message"] == "Authentication failed"


def test_a_key_deleted_or_revoked_in_the_admin_is_refused_at_once(key, client, admin_client):
    api_key, raw = key
    other, other_raw = api_key_create(name="second")
    for token in (raw, other_raw):
        assert client.get("/api/users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_selected", "_selected_action": [api_key.pk]},
    )
    admin_client.post(f"/admin/accounts/apikey/{other.pk}/delete/", {"post": "yes"})

    assert not ApiKey.objects.filter(pk=other.pk).exists()
    for token in (raw, other_raw):
        assert client.get("/api/users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_a_wrong_secret_with_a_real_prefix_is_refused(key, client):
    _, raw = key
    assert client.get("/api/users", HTTP_AUTHORIZATION=f"Bearer {raw[:-2]}xx").status_code == 401
