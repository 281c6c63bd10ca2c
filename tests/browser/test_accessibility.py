"""axe-core on every page of the site, as a visitor and as a member, on a desktop and a phone,
with real content (rooms with messages and a GIF, captions, awards, notifications, a report,
images that fail to load), and the colours once more in the dark scheme.

Any violation, whatever its impact, fails the test with a list a person can act on: the rule,
its impact, the element, the page and the viewport. axe runs once the page's JavaScript has
drawn it (the room's messages, the captions), and again on the room's open panels, menus and
dialogs. On the desktop, every element the keyboard reaches must show its focus. The site's own
404 page comes from a server with DEBUG off (DEBUG shows Django's). One browser and one running
stack for all of it; each page is photographed, as the member sees it, in
``test-output/screenshots/`` (``a11y-<page>-<desktop|phone>.png``).
"""

from __future__ import annotations

import io
import re
import secrets
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from chat import events
from chat.models import MessageReport
from chat.services import IncomingMessage, message_store_batch, room_create
from comments.selectors import hakwon_today
from comments.services import hakwon_close
from notifications.models import Notification
from tests.conftest import (
    make_comment,
    make_hakwon,
    make_room,
    make_user,
    small_gif,
    store_messages,
)
from tests.procs import ROOT, WebServer, child_env
from uploads.services import upload_create

from .conftest import DESKTOP, PHONE, login, screenshot, start_web
from .test_chat_pages import open_room, send
from .test_hakwon_pages import open_hakwon, post

pytestmark = pytest.mark.browser

AXE = Axe()
GONE = "https://img.test/gone.gif"  # a host this machine cannot resolve: a placeholder shows
# Every rule axe-core ships for WCAG 2.0 to 2.2, A and AA, plus its best practices.
AXE_OPTIONS = {"resultTypes": ["violations"]}


@dataclass(frozen=True)
class State:
    """Something opened on a page (a menu, a panel, a dialog), checked, then closed again."""

    name: str
    opener: str  # what a person presses to open it; a state whose opener is hidden is skipped
    shown: str  # what then appears
    visitor: bool = True


@dataclass(frozen=True)
class Visit:
    """A page to check, and the states of it to check after it."""

    name: str
    path: str
    ready: Callable[[Page], None] = lambda page: None
    visitor: bool = True  # checked logged out
    member: bool = True  # checked logged in (as the room's owner)
    states: tuple[State, ...] = ()
    # Rules left to a page's third-party markup (with the reason said where it is listed).
    exempt: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    target: str
    summary: str
    visit: str
    who: str
    viewport: str

    def __str__(self) -> str:
        return (
            f"{self.rule} ({self.impact}) {self.target} on {self.visit} "
            f"[{self.who}, {self.viewport}]: {self.summary}"
        )


def violations(page: Page, visit: str, who: str, viewport: str, options: dict) -> list[Violation]:
    found = []
    for rule in AXE.run(page, options=options).response["violations"]:
        for node in rule["nodes"]:
            summary = (node.get("failureSummary") or rule["help"]).replace("\n", " ")
            found.append(
                Violation(
                    rule=rule["id"],
                    impact=node.get("impact") or rule["impact"] or "?",
                    target=" ".join(map(str, node["target"])),
                    summary=summary[:300],
                    visit=visit,
                    who=who,
                    viewport=viewport,
                )
            )
    return found


def settle(page: Page) -> None:
    """Every image loaded (or replaced by its placeholder) and no transition running: axe
    measures colours as they end up."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
            .map(a => a.finished.catch(() => null)))"""
    )


def gif_message(room, sender, gif) -> None:
    """A stored message carrying an uploaded GIF, as the relay stores one."""
    record = events.message_record(
        event_id=str(uuid.uuid4()),
        room_id=room.pk,
        sender=sender.public_profile,
        body="이거 보세요 ㅋㅋ",
        gif_url=None,
        gif_id=str(gif.pk),
        client_msg_id=f"seed-{uuid.uuid4().hex}",
        sent_at=timezone.now(),
    )
    message_store_batch(items=[IncomingMessage(record)])


def notification(recipient, kind: str, *, actor=None, text: str = "", url: str, **fields):
    now = timezone.now()
    return Notification.objects.create(
        notification_id=uuid.uuid4(),
        recipient=recipient,
        kind=kind,
        actor=actor,
        actor_nickname=actor.display_name if actor else "",
        text=text,
        url=url,
        created_at=now,
        updated_at=now,
        **fields,
    )


