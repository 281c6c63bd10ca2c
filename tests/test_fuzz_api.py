"""Property-based fuzzing of every write endpoint and page form, on PostgreSQL.

``test_api_fuzz.py`` (schemathesis) sends what the OpenAPI schema describes. This file sends what
it does not: hostile text in every text field (NUL, C0/C1 controls, lone surrogates as ``\\ud800``
escapes in valid JSON, bidi and zero-width characters), wrong types for every field (numbers,
10**400, 1e400, NaN, null, lists, ~1000-level nesting), unknown fields, bodies that are not
objects or not JSON, and odd ids in paths. The API is called on a web server of the running
stack with its throttles opened (Daphne, over HTTP); the page forms through Django's test
client (CSRF checks off).

Invariants for every request: never a 5xx; an API answer is 2xx or a 4xx whose JSON body names
the problem (a field it was sent or ``detail``); a page answers 200 (the form again), a redirect
or a 4xx; nothing stored anywhere holds a character the text rule refuses (PostgreSQL cannot
store NUL at all, so one would have been a 500). Each test prints a ``fuzz:`` line with its
volume.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any, NamedTuple
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from chat.models import ChatRoom, Tag
from chat.services import room_like
from comments.models import Comment
from comments.services import comment_like, reply_create

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


# --- the API -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def open_web(stack):
    """A web server of the stack whose write throttles let the fuzzing through."""
    web = stack.start_web(
        "web-fuzz-api", API_WRITE_THROTTLE="1000000/min", API_SIGNUP_THROTTLE="1000000/min"
    )
    yield web
    web.stop()


def call(web, method: str, path: str, request: Request, token: str | None):
    headers = {"Content-Type": request.content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    sent = urllib.request.Request(
        web.http + path, data=request.body, method=method, headers=headers
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
        assert status < 500, f"{sent} -> {status}\n{open_web.log_tail(30)}"
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
                assert set(problem) <= allowed_keys, f"400 names no field it was sent: {problem}"
            else:
                assert problem.get("detail"), (status, problem)
        assert_nothing_stored_breaks_the_rule(before)

    try:
        send()
    finally:
        report(capsys, f"API {method} {path}", API_EXAMPLES, stats, started)


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
