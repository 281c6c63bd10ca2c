"""Property-based fuzzing of every write endpoint and page form, on PostgreSQL.

``test_api_fuzz.py`` (schemathesis) sends what the OpenAPI schema describes. This file sends what
it does not: hostile text in every text field (NUL, C0/C1 controls, lone surrogates as ``\\ud800``
escapes in valid JSON, bidi and zero-width characters), wrong types for every field (numbers,
10**400, 1e400, NaN, null, lists, ~1000-level nesting), unknown fields, bodies that are not
objects or not JSON, and odd ids in paths. The API is called on a web server of the running
stack with its throttles opened (Uvicorn, over HTTP); the page forms through Django's test
client (CSRF checks off).

Invariants for every request: never a 5xx; an API answer is 2xx or a 4xx whose JSON body names
the problem (a field it was sent or ``detail``); a page answers 200 (the form again), a redirect
or a 4xx; nothing stored anywhere holds a character the text rule refuses (PostgreSQL cannot
store NUL at all, so one would have been a 500). Each test prints a ``fuzz:`` line with its
volume.

Issue 14's endpoints get oracles of their own: ``POST /api/notifications/read/`` marks exactly
the member's notifications it names (or all of them) and never another member's, whatever ids
it is sent; ``POST /api/rooms/<id>/read/`` moves the marker to what was asked, never back and
never past the room's newest ``seq``; ``GET /api/notifications/`` (any ``cursor``),
``GET /api/rooms/`` (any ``mine``, ``search``, ``ordering``, ``page``) and
``GET /api/rooms/<id>/presence/`` answer only their documented statuses, with the member's own
rows only.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from typing import Any, NamedTuple
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from chat import events as chat_events
from chat.models import ChatRoom, RoomMember, Tag
from chat.services import IncomingMessage, message_store_batch, room_join, room_like
from comments.models import Comment
from comments.services import comment_like, reply_create
from notifications.models import Notification

from .conftest import make_comment, make_hakwon, make_room, make_user
from .fuzz import (
    HUGE_INTS,
    Obj,
    any_text,
    encode,
    has_forbidden,
    json_values,
    sendable_text,
    weighted,
    wrong_types,
)

pytestmark = pytest.mark.postgres

API_EXAMPLES = 200
FORM_EXAMPLES = 200
PASSWORD = "pw-for-tests-1234"  # conftest.make_user's


def fuzz_settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- values ------------------------------------------------------------------------------------

clean_text = st.text(st.characters(exclude_categories=["C"]), min_size=1, max_size=40)
texts = st.one_of(clean_text, any_text, sendable_text, st.text(min_size=490, max_size=520))
good_text = weighted((3, clean_text), (1, texts))
usernames = st.from_regex(r"[a-z][a-z0-9_.@+-]{2,14}", fullmatch=True)
urls = st.one_of(
    st.sampled_from(
        [
            "https://img.test/a.gif",
            "http://img.test/b.png",
            "javascript:alert(1)",
            "https://img.test/a b.gif",
            "https://img.test/" + "a" * 600,
            "",
        ]
    ),
    any_text.map(lambda t: "https://img.test/" + t),
)

SIGNUP = {
    "username": usernames,
    "password": st.just(PASSWORD) | texts,
    "nickname": good_text,
    "profile_path": urls,
    "profile_message": good_text,
}
ROOM = {
    "name": good_text,
    "description": good_text,
    "image_url": urls,
    "tags": st.lists(good_text, max_size=12),
}
CONTENT = {"content": good_text}
NO_FIELDS: dict[str, st.SearchStrategy] = {}


class Request(NamedTuple):
    content_type: str
    body: bytes


@st.composite
def objects(draw, fields: dict[str, st.SearchStrategy]) -> Obj:
    """The endpoint's fields, each present or not, right or wrong, plus unknown fields."""
    pairs = [
        (name, draw(weighted((2, good), (1, wrong_types(good)))))
        for name, good in fields.items()
        if draw(st.integers(0, 4))
    ]
    pairs += draw(st.lists(st.tuples(sendable_text | any_text, json_values), max_size=2))
    return Obj(tuple(draw(st.permutations(pairs))))


def form_encode(pairs) -> bytes:
    def part(value: Any) -> str:
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
        return quote_from_bytes(raw)

    return "&".join(f"{part(k)}={part(v)}" for k, v in pairs).encode()


