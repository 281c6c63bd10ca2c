"""Fixtures: the real services, the running stack (web + relay) and model factories.

Kafka and Redis must be running (``make test`` starts them with ``ops/services.sh``). When
they are not, every test that needs them errors with a message saying so; nothing is skipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from chat.models import ChatRoom
from chat.services import room_create

from .procs import Relay, Sweeper, WebServer, Worker
from .ws import Socket

_seq = itertools.count(1)


def pytest_sessionstart(session):
    """Forget the files of test sessions older than a day (each session has its own folder)."""
    import shutil
    import time

    for run_dir in (settings.BASE_DIR / ".local" / "test").glob("*"):
        if run_dir != settings.TEST_RUN_DIR and time.time() - run_dir.stat().st_mtime > 86400:
            shutil.rmtree(run_dir, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """``postgres`` tests run on PostgreSQL only: on the SQLite pass of ``make test`` they are
    deselected (not skipped), so nothing reads as skipped and the fuzzing runs once."""
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


# --- real services --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_services():
    """Kafka and Redis, as started by the repo's scripts; the session's topics created."""
    from zzalu.kafka import ensure_topics, kafka_ready, make_admin, topic_specs
    from zzalu.redis import get_redis

    try:
        get_redis().ping()
    except Exception as exc:
        raise RuntimeError(
            f"Redis is not reachable at {settings.REDIS_URL} ({exc}); run `make services`."
        ) from exc
    try:
        kafka_ready(timeout_ms=5000)
    except Exception as exc:
        raise RuntimeError(
            f"Kafka is not reachable at {settings.KAFKA_BOOTSTRAP_SERVERS} ({exc}); "
            "run `make services`."
        ) from exc
    ensure_topics()
    yield
    admin = make_admin()
    try:
        admin.delete_topics(list(topic_specs()))
    except Exception:  # the broker may be down after a disruptive test; topics are prefixed
        pass
    finally:
        admin.close()
    redis = get_redis()
    for key in redis.scan_iter(f"{settings.REDIS_PREFIX}*"):
        redis.delete(key)


@dataclass
class Stack:
    """The running system: web server(s) and relay(s) on the test database."""

    web: WebServer
    relay: Worker
    sweeper: Worker
    extra: list = field(default_factory=list)

    def socket_url(self, path: str, user: User | None = None, web: WebServer | None = None, **q):
        if user is not None:
            q["token"] = str(AccessToken.for_user(user))
        query = f"?{urlencode(q)}" if q else ""
        return f"{(web or self.web).ws}{path}{query}"

    def room_socket(self, room: ChatRoom | int, user: User | None = None, **q) -> Socket:
        room_id = room if isinstance(room, int) else room.pk
        return Socket(self.socket_url(f"/ws/rooms/{room_id}/", user, **q))

    def hakwon_socket(self, hakwon_id: int, user: User | None = None, **q) -> Socket:
        return Socket(self.socket_url(f"/ws/hakwons/{hakwon_id}/", user, **q))

    def start_web(self, name: str, **env) -> WebServer:
        web = WebServer(name, **env).start()
        self.extra.append(web)
        return web


@pytest.fixture(scope="session", autouse=True)
def _drop_leftover_db_sessions(django_db_setup, django_db_blocker):
    """Let PostgreSQL drop the test database at the end: connections opened by worker threads
    (``database_sync_to_async``) are thread-local, so the session's teardown cannot close them."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def stack(real_services, django_db_setup, django_db_blocker):
    web = WebServer("web").start()
    relay = Relay("relay").start()
    sweeper = Sweeper("sweeper").start()
    running = Stack(web=web, relay=relay, sweeper=sweeper)
    yield running
    for proc in [*running.extra, sweeper, relay, web]:
        if proc.running:
            proc.stop()


@pytest.fixture
def live(stack, transactional_db):
    """The running stack, with data committed so its processes can see it."""
    for worker in (stack.relay, stack.sweeper):
        if not worker.running:  # a test stopped it and failed before restarting it
            worker.start()
    return stack


# --- factories ------------------------------------------------------------------------------


def make_user(*, nickname: str | None = None, staff: bool = False, **fields) -> User:
    n = next(_seq)
    user = User(
        username=fields.pop("username", f"member{n}"),
        nickname=nickname or f"멤버{n}",
        is_staff=staff,
        **fields,
    )
    user.set_password("pw-for-tests-1234")
    user.save()
    return user


def make_room(*, owner: User | None = None, name: str | None = None, tags=()) -> ChatRoom:
    owner = owner or make_user()
    return room_create(owner=owner, name=name or f"room {next(_seq)}", tags=list(tags))


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def member():
    return make_user()


@pytest.fixture
def member_api(member):
    client = APIClient()
    client.force_authenticate(member)
    client.user = member
    return client


def make_hakwon(*, state: str = "PROCEED", open_date=None, image_url="https://img.test/today.jpg"):
    from datetime import timedelta

    from comments.models import TitleHakwon
    from comments.selectors import hakwon_today

    if open_date is None:
        latest = TitleHakwon.objects.order_by("-open_date").first()
        open_date = latest.open_date + timedelta(days=1) if latest else hakwon_today()
    return TitleHakwon.objects.create(open_date=open_date, state=state, image_url=image_url)


def make_comment(*, hakwon, author=None, content="캡션", parent=None, likes: int = 0):
    from comments.models import Comment

    comment = Comment.objects.create(
        hakwon=hakwon, author=author or make_user(), content=content, parent=parent
    )
    if likes:
        Comment.objects.filter(pk=comment.pk).update(like_count=likes)
        comment.refresh_from_db()
    return comment
