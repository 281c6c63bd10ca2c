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


# --- refresh tokens can be taken back -----------------------------------------------------------


def tokens(api, username="hong", password="meme-lover-2026") -> dict:
    response = api.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.data
    return response.data


def refresh(api, token: str):
    return api.post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def test_a_refresh_rotates_and_the_old_refresh_token_is_then_refused(api):
    signup(api)
    first = tokens(api)["refresh"]
    rotated = refresh(api, first)
    assert rotated.status_code == 200 and rotated.data["refresh"] != first
    again = refresh(api, first)
    assert again.status_code == 401 and again.data["code"] == "token_not_valid"
    assert refresh(api, rotated.data["refresh"]).status_code == 200


def test_api_logout_takes_back_every_refresh_token_of_the_member(api):
    signup(api)
    signup(api, username="other")
    phone, laptop, others = tokens(api)["refresh"], tokens(api)["refresh"], tokens(api, "other")
    assert api.post("/api/auth/logout/", {"refresh": phone}, format="json").status_code == 204
    assert refresh(api, phone).status_code == 401
    assert refresh(api, laptop).status_code == 401
    assert refresh(api, others["refresh"]).status_code == 200  # another member is untouched
    assert api.post("/api/auth/logout/", {"refresh": laptop}, format="json").status_code == 401
    assert api.post("/api/auth/logout/", {"refresh": "x"}, format="json").status_code == 401
    assert api.post("/api/auth/logout/", {}, format="json").status_code == 400
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/api/auth/logout/"]


@pytest.mark.parametrize("logout_path", ["/accounts/logout/", "/admin/logout/"])
def test_page_logout_takes_back_the_members_refresh_tokens(api, client, logout_path):
    signup(api)
    User.objects.filter(username="hong").update(is_staff=True)
    held = tokens(api)["refresh"]
    client.force_login(User.objects.get(username="hong"))
    assert client.post(logout_path).status_code in (200, 302)
    assert refresh(api, held).status_code == 401


def test_a_password_change_takes_back_the_members_refresh_tokens(api, client):
    from .conftest import make_user

    signup(api)
    held = tokens(api)["refresh"]
    member = User.objects.get(username="hong")
    client.force_login(make_user(staff=True, is_superuser=True))
    changed = client.post(
        f"/admin/accounts/user/{member.pk}/password/",
        {"password1": "new-meme-lover-2027", "password2": "new-meme-lover-2027"},
    )
    assert changed.status_code == 302
    assert refresh(api, held).status_code == 401
    assert refresh(api, tokens(api, password="new-meme-lover-2027")["refresh"]).status_code == 200


def test_a_deactivated_or_deleted_members_refresh_token_is_refused(api):
    signup(api)
    signup(api, username="gone")
    held, gone = tokens(api)["refresh"], tokens(api, "gone")["refresh"]
    User.objects.filter(username="hong").update(is_active=False)
    refused = refresh(api, held)
    assert refused.status_code == 401 and "No active account" in refused.data["detail"]
    User.objects.filter(username="gone").delete()
    assert refresh(api, gone).status_code == 401
