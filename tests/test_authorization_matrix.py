"""Who may do what: every admin action, API endpoint and socket write frame, for six roles.

Roles: anonymous, member (someone else), author (of the comment, room or message at stake),
view-only staff (every ``view_*`` permission, nothing else), moderator (staff with the change
and delete permissions of chat and comments) and superuser. The admin's actions declare the
permission they need and the services check the same one, so the services are tested here too:
a view-only staff member can neither see nor run a destructive action, by any way in.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from chat.models import ChatMessage, ChatRoom, Tag
from comments.models import Comment, TitleHakwon
from comments.services import HakwonClosed
from zzalu.errors import Forbidden

from .conftest import make_comment, make_hakwon, make_room, make_user

ROLES = ["anonymous", "member", "author", "viewer", "moderator", "superuser"]
STAFF = {"viewer", "moderator", "superuser"}
MODERATORS = {"moderator", "superuser"}
PASSWORD = "pw-for-tests-1234"  # conftest.make_user's
_addresses = itertools.count(1)


def make_viewer() -> User:
    user = make_user(staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def make_moderator() -> User:
    user = make_user(staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["chat", "comments"]).exclude(
            codename__startswith="add_"
        )
    )
    return user


def user_for(role: str, author: User) -> User | None:
    return {
        "anonymous": lambda: None,
        "member": make_user,
        "author": lambda: author,
        "viewer": make_viewer,
        "moderator": make_moderator,
        "superuser": lambda: make_user(staff=True, is_superuser=True),
    }[role]()


def make_message(*, room: ChatRoom, sender: User) -> ChatMessage:
    seq = ChatMessage.objects.filter(room=room).count() + 1
    return ChatMessage.objects.create(
        event_id=uuid.uuid4(),
        room=room,
        seq=seq,
        sender=sender,
        sender_username=sender.username,
        sender_nickname=sender.nickname,
        body="신고된 메시지",
        client_msg_id=f"m{seq}",
        sent_at=timezone.now(),
    )


# --- admin actions --------------------------------------------------------------------------


@dataclass
class Action:
    """One admin action on one model: a target, and whether it was carried out."""

    model: type
    name: str
    allowed: set[str]

    @property
    def key(self) -> str:
        return f"{self.model._meta.label}.{self.name}"


ACTIONS = [
    Action(ChatMessage, "remove_messages", MODERATORS),
    Action(Comment, "moderate_delete", MODERATORS),
    Action(TitleHakwon, "open_now", MODERATORS),
    Action(TitleHakwon, "close_now", MODERATORS),
    Action(TitleHakwon, "delete_selected", MODERATORS),
    Action(ChatRoom, "delete_selected", MODERATORS),
    Action(Tag, "delete_selected", MODERATORS),
    Action(User, "delete_selected", {"superuser"}),
    Action(Group, "delete_selected", {"superuser"}),
    # simplejwt's blacklist admin: un-blacklisting a token is for superusers only.
    Action(BlacklistedToken, "delete_selected", {"superuser"}),
]


def _target(action: Action, author: User):
    """The object the action is run on, authored by ``author`` where that means anything."""
    model = action.model
    if model is ChatMessage:
        return make_message(room=make_room(), sender=author)
    if model is Comment:
        return make_comment(hakwon=make_hakwon(), author=author)
    if model is TitleHakwon:
        return make_hakwon(state="PROCEED" if action.name == "close_now" else "NOT_OPEN")
    if model is ChatRoom:
        return make_room(owner=author)
    if model is Tag:
        return Tag.objects.create(name=f"tag{uuid.uuid4().hex[:6]}")
    if model is User:
        return make_user()
    if model is Group:
        return Group.objects.create(name=f"group {uuid.uuid4().hex[:6]}")
    token = RefreshToken.for_user(author)
    token.blacklist()
    return BlacklistedToken.objects.get(token__jti=token["jti"])


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _may_view(user: User, model) -> bool:
    return user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}")


def _carried_out(action: Action, target, response) -> bool:
    if action.name == "remove_messages":  # a Kafka record; the relay marks it removed later
        shown = response.context["messages"] if response.context else []
        return any("Removal of 1 message" in str(m) for m in shown)
    if action.name == "open_now":
        target.refresh_from_db()
        return target.state == TitleHakwon.State.PROCEED
    if action.name == "close_now":
        target.refresh_from_db()
        return target.state == TitleHakwon.State.DONE
    return not type(target).objects.filter(pk=target.pk).exists()  # the deleting ones


def test_the_matrix_covers_every_admin_action():
    superuser = User(is_superuser=True, is_staff=True, is_active=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    declared = {
        f"{model._meta.label}.{name}"
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    }
    assert declared == {a.key for a in ACTIONS}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_admin_action(real_services, action, role):
    author = make_user()
    target = _target(action, author)
    user = user_for(role, author)
    browser = Client()
    if user is not None:
        browser.force_login(user)
    response = browser.post(
        _changelist(action.model),
        {"action": action.name, "_selected_action": [target.pk], "post": "yes"},
        follow=True,
    )
    if role not in STAFF:  # members never get past the admin's login
        assert response.redirect_chain[0][0].startswith(reverse("admin:login"))
    elif not _may_view(user, action.model):
        assert response.status_code == 403
    else:
        assert response.status_code == 200
    assert _carried_out(action, target, response) is (role in action.allowed)


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(STAFF))
def test_staff_see_only_the_actions_they_may_run(role):
    author = make_user()
    user = user_for(role, author)
    browser = Client()
    browser.force_login(user)
    for action in ACTIONS:
        _target(action, author)  # the admin offers no action on an empty list
        page = browser.get(_changelist(action.model))
        if _may_view(user, action.model):
            assert page.status_code == 200, action.key
            offered = f'<option value="{action.name}"' in page.content.decode()
        else:  # a moderator has no permission at all on members, groups and tokens
            assert page.status_code == 403, action.key
            offered = False
        assert offered is (role in action.allowed), action.key


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["member", "author", "viewer", "moderator", "superuser"])
def test_moderation_services_check_the_same_permissions(real_services, role):
    """Whatever calls them: the admin gate is not the only one."""
    from chat.changes import message_remove
    from comments.services import comment_delete, hakwon_close, hakwon_open

    author = make_user()
    user = user_for(role, author)
    closed_hakwon = make_hakwon(state="DONE")
    calls = {
        "message_remove": lambda: message_remove(
            message=make_message(room=make_room(), sender=author), user=user
        ),
        # After the close the author may not delete any more; moderators may.
        "comment_delete": lambda: comment_delete(
            comment=make_comment(hakwon=closed_hakwon, author=author), user=user
        ),
        "hakwon_open": lambda: hakwon_open(hakwon=make_hakwon(state="NOT_OPEN"), user=user),
        "hakwon_close": lambda: hakwon_close(hakwon=make_hakwon(state="PROCEED"), user=user),
    }
    for name, call in calls.items():
        if role in MODERATORS:
            call()
            continue
        # The author passes the author check, then meets the closed hakwon.
        refusal = HakwonClosed if (name, role) == ("comment_delete", "author") else Forbidden
        with pytest.raises(refusal):
            call()


# --- API endpoints ------------------------------------------------------------------------


@dataclass
class World:
    author: User
    hakwon: TitleHakwon
    comment: Comment
    room: ChatRoom


def _world() -> World:
    author = make_user()
    hakwon = make_hakwon()
    return World(
        author=author,
        hakwon=hakwon,
        comment=make_comment(hakwon=hakwon, author=author),
        room=make_room(owner=author),
    )


def _refresh(w: World) -> str:
    return str(RefreshToken.for_user(w.author))


def every(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def members(status: int, **overrides: int) -> dict[str, int]:
    """Anonymous 401, every signed-in role ``status`` unless overridden."""
    return {**every(status), "anonymous": 401, **overrides}


AUTHOR_OR_MODERATOR = {"member": 403, "viewer": 403}

# (url name, method, kwargs of the url from the world, body, expected status per role)
ENDPOINTS = [
    ("api-signup", "post", lambda w: {}, lambda w: {"password": "meme-lover-2026"}, every(201)),
    (
        "api-token",
        "post",
        lambda w: {},
        lambda w: {"username": w.author.username, "password": PASSWORD},
        every(200),
    ),
    ("api-token-refresh", "post", lambda w: {}, lambda w: {"refresh": _refresh(w)}, every(200)),
    ("api-logout", "post", lambda w: {}, lambda w: {"refresh": _refresh(w)}, every(204)),
    ("api-me", "get", lambda w: {}, None, members(200)),
    ("api-rooms", "get", lambda w: {}, None, every(200)),
    ("api-rooms", "post", lambda w: {}, lambda w: {"name": "새 방"}, members(201)),
    ("api-room", "get", lambda w: {"room_id": w.room.pk}, None, every(200)),
    ("api-room-like", "post", lambda w: {"room_id": w.room.pk}, None, members(201)),
    ("api-room-like", "delete", lambda w: {"room_id": w.room.pk}, None, members(404)),
    ("api-room-messages", "get", lambda w: {"room_id": w.room.pk}, None, every(200)),
    ("api-hakwons", "get", lambda w: {}, None, every(200)),
    ("api-hakwon-today", "get", lambda w: {}, None, every(200)),
    ("api-hakwon", "get", lambda w: {"hakwon_id": w.hakwon.pk}, None, every(200)),
    ("api-hakwon-comments", "get", lambda w: {"hakwon_id": w.hakwon.pk}, None, every(200)),
    (
        "api-hakwon-comments",
        "post",
        lambda w: {"hakwon_id": w.hakwon.pk},
        lambda w: {"content": "캡션"},
        members(201),
    ),
    ("api-hakwon-best", "get", lambda w: {"hakwon_id": w.hakwon.pk}, None, every(200)),
    (
        "api-comment",
        "patch",
        lambda w: {"comment_id": w.comment.pk},
        lambda w: {"content": "고친 캡션"},
        members(200, **AUTHOR_OR_MODERATOR),
    ),
    (
        "api-comment",
        "delete",
        lambda w: {"comment_id": w.comment.pk},
        None,
        members(204, **AUTHOR_OR_MODERATOR),
    ),
    ("api-comment-replies", "get", lambda w: {"comment_id": w.comment.pk}, None, every(200)),
    (
        "api-comment-replies",
        "post",
        lambda w: {"comment_id": w.comment.pk},
        lambda w: {"content": "답글"},
        members(201),
    ),
    (
        "api-comment-like",
        "post",
        lambda w: {"comment_id": w.comment.pk},
        None,
        members(201, author=403),  # own_comment
    ),
    ("api-comment-like", "delete", lambda w: {"comment_id": w.comment.pk}, None, members(404)),
    (
        "api-member-awards",
        "get",
        lambda w: {"username": w.author.username},
        None,
        every(200),
    ),
    ("api-schema", "get", lambda w: {}, None, every(200)),
    ("api-docs", "get", lambda w: {}, None, every(200)),
]


def test_the_matrix_covers_every_api_route():
    from django.urls import get_resolver

    api = get_resolver().url_patterns
    names: set[str] = set()

    def walk(patterns):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns)
            elif p.name and p.name.startswith("api-"):
                names.add(p.name)

    walk(api)
    assert names == {name for name, *_ in ENDPOINTS}


@pytest.mark.services
@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("name", "method", "kwargs", "body", "expected"),
    ENDPOINTS,
    ids=[f"{e[1].upper()} {e[0]}" for e in ENDPOINTS],
)
def test_api_endpoint(name, method, kwargs, body, expected, role):
    world = _world()
    user = user_for(role, world.author)
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    data = body(world) if body else None
    if name == "api-signup":
        data["username"] = f"new{uuid.uuid4().hex[:8]}"
    # Each request from its own address: per-address throttles are tested elsewhere.
    address = f"10.9.{next(_addresses) % 250}.{uuid.uuid4().int % 250 + 1}"
    response = getattr(client, method)(
        reverse(name, kwargs=kwargs(world)), data, format="json", REMOTE_ADDR=address
    )
    assert response.status_code == expected[role], getattr(response, "data", response)


# --- socket write frames --------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_socket_write_frames(live, role):
    """chat.send, comment.create / like / unlike over the sockets, as each role."""
    author = make_user()
    hakwon = make_hakwon()
    comment = make_comment(hakwon=hakwon, author=author)
    room = make_room(owner=author)
    user = user_for(role, author)

    def answer(sock, ok_type: str) -> str:
        """ "ok" for the expected answer, else the error code (other frames are skipped)."""
        while (frame := sock.recv())["type"] not in ("error", ok_type):
            pass
        return frame["code"] if frame["type"] == "error" else "ok"

    with live.room_socket(room, user) as sock:
        sock.send(type="chat.send", client_msg_id="m1", body="안녕")
        got = answer(sock, "chat.ack")
    assert got == ("auth_required" if role == "anonymous" else "ok")

    with live.hakwon_socket(hakwon.pk, user) as sock:
        sock.send(type="comment.create", content="소켓 캡션", client_msg_id="c1")
        created = answer(sock, "comment.ack")
        sock.send(type="comment.like", comment_id=comment.pk, client_msg_id="l1")
        liked = answer(sock, "comment.ack")
        sock.send(type="comment.unlike", comment_id=comment.pk, client_msg_id="u1")
        unliked = answer(sock, "comment.ack")
    if role == "anonymous":
        assert (created, liked, unliked) == ("auth_required",) * 3
    elif role == "author":
        assert (created, liked, unliked) == ("ok", "own_comment", "not_liked")
    else:
        assert (created, liked, unliked) == ("ok", "ok", "ok")