@st.composite
def requests(draw, fields: dict[str, st.SearchStrategy]) -> Request:
    kind = draw(st.sampled_from(["real"] * 3 + ["object"] * 6 + ["form", "value", "junk", "type"]))
    if kind == "real":  # every field, each a good value (mostly)
        return Request("application/json", encode(draw(st.fixed_dictionaries(fields))).encode())
    if kind == "object":
        return Request("application/json", encode(draw(objects(fields))).encode())
    if kind == "form":  # DRF parses plain forms too: every value arrives as text
        pairs = [(k, v) for k, v in draw(objects(fields)).pairs if isinstance(v, str | int)]
        return Request("application/x-www-form-urlencoded", form_encode(pairs))
    if kind == "value":  # a JSON body that is not an object
        return Request("application/json", encode(draw(json_values)).encode())
    if kind == "junk":
        body = draw(st.binary(max_size=40) | sendable_text.map(str.encode))
        return Request("application/json", body)
    content_type = draw(
        st.sampled_from(
            ["text/plain", "application/json; charset=utf-16", "application/json; charset=nope"]
        )
    )
    return Request(content_type, encode(draw(objects(fields))).encode())


# --- checks ------------------------------------------------------------------------------------

TEXT_COLUMNS = {
    User: ("username", "nickname", "profile_path", "profile_message"),
    ChatRoom: ("name", "description", "image_url"),
    Tag: ("name",),
    Comment: ("content",),
}


def stored_text() -> dict[tuple[str, int], tuple]:
    return {
        (model.__name__, row[0]): row[1:]
        for model, columns in TEXT_COLUMNS.items()
        for row in model.objects.values_list("pk", *columns)
    }


def assert_nothing_stored_breaks_the_rule(before: dict) -> None:
    """Rows this example created or changed hold no text the rule refuses (only these: a bad
    row left by an earlier example must not fail the next ones)."""
    for key, values in stored_text().items():
        if before.get(key) != values:
            assert not has_forbidden(list(values)), f"stored {key}: {values!r}"


def short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def report(capsys, name: str, examples: int, stats: Counter, started: float) -> None:
    statuses = ", ".join(f"{k}={n}" for k, n in sorted(stats.items()) if k != "requests")
    with capsys.disabled():
        print(
            f"\nfuzz: {name}: {examples} examples/run, {stats['requests']} requests,"
            f" statuses: {statuses} ({time.monotonic() - started:.1f}s)"
        )


def assert_answer(web, sent: str, status: int, content_type: str, body: bytes, keys: set[str]):
    """Never a 5xx; a 2xx, or a 4xx whose JSON names the problem (a field it was sent, or
    ``detail``)."""
    assert status < 500, f"{sent} -> {status}\n{web.log_tail(30)}"
    assert 200 <= status < 300 or 400 <= status < 500, status
    if status == 204:
        assert not body
    elif 200 <= status < 300:
        answer = json.loads(body)
        assert not has_forbidden(answer), f"answered with refused text: {answer!r}"
    else:
        assert content_type.startswith("application/json"), (status, content_type, body)
        problem = json.loads(body)
        assert isinstance(problem, dict) and problem, (status, problem)
        if status == 400:
            assert set(problem) <= keys, f"400 names no field it was sent: {problem}"
        else:
            assert problem.get("detail"), (status, problem)


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def open_web(stack):
    """A web server of the stack whose write throttles let the fuzzing through."""
    web = stack.start_web(
        "web-fuzz-api", API_WRITE_THROTTLE="1000000/min", API_SIGNUP_THROTTLE="1000000/min"
    )
    yield web
    web.stop()


