"""Where schemathesis found the schema and the behaviour disagreeing: now they agree."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/users?status=",
        "/api/integrations?status=",
        "/api/user-integrations/my-connections?status=&userId={user_id}",
        "/api/feature-handlers?kind=",
    ],
)
def test_an_empty_enum_filter_is_refused_as_the_schema_says(key_client, user, url):
    response = key_client.get(url.format(user_id=user.user_id))

    assert response.status_code == 400
    assert response.json()["success"] is False


def test_the_schema_says_userid_is_required_with_an_api_key_and_what_the_idempotency_key_may_be(anon_client):
    paths = anon_client.get("/api/schema/?format=json").json()["paths"]

    listing = {p["name"]: p for p in paths["/api/user-integrations/my-connections"]["get"]["parameters"]}
    assert listing["userId"]["required"] is True
    assert "signed-in end user may leave it out" in listing["userId"]["description"]
    connect = {p["name"]: p for p in paths["/api/user-integrations/connect"]["post"]["parameters"]}
    assert connect["Idempotency-Key"]["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "\\S",
    }
    assert "409" in paths["/api/users"]["post"]["responses"]


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_an_idempotency_key_outside_the_schemas_limits_is_refused(key_client, key):
    response = key_client.post("/api/user-integrations/connect", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
