"""Forms that forgive and one voice: every error at once, next to its field, input kept except
passwords; Django's and DRF's own messages in the site's "~요"; a profile worth opening (rooms,
captions with their likes, awards) in a fixed number of queries."""

from __future__ import annotations

import gettext
import re
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.test.html import Element, parse_html
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from chat.models import RoomMember
from comments.models import AwardRecord, Comment
from zzalu.errors import InvalidInput

from .conftest import make_comment, make_hakwon, make_room, make_user, small_gif

pytestmark = pytest.mark.django_db

# The formal endings the site does not use ("~습니다", "~입니다", "~십시오").
FORMAL = re.compile(r"니다|십시오")


# --- reading pages --------------------------------------------------------------------------


def page(response) -> Element:
    return parse_html(response.content.decode())


def walk(node):
    if isinstance(node, Element):
        yield node
        for child in node.children:
            yield from walk(child)


def text(node) -> str:
    if isinstance(node, str):
        return node
    return " ".join(text(child) for child in node.children)


def attrs(node: Element) -> dict:
    return dict(node.attributes)


def classes(node: Element) -> set[str]:
    return set((attrs(node).get("class") or "").split())


def control(root: Element, name: str) -> Element:
    found = [
        n for n in walk(root) if n.name in ("input", "textarea") and attrs(n).get("name") == name
    ]
    assert len(found) == 1, f"no single control named {name}"
    return found[0]


def field_errors(root: Element, name: str) -> list[str]:
    """The errors shown in the [data-field] box of the field named ``name``."""
    for box in walk(root):
        if "field" in classes(box) and any(
            attrs(n).get("name") == name for n in walk(box) if n.name in ("input", "textarea")
        ):
            return [text(p) for p in walk(box) if "field__error" in classes(p)]
    raise AssertionError(f"no field {name}")


def no_formal_voice(response, where: str) -> str:
    html = response.content.decode()
    assert not FORMAL.search(html), f"{where}: {FORMAL.findall(html)} in {html}"
    return html


# --- sign-up: every error at once, next to its field ----------------------------------------


def test_a_short_password_and_a_different_confirmation_show_both_errors_next_to_their_fields(
    client,
):
    response = client.post(
        "/accounts/signup/",
        {"username": "newbie", "nickname": "새내기", "password1": "short", "password2": "other"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="newbie").exists()
    root = page(response)
    min_length = password_validation.MinimumLengthValidator().min_length
    assert field_errors(root, "password1") == [
        f"비밀번호가 너무 짧아요. {min_length}자 이상으로 정해 주세요."
    ]
    assert field_errors(root, "password2") == ["두 비밀번호가 달라요."]
    assert field_errors(root, "username") == field_errors(root, "nickname") == []
    # Input kept, except the passwords.
    assert attrs(control(root, "username"))["value"] == "newbie"
    assert attrs(control(root, "nickname"))["value"] == "새내기"
    for name in ("password1", "password2"):
        password = attrs(control(root, name))
        assert "value" not in password
        assert password["aria-invalid"] == "true"
        assert f"id_{name}_error" in password["aria-describedby"].split()
    # The error box the input names is the one holding its message.
    boxes = {
        attrs(n).get("id"): text(n) for n in walk(root) if attrs(n).get("id", "").endswith("_error")
    }
    assert "두 비밀번호가 달라요." in boxes["id_password2_error"]
    # The summary at the top links to both fields.
    links = [attrs(n)["href"] for n in walk(root) if "data-error-link" in attrs(n)]
    assert links == ["#id_password1", "#id_password2"]
    no_formal_voice(response, "sign-up")


def test_every_password_rule_that_fails_is_shown_at_once_in_the_sites_voice(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "12345", "password1": "12345", "password2": "12345"},
    )
    errors = field_errors(page(response), "password1")
    assert len(errors) >= 3, errors  # short, similar to the username, common, all digits
    assert "비밀번호가 숫자로만 되어 있어요. 글자나 기호를 섞어 주세요." in errors
    assert "비밀번호가 아이디와 너무 비슷해요." in errors
    no_formal_voice(response, "password rules")


def test_the_password_rules_are_mirrored_on_the_inputs_for_the_browser(client):
    root = page(client.get("/accounts/signup/"))
    rule = password_validation.MinimumLengthValidator()
    password = attrs(control(root, "password1"))
    assert password["minlength"] == str(rule.min_length)
    assert password["data-error-too-short"] == rule.get_error_message()
    assert password["pattern"] == r".*\D.*"
    assert password["data-error-pattern"] == (
        password_validation.NumericPasswordValidator().get_error_message()
    )
    again = attrs(control(root, "password2"))
    assert again["data-same-as"] == "password1"
    assert again["data-error-mismatch"] == "두 비밀번호가 달라요."
    required = [
        attrs(n)["data-error-required"] for n in walk(root) if "data-error-required" in attrs(n)
    ]
    assert required == ["꼭 입력해 주세요."] * 3  # username and both passwords