def call(web, method: str, path: str, request: Request | None, token: str | None):
    headers = {"Content-Type": request.content_type} if request else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    sent = urllib.request.Request(
        web.http + path, data=request and request.body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


# (method, path, fields, who): every write endpoint in */urls.py. ``{room}`` and ``{comment}``
# are drawn per example from the setup's ids and odd numbers.
API_WRITES = [
    ("POST", "/api/auth/signup/", SIGNUP, "anonymous"),
    (
        "POST",
        "/api/auth/token/",
        {"username": usernames, "password": st.just(PASSWORD)},
        "anonymous",
    ),
    ("POST", "/api/auth/token/refresh/", {"refresh": st.just("refresh")}, "anonymous"),
    ("POST", "/api/rooms/", ROOM, "member"),
    ("POST", "/api/rooms/{room}/like/", NO_FIELDS, "member"),
    ("DELETE", "/api/rooms/{room}/like/", NO_FIELDS, "member"),
    ("POST", "/api/hakwons/{hakwon}/comments/", CONTENT, "member"),
    ("PATCH", "/api/comments/{comment}/", CONTENT, "member"),
    ("DELETE", "/api/comments/{comment}/", NO_FIELDS, "member"),
    ("POST", "/api/comments/{comment}/replies/", CONTENT, "member"),
    ("POST", "/api/comments/{comment}/like/", NO_FIELDS, "member"),
    ("DELETE", "/api/comments/{comment}/like/", NO_FIELDS, "member"),
]
ODD_IDS = [0, 2**31, 2**63 - 1, 2**63, 10**30, 10**400]


@pytest.mark.parametrize(
    ("method", "path", "fields", "who"),
    API_WRITES,
    ids=[f"{m} {p}" for m, p, _, _ in API_WRITES],
)
def test_write_endpoint_survives_arbitrary_bodies(
    live, open_web, capsys, method, path, fields, who
):
    member = make_user()
    hakwon = make_hakwon()
    rooms = [make_room(owner=member), make_room()]
    own = [make_comment(hakwon=hakwon, author=member) for _ in range(4)]
    others = [make_comment(hakwon=hakwon) for _ in range(2)]
    replies = [reply_create(parent=others[0], author=member, content="답글")]
    closed = make_comment(hakwon=make_hakwon(state="DONE"), author=member)
    room_like(room=rooms[1], user=member)  # something to unlike
    comment_like(comment=others[1], user=member)
    ids = {
        "room": st.sampled_from([r.pk for r in rooms] + ODD_IDS),
        "hakwon": st.sampled_from([hakwon.pk, closed.hakwon_id, *ODD_IDS]),
        "comment": st.sampled_from([c.pk for c in (*own, *others, *replies, closed)] + ODD_IDS),
    }
    if path == "/api/auth/token/":  # real names and the right password now and then
        fields = {**fields, "username": st.sampled_from([member.username, "nobody"]) | usernames}
    if path == "/api/auth/token/refresh/":
        fields = {"refresh": st.sampled_from([str(RefreshToken.for_user(member)), "x.y.z"])}
    token = str(AccessToken.for_user(member)) if who == "member" else None
    allowed_keys = {*fields, "detail", "code", "non_field_errors"}
    stats: Counter = Counter()
    started = time.monotonic()

    @fuzz_settings(API_EXAMPLES)
    @given(request=requests(fields), data=st.data())
    def send(request, data):
        target = path.format(**{k: data.draw(v, label=k) for k, v in ids.items() if k in path})
        before = stored_text()
        status, content_type, body = call(open_web, method, target, request, token)
        stats["requests"] += 1
        stats[str(status)] += 1
        sent = f"{method} {target} {request.content_type} {short(request.body)}"
        assert_answer(open_web, sent, status, content_type, body, allowed_keys)
        assert_nothing_stored_breaks_the_rule(before)

    try:
        send()
    finally:
        report(capsys, f"API {method} {path}", API_EXAMPLES, stats, started)


# --- issue 14: notifications, read markers, presence ---------------------------------------

READ_EXAMPLES = 150
GET_EXAMPLES = 150


def make_notification(recipient, n: int = 0) -> Notification:
    now = timezone.now()
    return Notification.objects.create(
        notification_id=uuid.uuid4(), recipient=recipient, kind="mention", text=f"알림 {n}",
        url=f"/rooms/1/#msg-{n}", created_at=now, updated_at=now,
    )  # fmt: skip


def seed_messages(room, sender, count: int) -> None:
    """Stored messages, numbered as the relay numbers them."""
    message_store_batch(
        items=[
            IncomingMessage(
                chat_events.message_record(
                    event_id=str(uuid.uuid4()),
                    room_id=room.pk,
                    sender=sender.public_profile,
                    body=f"메시지 {i}",
                    gif_url=None,
                    client_msg_id=uuid.uuid4().hex,
                    sent_at=timezone.now(),
                )
            )
            for i in range(count)
        ]
    )


def json_object(request: Request) -> dict | None:
    """The object DRF reads from a JSON request (the last of repeated keys), else None."""
    if request.content_type != "application/json":
        return None
    try:
        value = json.loads(request.body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def drf_int(value: Any) -> int | None:
    """What DRF's IntegerField makes of a value (it accepts "7", 7.0 and "7.0"), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    try:
        return int(re.sub(r"\.0*\s*$", "", str(value)))
    except ValueError:
        return None


def test_marking_notifications_read_never_touches_another_members(live, open_web, capsys):
    """``{"ids": [...]}`` marks the member's notifications it names, ``{"all": true}`` all of
    them; another member's ids (and unknown, huge, negative or mistyped ones) mark nothing."""
    member, other = make_user(), make_user()
    own = [make_notification(member, n) for n in range(4)]
    theirs = [make_notification(other, n) for n in range(3)]
    own_ids, their_ids = [n.pk for n in own], [n.pk for n in theirs]
    one_id = weighted(
        (4, st.sampled_from(own_ids + their_ids)),
        (1, st.sampled_from([0, -1, their_ids[0] + 1000, *HUGE_INTS])),
        (1, st.integers()),
        (1, st.sampled_from(["1", f"{own_ids[0]}", f"{their_ids[0]}.0", " 2 ", "x", 1.5])),
        (1, st.sampled_from([float(own_ids[1]), True, None, [own_ids[0]], {"id": 1}])),
    )
    fields = {
        "ids": st.one_of(
            st.lists(one_id, min_size=1, max_size=6),
            st.lists(st.sampled_from(own_ids + their_ids), min_size=1, max_size=3),
            st.lists(st.integers(1, 2**40), min_size=495, max_size=505),  # around the cap, 500
            st.just([]),
            wrong_types(st.just([own_ids[0]])),
        ),
        "all": st.one_of(st.booleans(), st.sampled_from(["true", "false", "1", 0, "yes", None])),
    }
    token = str(AccessToken.for_user(member))
    allowed_keys = {*fields, "detail", "code", "non_field_errors"}
    stats: Counter = Counter()
    started = time.monotonic()
    mine = Notification.objects.filter(recipient=member)

    @fuzz_settings(READ_EXAMPLES)
    @given(request=requests(fields))
    def send(request):
        mine.update(read_at=None)
        status, content_type, body = call(
            open_web, "POST", "/api/notifications/read/", request, token
        )
        stats["requests"] += 1
        stats[str(status)] += 1
        sent = f"POST /api/notifications/read/ {request.content_type} {short(request.body)}"
        assert_answer(open_web, sent, status, content_type, body, allowed_keys)
        assert status in (200, 400, 415), f"{sent} -> {status}"
        marked = Notification.objects.filter(pk__in=their_ids, read_at__isnull=False)
        assert not marked.exists(), f"{sent} marked another member's notifications read"
        read = set(mine.filter(read_at__isnull=False).values_list("pk", flat=True))
        if status != 200:
            assert not read, f"{sent} -> {status}, yet marked {read}"
            return
        assert json.loads(body) == {"unread": len(own_ids) - len(read)}, (sent, body)
        sent_object = json_object(request)
        if sent_object is None:
            return
        ids = sent_object.get("ids")
        if isinstance(ids, list) and ids:  # the ids way (the serializer takes one way only)
            named = {drf_int(v) for v in ids}
            assert read <= named & set(own_ids), f"{sent}: marked {read}"
            exact = {v for v in ids if type(v) is int}
            assert read >= exact & set(own_ids), f"{sent}: marked only {read}"
        else:
            assert read == set(own_ids), f"{sent}: all, but marked {read}"

    try:
        send()
    finally:
        report(capsys, "API POST /api/notifications/read/", READ_EXAMPLES, stats, started)


def test_a_room_read_marker_moves_as_asked_never_back_never_past_the_end(live, open_web, capsys):
    member, sender = make_user(), make_user()
    joined, fresh, empty = make_room(), make_room(), make_room()
    for room in (joined, fresh):
        seed_messages(room, sender, 6)
    room_join(room_id=joined.pk, user=member)
    RoomMember.objects.filter(room=joined, user=member).update(last_read_seq=2)
    rooms = {r.pk: r for r in (joined, fresh, empty)}
    seqs = st.one_of(
        st.integers(0, 8),
        st.integers(0, 8),
        st.sampled_from([-1, 2**63 - 1, 2**63, *HUGE_INTS]),
        st.integers(),
        st.sampled_from(["3", "3.0", 3.0, 3.5, "", " 4 ", "0x10", True, None]),
        any_text,
        json_values,
    )
    fields = {"seq": seqs}
    token = str(AccessToken.for_user(member))
    allowed_keys = {*fields, "detail", "code", "non_field_errors"}
    stats: Counter = Counter()
    started = time.monotonic()

    def marker(room_id: int) -> int | None:
        return (
            RoomMember.objects.filter(room_id=room_id, user=member)
            .values_list("last_read_seq", flat=True)
            .first()
        )

    @fuzz_settings(READ_EXAMPLES)
    @given(
        request=requests(fields),
        room_id=st.sampled_from([*rooms, *ODD_IDS, -1]),
    )
    def send(request, room_id):
        before = marker(room_id) if room_id in rooms else None
        path = f"/api/rooms/{room_id}/read/"
        status, content_type, body = call(open_web, "POST", path, request, token)
        stats["requests"] += 1
        stats[str(status)] += 1
        sent = f"POST {path} {request.content_type} {short(request.body)}"
        assert_answer(open_web, sent, status, content_type, body, allowed_keys)
        assert status in (200, 400, 404, 415), f"{sent} -> {status}"
        if room_id not in rooms:
            assert status != 200, f"{sent} -> {status}"
            return
        after = marker(room_id)
        if status != 200:
            assert after == before, f"{sent} -> {status}, yet the marker moved {before}->{after}"
            return
        last_seq = ChatRoom.objects.values_list("last_seq", flat=True).get(pk=room_id)
        assert json.loads(body) == {"room_id": room_id, "last_read_seq": after}, (sent, body)
        start = last_seq if before is None else before  # joining reads everything so far
        assert start <= after <= last_seq, f"{sent}: {before} -> {after} of {last_seq}"
        seq = (json_object(request) or {}).get("seq")
        if type(seq) is int:
            assert after == max(start, min(seq, last_seq)), f"{sent}: {before} -> {after}"

    try:
        send()
    finally:
        report(capsys, "API POST /api/rooms/<id>/read/", READ_EXAMPLES, stats, started)


def cursor(draw_text: str) -> str:
    return base64.b64encode(draw_text.encode("utf-8", "surrogatepass")).decode()


# Cursors: DRF's are base64 of a query string o (offset), r (reverse), p (position).
cursor_tokens = st.builds(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs),
    st.lists(
        st.tuples(
            st.sampled_from(["o", "r", "p", "x"]),
            st.one_of(
                st.sampled_from(["0", "1", "-1", "99999999999", "2026-01-01 00:00:00+00:00"]),
                st.sampled_from(["2026-01-01T00:00:00Z", "garbage", "", "10**30", "\x00"]),
                sendable_text,
            ),
        ),
        max_size=3,
    ),
)
cursors = st.one_of(
    cursor_tokens.map(cursor),
    sendable_text,
    st.sampled_from(["", "=", "bm9wZQ", "!!!", "cD0=", "bz0xMDAwMDAwMDA="]),
)


def get(web, path: str, params: list[tuple[str, str]], token: str | None):
    query = form_encode(params).decode()
    return call(web, "GET", f"{path}?{query}" if query else path, None, token)


@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_the_notification_inbox_takes_any_cursor(live, open_web, capsys, who):
    """Any ``cursor``: the member's own page (200) or 404 ``Invalid cursor``; anonymous: 401."""
    member, other = make_user(), make_user()
    own = {make_notification(member, n).pk for n in range(25)}  # two pages
    make_notification(other)
    token = str(AccessToken.for_user(member)) if who == "member" else None
    stats: Counter = Counter()
    started = time.monotonic()
    real: list[str] = []  # cursors the API handed out, to send back (tampered or not)
    _, _, body = get(open_web, "/api/notifications/", [], token)
    if who == "member":
        real.append(re.search(r"cursor=([^&]+)", json.loads(body)["next"]).group(1))

    @fuzz_settings(GET_EXAMPLES)
    @given(
        params=st.lists(
            st.tuples(
                st.sampled_from(["cursor", "cursor", "page", "ordering", "limit"]),
                weighted((3, cursors), (1, st.sampled_from(real or ["x"]))),
            ),
            max_size=3,
        )
    )
    def send(params):
        status, content_type, body = get(open_web, "/api/notifications/", params, token)
        stats["requests"] += 1
        stats[str(status)] += 1
        sent = f"GET /api/notifications/ {params!r}"
        assert_answer(open_web, sent, status, content_type, body, {"detail", "code"})
        if who == "anonymous":
            assert status == 401, f"{sent} -> {status}"
            return
        assert status in (200, 404), f"{sent} -> {status}"
        if status == 200:
            page = json.loads(body)
            assert {n["id"] for n in page["results"]} <= own, f"{sent}: someone else's"
            assert len(page["results"]) <= 20 and page["unread"] == len(own), page["unread"]

    try:
        send()
    finally:
        report(capsys, f"API GET /api/notifications/ ({who})", GET_EXAMPLES, stats, started)


@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_the_room_list_mine_filter_and_presence_take_any_query(live, open_web, capsys, who):
    """``GET /api/rooms/`` with any ``mine``, ``search``, ``ordering``, ``page``: 200 (a member's
    ``?mine=1`` lists only rooms they joined, with unread counts; anonymous readers get no
    counts), 400 (a search the text rule refuses), 404 (no such page), 401 (anonymous
    ``mine``); ``GET /api/rooms/<id>/presence/``: 200 or 404."""
    member, sender = make_user(), make_user()
    joined, other = make_room(), make_room()
    seed_messages(joined, sender, 3)
    room_join(room_id=joined.pk, user=member)
    token = str(AccessToken.for_user(member)) if who == "member" else None
    stats: Counter = Counter()
    started = time.monotonic()
    values = st.one_of(
        st.sampled_from(["1", "true", "0", "false", "True", "yes", "", "1 ", "\uff12"]),
        sendable_text,
        st.sampled_from([str(n) for n in HUGE_INTS]),
    )

    @fuzz_settings(GET_EXAMPLES)
    @given(
        params=st.lists(
            st.tuples(st.sampled_from(["mine", "mine", "search", "ordering", "page"]), values),
            max_size=4,
        ),
        room_id=st.sampled_from([joined.pk, other.pk, *ODD_IDS[:4]]),
    )
    def send(params, room_id):
        status, content_type, body = get(open_web, "/api/rooms/", params, token)
        stats["requests"] += 1
        stats[f"list {status}"] += 1
        sent = f"GET /api/rooms/ {params!r}"
        assert_answer(open_web, sent, status, content_type, body, {"search", "detail", "code"})
        # The view reads the last of repeated parameters, as Django's QueryDict.get does.
        mine = dict(params).get("mine") in ("1", "true")
        if who == "anonymous" and mine:
            assert status == 401, f"{sent} -> {status}"
        else:
            assert status in (200, 400, 404), f"{sent} -> {status}"
        if status == 200:
            results = json.loads(body)["results"]
            for room in results:
                if who == "anonymous" or room["id"] != joined.pk:
                    assert room["unread"] is None, (sent, room)
                else:
                    assert room["unread"] == 0, (sent, room)  # joined after the messages
            if mine:
                assert {r["id"] for r in results} <= {joined.pk}, (sent, results)

        path = f"/api/rooms/{room_id}/presence/"
        status, content_type, body = get(open_web, path, params[:1], token)
        stats[f"presence {status}"] += 1
        assert_answer(open_web, f"GET {path}", status, content_type, body, {"detail", "code"})
        assert status == (200 if room_id in (joined.pk, other.pk) else 404), (path, status)
        if status == 200:
            presence = json.loads(body)
            assert set(presence) == {"members", "anonymous"}, presence
            assert presence["members"] == [] and presence["anonymous"] == 0, presence

    try:
        send()
    finally:
        report(capsys, f"API GET /api/rooms/ and presence ({who})", GET_EXAMPLES, stats, started)


# --- the page forms ----------------------------------------------------------------------------

form_values = weighted(
    (4, sendable_text),
    (2, any_text),  # a lone surrogate goes as its (invalid) UTF-8 bytes
    (1, clean_text),
    (1, st.binary(max_size=20)),
    (1, st.text(min_size=490, max_size=2100)),
    (1, st.sampled_from([str(n) for n in HUGE_INTS])),
)


@st.composite
def form_bodies(draw, fields: list[str], good: dict[str, st.SearchStrategy]) -> list:
    """Each field absent, once or repeated; values hostile or good; plus unknown fields."""
    pairs = []
    for name in fields:
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 2]))):
            value = weighted((3, good[name]), (1, form_values)) if name in good else form_values
            pairs.append((name, draw(value)))
    pairs += draw(st.lists(st.tuples(sendable_text, form_values), max_size=2))
    return draw(st.permutations(pairs))