def the_site(live) -> tuple[list[Visit], object]:
    """Rooms, messages, contests, captions, awards and notifications; the pages to visit."""
    image = f"{live.web.http}/static/img/sample-zzal.svg"
    owner = make_user(nickname="방장님", profile_message="오늘도 짤 수집 중")
    friend = make_user(nickname="짤친구", profile_path=GONE)
    gif = upload_create(owner=friend, file=io.BytesIO(small_gif(frames=4, size=(96, 64))))
    cover = SimpleUploadedFile("cover.gif", small_gif(size=(64, 64)), content_type="image/gif")
    room = room_create(
        owner=owner,
        name="고독한 고양이방",
        description="고양이 짤만 올려요. 말은 짤로만!",
        tags=["고양이", "유머"],
        image_file=cover,
    )
    room_create(owner=friend, name="퇴근 짤방", tags=["직장인"], image_url=image)
    room_create(owner=friend, name="이미지 없는 방")
    room_create(owner=friend, name="옛날 방", image_url=GONE)  # its placeholder is checked too
    said = store_messages(room, friend, ["안녕하세요", "@방장님 이 짤 어때요?"])
    store_messages(room, owner, ["반가워요!", "좋아요 " * 30])
    gif_message(room, friend, gif)
    MessageReport.objects.create(message=said[0], reporter=make_user(), reason="도배해요")

    past = make_hakwon(image_url=GONE, open_date=hakwon_today() - timedelta(days=1))
    make_comment(hakwon=past, author=owner, content="금요일 퇴근 5분 전", likes=9)
    make_comment(hakwon=past, author=friend, content="월요일 아침의 나", likes=4)
    hakwon_close(hakwon=past)
    today = make_hakwon(image_url=image, open_date=hakwon_today())
    top = make_comment(hakwon=today, author=friend, content="집사 퇴근 기다리는 중", likes=3)
    make_comment(hakwon=today, author=owner, content="그거 내 간식이야", parent=top)
    make_comment(hakwon=today, author=owner, content="월급날 D-1")

    for kind, text in (("mention", "@방장님 이 짤 어때요?"), ("reply", "반가워요!")):
        notification(owner, kind, actor=friend, text=text, url=f"/rooms/{room.pk}/")
    notification(
        owner,
        "comment_likes",
        text="금요일 퇴근 5분 전",
        url=f"/hakwon/{past.pk}/",
        count=9,
        read_at=timezone.now(),
    )
    notification(owner, "award", text="1위", url=f"/hakwon/{past.pk}/")

    def room_ready(page: Page) -> None:
        open_room(page, room)
        expect(page.locator(".msg")).to_have_count(5)
        expect(page.locator(".msg img.msg__gif")).to_have_count(1)

    def docs_ready(page: Page) -> None:
        expect(page.locator(".opblock").first).to_be_visible()

    def signup_errors(page: Page) -> None:
        page.locator("#id_username").fill("newbie")
        page.locator("#id_password1").fill("short")
        page.locator("#id_password2").fill("different")
        page.locator("main form button[type=submit]").click()
        expect(page.locator("main .field__error, main [aria-invalid=true]").first).to_be_visible()

    def login_errors(page: Page) -> None:
        page.locator("#id_username").fill("nobody")
        page.locator("#id_password").fill("wrong-password")
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()

    visits = [
        Visit("rooms", "/"),
        Visit("room", f"/rooms/{room.pk}/", room_ready, states=ROOM_STATES),
        Visit("room-create", "/rooms/new/", visitor=False),
        Visit("room-edit", f"/rooms/{room.pk}/edit/", visitor=False),
        Visit("room-reports", f"/rooms/{room.pk}/reports/", visitor=False),
        Visit("hakwon", "/hakwon/", lambda page: open_hakwon(page)),
        Visit("hakwon-past", f"/hakwon/{past.pk}/", lambda page: open_hakwon(page, past)),
        Visit("member", f"/members/{owner.username}/"),
        Visit("profile-edit", "/accounts/profile/", visitor=False),
        Visit("notifications", "/notifications/", visitor=False),
        # Swagger UI's React markup puts the copy-path button inside the operation's toggle
        # button, skips heading levels and leaves the API's title outside its <main>: not
        # ours to change (its colours, focus and language are, and are checked).
        Visit("api-docs", "/api/docs/", docs_ready, member=False, exempt=SWAGGER_MARKUP),
        Visit("login", "/accounts/login/", member=False),
        Visit("login-errors", "/accounts/login/", login_errors, member=False),
        Visit("signup", "/accounts/signup/", member=False),
        Visit("signup-errors", "/accounts/signup/", signup_errors, member=False),
    ]
    return visits, owner