def test_a_name_taken_between_the_check_and_the_save_is_a_field_error_not_a_500(client):
    taken = InvalidInput("This username is already taken.", field="username")
    with mock.patch("accounts.views.user_create", side_effect=taken):
        response = client.post(
            "/accounts/signup/",
            {
                "username": "racer",
                "password1": "a-long-enough-pw-9",
                "password2": "a-long-enough-pw-9",
            },
        )
    assert response.status_code == 200
    assert field_errors(page(response), "username") == ["이미 쓰이고 있는 아이디예요."]


# --- one voice on every form page with errors ------------------------------------------------


def test_no_form_page_with_errors_speaks_in_the_formal_voice(client):
    make_user(username="taken")
    signups = [
        {},
        {"username": "bad name!", "nickname": "닉" * 40, "password1": "password", "password2": ""},
        {"username": "taken", "password1": "taken123", "password2": "taken123"},
    ]
    for data in signups:
        response = client.post("/accounts/signup/", data)
        assert response.status_code == 200
        html = no_formal_voice(response, f"sign-up {data}")
        assert "field__error" in html

    response = client.post("/accounts/login/", {"username": "taken", "password": "wrong"})
    html = no_formal_voice(response, "login")
    assert "아이디나 비밀번호가 맞지 않아요." in html
    assert no_formal_voice(client.post("/accounts/login/", {}), "empty login")

    owner = make_user()
    client.force_login(owner)
    profile_posts = [
        {"nickname": ""},
        {"nickname": "ok", "profile_path": "javascript:alert(1)", "profile_message": "말" * 300},
        {
            "nickname": "ok",
            "avatar": SimpleUploadedFile("a.gif", b"not an image", content_type="image/gif"),
        },
    ]
    for data in profile_posts:
        response = client.post("/accounts/profile/", data)
        assert response.status_code == 200
        assert "field__error" in no_formal_voice(response, f"profile {data}")

    for data in ({}, {"name": "방", "image_url": "ftp://x"}, {"name": "방" * 80}):
        response = client.post("/rooms/new/", data)
        assert response.status_code == 200
        assert "field__error" in no_formal_voice(response, f"room {data}")
    room = make_room(owner=owner)
    response = client.post(f"/rooms/{room.pk}/edit/", {})
    assert "field__error" in no_formal_voice(response, "room image")


def test_a_file_chosen_in_a_form_sent_back_for_another_field_asks_to_be_chosen_again(client):
    client.force_login(make_user())
    avatar = SimpleUploadedFile("cat.gif", small_gif(), content_type="image/gif")
    response = client.post("/accounts/profile/", {"nickname": "", "avatar": avatar})
    assert field_errors(page(response), "nickname") == ["꼭 입력해 주세요."]
    assert "고른 파일은 다시 골라 주세요." in response.content.decode()


@override_settings(DEBUG=False)
def test_the_error_pages_speak_the_sites_voice(client):
    owner, other = make_user(), make_user()
    room = make_room(owner=owner)
    missing = client.get("/members/nobody-here/")
    assert missing.status_code == 404
    assert "찾을 수 없어요" in no_formal_voice(missing, "404")

    client.force_login(other)
    forbidden = client.get(f"/rooms/{room.pk}/edit/")
    assert forbidden.status_code == 403
    assert "볼 수 없는 페이지예요" in no_formal_voice(forbidden, "403")

    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/accounts/login/", {"username": "x", "password": "y"})
    assert refused.status_code == 403
    assert "보낸 내용을 확인하지 못했어요" in no_formal_voice(refused, "CSRF")

    for name in ("400.html", "500.html"):
        html = render_to_string(name)
        assert not FORMAL.search(html) and "<h1>" in html, name


def test_djangos_and_drfs_messages_say_it_in_the_sites_voice():
    from django.contrib.auth.forms import AuthenticationForm
    from django.forms import CharField, ImageField, URLField
    from rest_framework.exceptions import NotAuthenticated, Throttled

    samples = [
        CharField().error_messages["required"],
        URLField(assume_scheme="https").error_messages["invalid"],
        ImageField().error_messages["invalid_image"],
        AuthenticationForm.error_messages["invalid_login"] % {"username": "아이디"},
        AuthenticationForm.error_messages["inactive"],
        password_validation.password_validators_help_text_html(),
        str(NotAuthenticated().detail),
        str(Throttled(wait=3).detail),
    ]
    for message in samples:
        assert not FORMAL.search(str(message)), message
    assert CharField().error_messages["required"] == "꼭 입력해 주세요."