FORM_PAGES = [
    (
        "/accounts/signup/",
        ["username", "nickname", "password1", "password2", "next"],
        {"username": usernames, "password1": st.just(PASSWORD), "password2": st.just(PASSWORD)},
        "anonymous",
    ),
    (
        "/accounts/login/",
        ["username", "password", "next"],
        {"password": st.just(PASSWORD)},
        "anonymous",
    ),
    (
        "/accounts/profile/",
        ["nickname", "profile_path", "profile_message"],
        {"profile_path": urls},
        "member",
    ),
    ("/rooms/new/", ["name", "description", "image_url", "tags"], {"image_url": urls}, "member"),
    (
        "/rooms/{room}/like/",
        ["intent", "next"],
        {"intent": st.sampled_from(["like", "unlike"])},
        "member",
    ),
]


@pytest.mark.parametrize(
    ("path", "fields", "good", "who"), FORM_PAGES, ids=[p for p, *_ in FORM_PAGES]
)
def test_page_form_survives_arbitrary_posts(live, capsys, path, fields, good, who):
    member = make_user()
    room = make_room()
    client = Client()  # CSRF checks off, as Django's test client has them
    if who == "member":
        client.force_login(member)
    if path == "/accounts/login/":
        good = {**good, "username": st.sampled_from([member.username, "nobody"])}
    target = path.format(room=room.pk)
    stats: Counter = Counter()
    started = time.monotonic()

    @fuzz_settings(FORM_EXAMPLES)
    @given(pairs=form_bodies(fields, good))
    def post(pairs):
        before = stored_text()
        response = client.post(
            target, data=form_encode(pairs), content_type="application/x-www-form-urlencoded"
        )
        stats["requests"] += 1
        stats[str(response.status_code)] += 1
        status = response.status_code
        assert status in (200, 302) or 400 <= status < 500, (status, pairs)
        assert_nothing_stored_breaks_the_rule(before)
        if who == "anonymous" and response.wsgi_request.user.is_authenticated:
            client.logout()  # signed up or logged in: the next example is anonymous again

    try:
        post()
    finally:
        report(capsys, f"page {path}", FORM_EXAMPLES, stats, started)