def debug_off_web(live, static_root: Path) -> WebServer:
    """A web server as deployed (DEBUG off, collected static files): the only way to see the
    site's own 404 page, since DEBUG shows Django's technical one."""
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(static_root),
    }
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=child_env(**env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    return start_web(live, "web-a11y-debug-off", **env)


def focus_misses(page: Page, visit: str) -> list[str]:
    """Every element the keyboard can reach shows where focus is (an outline or a ring)."""
    for _ in range(3):  # the keyboard is in use: focus moved by script then shows too
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches(':focus-visible')"):
            break
    return [f"{what} on {visit}" for what in page.evaluate(FOCUS_UNSEEN)]


FOCUS_UNSEEN = """() => {
  const reachable = 'a[href], button, input:not([type=hidden]), select, textarea, summary,'
    + ' [tabindex]:not([tabindex="-1"])';
  const clear = c => c === 'transparent' || /rgba\\(.*, 0\\)$/.test(c);
  const unseen = [];
  for (const el of document.querySelectorAll(reachable)) {
    if (el.disabled || el.tabIndex < 0 || !el.checkVisibility()) continue;
    el.focus();
    if (document.activeElement !== el) continue;
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2
      && !clear(s.outlineColor);
    if (el.matches(':focus-visible') && (outline || s.boxShadow !== 'none')) continue;
    const cls = typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    const name = (el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 30);
    unseen.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${cls} "${name}"`);
  }
  document.activeElement.blur();
  return unseen;
}"""


@dataclass(frozen=True)
class Pass:
    """One way of looking at every page."""

    name: str
    viewport: dict
    # The dark colour scheme: its colours only, on the pages whose colours differ by who looks
    # (the visitor's pages that a member sees too add nothing).
    dark: bool = False


PASSES = [Pass("desktop", DESKTOP), Pass("phone", PHONE), Pass("desktop-dark", DESKTOP, dark=True)]
COLOURS_ONLY = {"runOnly": {"type": "rule", "values": ["color-contrast"]}, **AXE_OPTIONS}


SWAGGER_MARKUP = ("nested-interactive", "heading-order", "region")
ROOM_STATES = (
    State("room-about", "[data-about-toggle]", "[data-about]"),
    State("room-who", "[data-who-toggle]", "[data-who-panel]"),
    State("room-gif-picker", "[data-gif-toggle]", "[data-gif-panel]", visitor=False),
    State("room-member-menu", ".msg__author--menu >> nth=-1", "[role=menu]", visitor=False),
    State("room-moderation", "[data-mod-open]", "[data-mod-panel]", visitor=False),
)


def open_state(page: Page, state: State) -> bool:
    """Open it as a person would; False when this page (or viewport) does not offer it."""
    opener = page.locator(state.opener).first
    if not opener.count() or not opener.is_visible():
        return False
    opener.click()
    expect(page.locator(state.shown).first).to_be_visible()
    settle(page)
    return True


def close_state(page: Page, state: State) -> None:
    """Escape, from where the focus was when it opened (the focus check moved it)."""
    shown = page.locator(state.shown).first
    if not page.evaluate("() => document.querySelector('dialog[open]') !== null"):
        page.locator(state.opener).first.focus()
    if shown.is_visible():
        page.keyboard.press("Escape")
    try:
        expect(shown).to_be_hidden(timeout=2_000)
    except AssertionError:  # a panel that Escape closes only from inside: its button again
        page.locator(state.opener).first.click()
        expect(shown).to_be_hidden()


def test_every_page_passes_axe_logged_out_and_in_on_desktop_and_phone(live, browsers, tmp_path):
    visits, owner = the_site(live)
    deployed = debug_off_web(live, tmp_path / "static")
    found: list[Violation] = []
    unfocused: list[str] = []
    unready: list[str] = []
    checked: list[str] = []

    def open_as(who: str, view: Pass, base: str | None = None) -> Page:
        page = browsers.page(viewport=view.viewport, base=base)
        if view.dark:
            page.emulate_media(color_scheme="dark")
        if who == "member":
            login(page, owner.username)
        return page

    def check(page: Page, name: str, who: str, view: Pass, *, shot: bool, exempt=()) -> None:
        nonlocal found, unfocused
        options = COLOURS_ONLY if view.dark else AXE_OPTIONS
        if exempt and not view.dark:
            options = {**options, "rules": {rule: {"enabled": False} for rule in exempt}}
        found += violations(page, name, who, view.name, options)
        checked.append(f"{name} [{who}, {view.name}]")
        if view.dark:
            return
        if shot:
            screenshot(page, f"a11y-{name}-{view.name}")
        if view.name == "desktop":
            unfocused += focus_misses(page, f"{name} [{who}]")

    try:
        for view in PASSES:
            for who in ("visitor", "member"):
                page = open_as(who, view)
                for visit in visits:
                    if not (visit.member if who == "member" else visit.visitor):
                        continue
                    if view.dark and who == "visitor" and visit.member:
                        continue
                    shot = who == "member" or not visit.member
                    response = page.goto(visit.path)
                    try:
                        assert response.ok, f"{visit.path} answered {response.status}"
                        visit.ready(page)
                        settle(page)
                    except (AssertionError, PlaywrightError) as exc:
                        unready.append(f"{visit.name} [{who}, {view.name}]: {exc}")
                        screenshot(page, f"a11y-unready-{visit.name}-{view.name}")
                        continue
                    check(page, visit.name, who, view, shot=shot, exempt=visit.exempt)
                    for state in visit.states:
                        if who == "visitor" and not state.visitor:
                            continue
                        try:
                            if not open_state(page, state):
                                continue
                        except (AssertionError, PlaywrightError) as exc:
                            unready.append(f"{state.name} [{who}, {view.name}]: {exc}")
                            continue
                        check(page, state.name, who, view, shot=shot)
                        close_state(page, state)
                page.context.close()

                # The site's own 404 page, from a server with DEBUG off.
                page = open_as(who, view, base=deployed.http)
                page.goto("/no-such-page/")
                settle(page)
                expect(page.locator("h1")).to_have_text("찾을 수 없어요")
                check(page, "not-found", who, view, shot=who == "member")
                page.context.close()
    finally:
        deployed.stop()
        # The 404 page's own status, which the browser logs as an error, is what was asked for.
        browsers.watched.errors[:] = [
            e for e in browsers.watched.errors if not re.search(r"status of 404 .*/no-such-", e)
        ]
    # Every page, logged out and in, on the desktop and the phone (the phone's room also has
    # its details panel).
    for name in ("rooms", "room", "room-who", "hakwon", "member", "not-found"):
        for who in ("visitor", "member"):
            for view in ("desktop", "phone"):
                assert f"{name} [{who}, {view}]" in checked or unready
    assert "room-about [member, phone]" in checked or unready
    by_rule = Counter(f"{v.rule} ({v.impact})" for v in found)
    problems = []
    if unready:
        problems.append("pages that did not come up:\n" + "\n".join(unready))
    if found:
        problems.append(
            f"axe found {len(found)} violations over {len(checked)} checks: {dict(by_rule)}\n"
            + "\n".join(map(str, found))
        )
    unfocused = list(dict.fromkeys(unfocused))
    if unfocused:
        problems.append("focus not shown on:\n" + "\n".join(unfocused))
    assert problems == [], "\n\n".join(problems)


def test_new_messages_and_captions_are_announced_politely(live, browsers):
    """What arrives while a person reads is in a polite live region: the room's messages in
    its log (role="log" is polite), a new caption in the hakwon page's own region."""
    room = make_room(name="알림 방")
    alice, bob = make_user(nickname="앨리스"), make_user(nickname="밥")
    a = open_room(browsers.page(alice, viewport=PHONE), room)
    b = open_room(browsers.page(bob), room)
    log = a.locator("[data-log]")
    expect(log).to_have_attribute("role", "log")
    assert log.get_attribute("aria-live") in (None, "polite")  # never "assertive"
    send(b, "새 소식 있어요")
    expect(log.locator(".msg__body")).to_have_text(["새 소식 있어요"])
    # Nothing else on the page shouts: every live region is polite (alerts are for errors).
    assert a.locator("[aria-live=assertive]").count() == 0

    hakwon = make_hakwon(image_url=f"{live.web.http}/static/img/sample-zzal.svg")
    a, b = open_hakwon(a), open_hakwon(b)
    heard = a.locator("[data-new-live]")
    expect(heard).to_have_attribute("aria-live", "polite")
    expect(heard).to_be_empty()
    post(b, "출근길 내 표정")
    expect(heard).to_have_text("새 댓글: 출근길 내 표정")
    expect(a.locator(".comments > .comment .comment__content")).to_have_text(["출근길 내 표정"])
    # A reader further down keeps their place; the count behind the button is read out.
    for i in range(8):
        make_comment(hakwon=hakwon, content=f"예전 캡션 {i}")
    open_hakwon(a, hakwon)
    a.locator("[data-comments] > .comment").last.scroll_into_view_if_needed()
    post(b, "퇴근길 내 표정")
    expect(a.locator("[data-new-comments]")).to_be_visible()
    expect(heard).to_have_text("새 댓글 1개")