def read_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file (plural entries keyed by the singular, like gettext)."""
    entries: dict[str, str] = {}
    current: dict[str, str] = {}
    key = None

    def flush():
        if current.get("msgid"):
            entries[current["msgid"]] = current.get("msgstr", current.get("msgstr[0]", ""))
        current.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            current[key] += (
                line[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
            )
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgid":
            flush()
        key = keyword
        current[key] = rest[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    flush()
    return entries


def test_the_compiled_catalog_is_the_one_the_po_file_says():
    folder = Path(settings.LOCALE_PATHS[0]) / "ko" / "LC_MESSAGES"
    wanted = read_po(folder / "django.po")
    with open(folder / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    assert len(wanted) > 100
    for msgid, msgstr in wanted.items():
        assert compiled.gettext(msgid) == msgstr, f"recompile the .mo: {msgid!r}"
        assert not FORMAL.search(msgstr), msgstr


# --- a profile worth opening ---------------------------------------------------------------


def profile_data(member, *, rooms: int, captions: int):
    """``rooms`` made and as many joined, ``captions`` captions (with likes) on two days."""
    for i in range(rooms):
        make_room(owner=member, name=f"{member.username}의 방 {i}")
        joined = make_room(name=f"남의 방 {member.username} {i}")
        RoomMember.objects.create(room=joined, user=member)
    days = [make_hakwon(), make_hakwon()]
    made = [
        make_comment(hakwon=days[i % 2], author=member, content=f"제목 {i}", likes=i)
        for i in range(captions)
    ]
    return days, made


def test_a_profile_shows_the_members_rooms_captions_with_likes_and_awards(client):
    member = make_user(nickname="짤장인")
    days, captions = profile_data(member, rooms=2, captions=3)
    banned = make_room(name="쫓겨난 방")
    RoomMember.objects.create(room=banned, user=member, banned_at="2024-01-01T00:00Z")
    deleted = make_comment(hakwon=days[0], author=member, content="지운 제목", likes=9)
    Comment.objects.filter(pk=deleted.pk).update(is_deleted=True)
    make_comment(hakwon=days[0], author=member, content="답글이에요", parent=captions[0])
    AwardRecord.objects.create(
        hakwon=days[0], user=member, comment=captions[2], rank=1, like_count=7
    )

    # The rooms a member joined (opening one joins it) are for their own eyes.
    public = page(client.get(f"/members/{member.username}/"))
    headings = {attrs(n)["id"] for n in walk(public) if n.name == "h2" and "id" in attrs(n)}
    assert headings == {"owned-rooms", "recent-captions", "awards"}
    client.force_login(member)
    response = client.get(f"/members/{member.username}/")
    html = no_formal_voice(response, "profile")
    root = page(response)
    sections = {attrs(n)["id"]: n for n in walk(root) if n.name == "h2" and "id" in attrs(n)}
    assert set(sections) == {"owned-rooms", "joined-rooms", "recent-captions", "awards"}
    for i in range(2):
        assert f"{member.username}의 방 {i}" in html
        assert f"남의 방 {member.username} {i}" in html
    assert "쫓겨난 방" not in html
    items = [text(n) for n in walk(root) if "caption-item" in classes(n)]
    assert [re.search(r"“(.+?)”", item).group(1) for item in items] == [
        "제목 2",
        "제목 1",
        "제목 0",
    ]
    assert "좋아요 2" in items[0] and "좋아요 0" in items[2]
    assert "지운 제목" not in html and "답글이에요" not in html
    hakwon_links = {attrs(n)["href"] for n in walk(root) if n.name == "a"}
    assert {f"/hakwon/{day.pk}/" for day in days} <= hakwon_links
    assert "1위" in html and "제목학원 수상 기록" in html
    assert "/accounts/profile/" in html and "프로필 수정" in html  # their own profile
    client.logout()
    assert "프로필 수정" not in client.get(f"/members/{member.username}/").content.decode()


def test_a_profile_costs_the_same_queries_however_much_the_member_did(client):
    small, big = make_user(), make_user()
    profile_data(small, rooms=1, captions=1)
    _, big_captions = profile_data(big, rooms=6, captions=12)
    for rank, caption in enumerate(big_captions[:3], start=1):
        AwardRecord.objects.create(
            hakwon=caption.hakwon, user=big, comment=caption, rank=rank, like_count=rank
        )
    viewer = make_user()
    client.force_login(viewer)
    counts = []
    for member in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/members/{member.username}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts


def test_room_form_says_tag_problems_in_korean(client):
    client.force_login(make_user())
    too_many = client.post(
        "/rooms/new/", {"name": "방", "tags": " ".join(f"t{i}" for i in range(11))}
    )
    assert "태그는 최대 10개까지 달 수 있어요." in no_formal_voice(too_many, "room form tags")
    too_long = client.post("/rooms/new/", {"name": "방", "tags": "가" * 40})
    html = no_formal_voice(too_long, "room form tag")
    assert "최대 30자까지 쓸 수 있어요" in html and "At most" not in html