# --- found by the fuzz -----------------------------------------------------------------------


def test_a_cursor_whose_position_is_not_a_time_is_a_404(live, open_web):
    """A cursor is opaque, but a client can send any: DRF answers 404 ``Invalid cursor`` for
    one it cannot decode, and should for one whose position is not a time. ``cD00`` is
    base64 of ``p=4``: the inbox filters ``updated_at < "4"``, Django raises ValidationError,
    and the API answers 500 (notifications/apis.py, InboxPagination)."""
    member = make_user()
    make_notification(member)
    token = str(AccessToken.for_user(member))
    for position in ("4", "garbage", "2026-13-45"):
        cursor = base64.b64encode(f"p={position}".encode()).decode()
        status, _, _ = get(open_web, "/api/notifications/", [("cursor", cursor)], token)
        assert status == 404, f"?cursor={cursor} (p={position}) -> {status}"


def test_all_with_an_empty_ids_list_marks_everything_read(live, open_web):
    """``{"ids": [], "all": true}`` passes the serializer as "all" (an empty ``ids`` counts as
    absent), but the view takes ``ids`` = [] as the list to mark: nothing is marked, the answer
    is 200 with the same unread count, and other pages hear ``notification.read`` with
    ``ids: []`` (notifications/apis.py, NotificationReadApi.post: ``validated_data.get("ids")``).
    Either all are marked or the request is a 400."""
    member = make_user()
    for n in range(2):
        make_notification(member, n)
    token = str(AccessToken.for_user(member))
    request = Request("application/json", b'{"ids": [], "all": true}')
    status, _, body = call(open_web, "POST", "/api/notifications/read/", request, token)
    unread = Notification.objects.filter(recipient=member, read_at__isnull=True).count()
    assert status == 400 or (status, json.loads(body), unread) == (200, {"unread": 0}, 0), (
        status, body, unread,
    )  # fmt: skip
