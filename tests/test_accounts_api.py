import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db


def signup(api, **fields):
    body = {"username": "hong", "password": "meme-lover-2026", "nickname": "홍길동", **fields}
    return api.post("/api/auth/signup/", body, format="json")


def test_signup_then_token_then_me(api):
    created = signup(api)
    assert created.status_code == 201, created.data
    assert created.data["nickname"] == "홍길동"
    assert "password" not in created.data

    token = api.post(
        "/api/auth/token/", {"username": "hong", "password": "meme-lover-2026"}, format="json"
    )
    assert token.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.data['access']}")
    me = api.get("/api/me/")
    assert me.status_code == 200
    assert me.data["username"] == "hong"

    refreshed = api.post(
        "/api/auth/token/refresh/", {"refresh": token.data["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200 and refreshed.data["access"]


def test_duplicate_username_is_400_with_a_field_message(api):
    assert signup(api).status_code == 201
    again = signup(api, username="HONG")
    assert again.status_code == 400
    assert "username" in again.data
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": "has space"}, "username"),
        ({"password": "123"}, "password"),
        ({"password": "password"}, "password"),
        ({"nickname": "x" * 31}, "nickname"),
        ({"profile_path": "javascript:alert(1)"}, "profile_path"),
        ({"username": "ho\x00ng"}, "username"),
        ({"username": "ho\x1bng"}, "username"),
        ({"nickname": "홍\x00길동"}, "nickname"),
        ({"nickname": "홍\x85길동"}, "nickname"),
        ({"nickname": "홍\n길동"}, "nickname"),
        ({"profile_message": "a\x00b"}, "profile_message"),
        ({"profile_path": "https://x.test/\x00.png"}, "profile_path"),
    ],
)
def test_invalid_signup_is_400_and_creates_nobody(api, fields, field):
    response = signup(api, **fields)
    assert response.status_code == 400
    assert field in response.data
    assert not User.objects.exists()


def test_malformed_json_is_400(api):
    response = api.post("/api/auth/signup/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.data["detail"]


def test_bad_credentials_and_bad_tokens_are_401(api):
    signup(api)
    wrong = api.post("/api/auth/token/", {"username": "hong", "password": "nope"}, format="json")
    assert wrong.status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api.get("/api/me/").status_code == 401
    api.credentials()
    assert api.get("/api/me/").status_code == 401
    assert api.post("/api/auth/token/refresh/", {"refresh": "x"}, format="json").status_code == 401
