"""Uploaded images where members see them: a room's image (created with one, changed by its
owner), the day's contest image (the admin uploads it, or schedules a day ahead), a profile
image, and the demo data (images drawn in code, nothing broken, nothing uploaded twice)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.templatetags.static import static

from accounts.models import User
from chat.models import ChatRoom
from comments.models import TitleHakwon
from comments.selectors import hakwon_today
from comments.services import hakwon_tick
from uploads.demo_images import demo_gif
from uploads.models import Upload
from uploads.services import upload_create

from .conftest import make_hakwon, make_room, make_user

pytestmark = pytest.mark.django_db

NOT_AN_IMAGE = b"<script>alert(1)</script>"


def gif_file(name: str = "cat", filename: str = "zzal.gif") -> SimpleUploadedFile:
    return SimpleUploadedFile(filename, demo_gif(name), content_type="image/gif")


def an_upload(owner=None) -> Upload:
    return upload_create(owner=owner or make_user(), file=gif_file())


def img_sources(html: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)


def assert_served(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, url
    assert b"".join(response.streaming_content)[:6] in (b"GIF89a", b"GIF87a")


# --- rooms ---------------------------------------------------------------------------------


def test_a_room_made_on_the_page_with_an_image_shows_it_in_the_list(client):
    owner = make_user()
    client.force_login(owner)
    response = client.post(
        "/rooms/new/", {"name": "고양이방", "tags": "고양이", "image": gif_file("cat")}
    )
    room = ChatRoom.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/rooms/{room.pk}/"
    assert room.image is not None and room.image.owner == owner and room.image.frames == 8
    assert room.image_url == "" and room.image_src == room.image.url

    listed = client.get("/").content.decode()
    assert room.image.url in img_sources(listed)
    assert_served(client, room.image.url)


def test_the_page_form_refuses_a_file_that_is_no_image_and_keeps_nothing(client):
    client.force_login(make_user())
    bad = SimpleUploadedFile("evil.gif", NOT_AN_IMAGE, content_type="image/gif")
    response = client.post("/rooms/new/", {"name": "방", "image": bad})
    assert response.status_code == 200
    assert "GIF, PNG, JPEG, WebP 이미지만" in response.content.decode()
    assert not ChatRoom.objects.exists() and not Upload.objects.exists()


def test_the_page_form_takes_a_file_or_an_address_not_both(client):
    client.force_login(make_user())
    response = client.post(
        "/rooms/new/",
        {"name": "방", "image": gif_file(), "image_url": "https://x.test/a.gif"},
    )
    assert response.status_code == 200
    assert "하나만 골라 주세요" in response.content.decode()
    assert not ChatRoom.objects.exists() and not Upload.objects.exists()


def test_the_api_makes_a_room_with_an_uploaded_image(member_api):
    upload = an_upload(owner=member_api.user)
    response = member_api.post(
        "/api/rooms/", {"name": "짤방", "image_id": str(upload.id)}, format="json"
    )
    assert response.status_code == 201, response.data
    assert response.data["image_url"] == upload.url
    assert response.data["image"]["id"] == str(upload.id)
    assert response.data["image"]["frames"] == upload.frames
    room = ChatRoom.objects.get()
    assert room.image == upload

    detail = member_api.get(f"/api/rooms/{room.pk}/").data
    assert detail["image_url"] == upload.url and detail["image"]["url"] == upload.url
    listed = member_api.get("/api/rooms/").data["results"]
    assert [(r["id"], r["image_url"]) for r in listed] == [(room.pk, upload.url)]


def test_a_room_without_an_upload_shows_its_address_or_nothing(member_api):
    with_url = member_api.post(
        "/api/rooms/", {"name": "주소방", "image_url": "https://x.test/a.gif"}, format="json"
    )
    plain = member_api.post("/api/rooms/", {"name": "빈방"}, format="json")
    assert (with_url.data["image_url"], with_url.data["image"]) == ("https://x.test/a.gif", None)
    assert (plain.data["image_url"], plain.data["image"]) == ("", None)


@pytest.mark.parametrize("image_id", [str(uuid.uuid4()), "not-a-uuid", 7])
def test_an_unknown_image_id_is_400_and_no_room_is_made(member_api, image_id):
    response = member_api.post("/api/rooms/", {"name": "짤방", "image_id": image_id}, format="json")
    assert response.status_code == 400
    assert "image_id" in response.data
    assert not ChatRoom.objects.exists()


def test_the_api_takes_an_upload_or_an_address_not_both(member_api):
    upload = an_upload(owner=member_api.user)
    response = member_api.post(
        "/api/rooms/",
        {"name": "짤방", "image_id": str(upload.id), "image_url": "https://x.test/a.gif"},
        format="json",
    )
    assert response.status_code == 400
    assert not ChatRoom.objects.exists()


def test_the_owner_changes_the_image_and_can_remove_it(client):
    owner = make_user()
    room = make_room(owner=owner)
    ChatRoom.objects.filter(pk=room.pk).update(image_url="http://gone.invalid/old.gif")
    client.force_login(owner)
    page = client.get(f"/rooms/{room.pk}/edit/")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.content.decode()
    assert f'href="/rooms/{room.pk}/edit/"' in client.get("/").content.decode()  # the way there

    response = client.post(f"/rooms/{room.pk}/edit/", {"image": gif_file("stars")})
    assert response.status_code == 302 and response["Location"] == f"/rooms/{room.pk}/"
    room.refresh_from_db()
    assert room.image.owner == owner and room.image_url == ""
    assert room.image.url in img_sources(client.get("/").content.decode())

    assert client.post(f"/rooms/{room.pk}/edit/", {"remove": "on"}).status_code == 302
    room.refresh_from_db()
    assert room.image is None and room.image_src == ""

    nothing = client.post(f"/rooms/{room.pk}/edit/", {})
    assert nothing.status_code == 200 and "새 이미지를 고르거나" in nothing.content.decode()
    bad = SimpleUploadedFile("x.gif", NOT_AN_IMAGE, content_type="image/gif")
    refused = client.post(f"/rooms/{room.pk}/edit/", {"image": bad})
    assert refused.status_code == 200 and "이미지만" in refused.content.decode()


def test_only_the_owner_and_staff_change_a_rooms_image(client):
    owner = make_user()
    room = make_room(owner=owner)
    url = f"/rooms/{room.pk}/edit/"

    client.force_login(make_user())  # a member, not the owner
    assert client.get(url).status_code == 403
    assert client.post(url, {"image": gif_file()}).status_code == 403
    assert f'href="{url}"' not in client.get("/").content.decode()
    client.logout()
    assert client.post(url, {"image": gif_file()}).status_code == 302  # to the login page
    room.refresh_from_db()
    assert room.image is None and not Upload.objects.exists()  # nothing stored for them

    client.force_login(make_user())
    assert client.get("/rooms/424242/edit/").status_code == 404

    staff = make_user(staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_chatroom"))
    client.force_login(User.objects.get(pk=staff.pk))
    assert client.post(url, {"image": gif_file()}).status_code == 302
    room.refresh_from_db()
    assert room.image.owner == staff


# --- the contest -----------------------------------------------------------------------------


def admin_form(**fields) -> dict:
    awards = {f"awards-{n}_FORMS": "0" for n in ("TOTAL", "INITIAL", "MIN_NUM", "MAX_NUM")}
    return {"open_date": hakwon_today().isoformat(), "image_url": "", **awards, **fields}


def test_the_admin_uploads_a_day_ahead_and_the_scheduler_opens_it_as_is(admin_client):
    day = hakwon_today() + timedelta(days=2)
    response = admin_client.post(
        "/admin/comments/titlehakwon/add/",
        admin_form(open_date=day.isoformat(), image_file=gif_file("blob")),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    hakwon = TitleHakwon.objects.get()
    assert (hakwon.open_date, hakwon.state) == (day, "NOT_OPEN")
    assert hakwon.image.owner.is_superuser and hakwon.image_url == ""
    upload = hakwon.image
    # Scheduled days stay hidden until the scheduler opens them (the image would be a spoiler).
    assert admin_client.get(f"/hakwon/{hakwon.pk}/").status_code == 404

    hakwon_tick(today=day)
    hakwon.refresh_from_db()
    assert hakwon.state == "PROCEED" and hakwon.image == upload  # the tick kept what was set
    assert TitleHakwon.objects.count() == 1

    page = admin_client.get(f"/hakwon/{hakwon.pk}/").content.decode()
    assert upload.url in img_sources(page)
    change = admin_client.get(f"/admin/comments/titlehakwon/{hakwon.pk}/change/").content
    assert upload.thumb_url in change.decode() and b'enctype="multipart/form-data"' in change


def test_the_admin_replaces_and_removes_a_days_image(admin_client):
    hakwon = make_hakwon(open_date=hakwon_today(), image_url="")
    url = f"/admin/comments/titlehakwon/{hakwon.pk}/change/"
    assert admin_client.post(url, admin_form(image_file=gif_file("cat"))).status_code == 302
    hakwon.refresh_from_db()
    first = hakwon.image
    assert first is not None
    assert admin_client.post(url, admin_form(image_file=gif_file("stars"))).status_code == 302
    hakwon.refresh_from_db()
    assert hakwon.image not in (None, first)
    assert admin_client.post(url, admin_form()).status_code == 302  # no file: kept
    hakwon.refresh_from_db()
    assert hakwon.image is not None
    assert admin_client.post(url, admin_form(remove_image="on")).status_code == 302
    hakwon.refresh_from_db()
    assert hakwon.image is None


def test_the_admin_is_told_when_a_file_is_no_image(admin_client):
    bad = SimpleUploadedFile("x.gif", NOT_AN_IMAGE, content_type="image/gif")
    response = admin_client.post("/admin/comments/titlehakwon/add/", admin_form(image_file=bad))
    assert response.status_code == 200
    assert "이미지만 올릴 수 있어요" in response.content.decode()
    assert not TitleHakwon.objects.exists() and not Upload.objects.exists()


def test_a_day_the_scheduler_makes_shows_the_shipped_image(client, settings):
    settings.HAKWON_DEFAULT_IMAGE_URL = ""  # the default: no network needed
    hakwon_tick()
    hakwon = TitleHakwon.objects.get()
    assert hakwon.image is None and hakwon.image_url == ""
    sources = img_sources(client.get("/hakwon/").content.decode())
    assert sources == [static("img/hakwon-default.gif")]
    assert client.get(sources[0]).status_code == 200


def test_a_configured_default_address_is_still_used(client, settings):
    settings.HAKWON_DEFAULT_IMAGE_URL = "https://img.test/default.jpg"
    hakwon_tick()
    assert TitleHakwon.objects.get().image_url == "https://img.test/default.jpg"
    assert img_sources(client.get("/hakwon/").content.decode()) == ["https://img.test/default.jpg"]


# --- profiles --------------------------------------------------------------------------------


def profile(user, **fields) -> dict:
    return {"nickname": user.nickname, "profile_path": "", "profile_message": "", **fields}


def test_a_member_uploads_a_profile_image(client):
    member = make_user(profile_path="http://gone.invalid/me.png")
    client.force_login(member)
    form = client.get("/accounts/profile/").content.decode()
    assert 'enctype="multipart/form-data"' in form and 'type="file"' in form

    response = client.post(
        "/accounts/profile/",
        profile(member, profile_path=member.profile_path, avatar=gif_file("heart")),
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.avatar.owner == member
    page = client.get(f"/members/{member.username}/").content.decode()
    assert member.avatar.url in img_sources(page)
    assert member.profile_path not in img_sources(page)  # the upload is shown instead
    assert_served(client, member.avatar.url)

    client.post("/accounts/profile/", profile(member, avatar_remove="on"))
    member.refresh_from_db()
    assert member.avatar is None
    page = client.get(f"/members/{member.username}/").content.decode()
    assert img_sources(page) == [] and "avatar--empty" in page  # the placeholder


def test_a_refused_profile_image_changes_nothing(client):
    member = make_user(nickname="원래")
    client.force_login(member)
    bad = SimpleUploadedFile("x.gif", NOT_AN_IMAGE, content_type="image/gif")
    response = client.post("/accounts/profile/", profile(member, nickname="바뀐", avatar=bad))
    assert response.status_code == 200 and "이미지만 올릴 수 있어요" in response.content.decode()
    member.refresh_from_db()
    assert (member.nickname, member.avatar) == ("원래", None)
    assert not Upload.objects.exists()


# --- the demo --------------------------------------------------------------------------------


def test_demo_data_twice_leaves_images_that_load_and_uploads_nothing_twice(client, settings):
    settings.HAKWON_DEFAULT_IMAGE_URL = ""
    call_command("demo_data", stdout=StringIO())
    first = set(Upload.objects.values_list("pk", flat=True))
    call_command("demo_data", stdout=StringIO())
    assert set(Upload.objects.values_list("pk", flat=True)) == first

    rooms = list(ChatRoom.objects.select_related("image"))
    today = TitleHakwon.objects.get(open_date=hakwon_today())
    demo = User.objects.get(username="demo")
    used = {room.image_id for room in rooms} | {today.image_id, demo.avatar_id}
    assert None not in used and used == first  # every upload used, each once
    for upload in Upload.objects.all():  # no reference to a missing file
        assert default_storage.exists(upload.file.name)
        assert default_storage.exists(upload.thumb.name)
        assert upload.frames > 1 and upload.content_type == "image/gif"

    client.force_login(demo)
    pages = ["/", f"/rooms/{rooms[0].pk}/", "/hakwon/", "/members/demo/", "/accounts/profile/"]
    for path in pages:
        for src in img_sources(client.get(path).content.decode()):
            assert src.startswith("/"), f"{path} links an image elsewhere: {src}"
            assert client.get(src).status_code == 200, f"{path}: {src}"


def test_demo_data_gives_an_older_demo_room_its_image_and_leaves_others_alone():
    call_command("demo_data", stdout=StringIO())
    demo = User.objects.get(username="demo")
    cats = ChatRoom.objects.get(name="고독한 고양이방")
    ChatRoom.objects.filter(pk=cats.pk).update(image=None)  # as made before images
    someone = make_user()
    ChatRoom.objects.filter(name="개발자 짤방").update(owner=someone, image=None)
    call_command("demo_data", stdout=StringIO())
    cats.refresh_from_db()
    assert cats.image is not None and cats.image.owner == demo
    assert ChatRoom.objects.get(name="개발자 짤방").image is None  # not demo's: untouched
