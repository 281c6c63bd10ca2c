"""Fixtures: the real services, the running stack (web + relay) and model factories.

Kafka and Redis must be running (``make test`` starts them with ``ops/services.py``). When
they are not, every test that needs them errors with a message saying so; nothing is skipped.

``pytest --fast`` (``make test-fast``) is the inner loop: only the tests that need no Kafka, no
Redis, no browser and no server process of the stack, on Kafka and Redis addresses where nothing
listens, so a test that needs them after all fails loudly instead of passing on the real ones.
"""

from __future__ import annotations

import io
import itertools
import os
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test.utils import override_settings
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


def pytest_addoption(parser):
    parser.addoption(
        "--fast",
        action="store_true",
        help="only the tests that need no Kafka, Redis, browser or server process (the others "
        "are deselected), with Kafka and Redis pointed at a port where nothing listens",
    )


def pytest_configure(config):
    if config.getoption("fast"):
        close_the_services()


def pytest_collection_modifyitems(config, items):
    """``postgres``, ``browser`` and ``outage`` tests run on PostgreSQL only: on the SQLite
    pass of ``make test`` they are deselected (not skipped), so nothing reads as skipped and the
    fuzzing, the browser walks and the outages run once, on the database production runs.
    Under ``--fast``, so are the tests that need the services."""
    on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    fast = config.getoption("fast")
    deselected = [
        item
        for item in items
        if (
            not on_postgres
            and any(item.get_closest_marker(m) for m in ("postgres", "browser", "outage"))
        )
        or (fast and needs_services(item))
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        gone = set(deselected)
        items[:] = [item for item in items if item not in gone]


# --- the fast tier (`pytest --fast`) --------------------------------------------------------

# Where nothing listens: a test of the fast tier that reaches for Kafka or Redis fails at once.
CLOSED_KAFKA = "127.0.0.1:1"
CLOSED_REDIS = "redis://127.0.0.1:1/0"


def close_the_services() -> None:
    """Point this process, and the interpreters its tests start, at the closed addresses."""
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = CLOSED_KAFKA
    os.environ["REDIS_URL"] = os.environ["CHANNEL_LAYER_HOSTS"] = CLOSED_REDIS
    cache = {**settings.CACHES["default"], "LOCATION": CLOSED_REDIS}
    layer = settings.CHANNEL_LAYERS["default"]
    override_settings(  # its setting_changed signals reset the cache and channel layer handlers
        KAFKA_BOOTSTRAP_SERVERS=[CLOSED_KAFKA],
        REDIS_URL=CLOSED_REDIS,
        CACHES={**settings.CACHES, "default": cache},
        CHANNEL_LAYERS={
            "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [CLOSED_REDIS]}}
        },
    ).enable()


# A test needs Kafka, Redis, a browser or a server process when it has one of these markers...
SERVICE_MARKERS = ("services", "browser", "cluster")
# ... or when it uses one of these fixtures, directly or through another fixture. pytest-django's
# clients and ``api``/``member_api`` are among them: every request crosses axes' lockout check
# and the DRF throttles, which count in the Redis cache.
SERVICE_FIXTURES = {
    "real_services",
    "stack",
    "live",
    "browsers",
    "api",
    "member_api",
    "client",
    "admin_client",
    "async_client",
    "async_admin_client",
    "live_server",
}


def needs_services(item) -> bool:
    """Whether a test needs Kafka, Redis, a browser or a server process: by its markers or its
    fixtures. A test that reaches them in its own code (it builds a client, opens a socket,
    starts a process, talks to Kafka, Redis, the cache or the channel layer) says so with
    ``@pytest.mark.services`` (or ``pytestmark = pytest.mark.services`` for a whole module);
    forgetting it fails loudly under ``--fast``, where the services' addresses are closed."""
    if any(item.get_closest_marker(name) for name in SERVICE_MARKERS):
        return True
    return bool(SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())))


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

    def me_socket(self, user: User | None = None, **q) -> Socket:
        return Socket(self.socket_url("/ws/me/", user, **q))

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


@pytest.fixture(scope="session", autouse=True)
def _flush_outlasts_a_deadlock():
    """After each test the database is flushed (one TRUNCATE of every table) while the stack's
    relay may still be storing the test's last message; on PostgreSQL the two can deadlock and
    the database aborts one of them. The relay retries its batch by itself; the flush is
    retried here (it runs in one transaction, so a failed try leaves nothing behind)."""
    from django.core.management.base import CommandError
    from django.core.management.commands import flush

    handle = flush.Command.handle

    def handle_retrying(self, *args, **options):
        for attempt in range(1, 4):
            try:
                return handle(self, *args, **options)
            except CommandError as exc:
                if attempt == 3 or "deadlock detected" not in str(exc.__cause__):
                    raise
                time.sleep(0.5)

    flush.Command.handle = handle_retrying
    yield
    flush.Command.handle = handle


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


def small_gif(frames: int = 3, size: tuple[int, int] = (32, 24)) -> bytes:
    """A real animated GIF, drawn here (uploads are recognised by content)."""
    from PIL import Image, ImageDraw

    pictures = []
    for i in range(frames):
        picture = Image.new("RGB", size, (40 * i % 256, 120, 200))
        ImageDraw.Draw(picture).rectangle((i * 4, 4, i * 4 + 8, 12), fill=(255, 220, 0))
        pictures.append(picture)
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=80, loop=0)
    return out.getvalue()


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


def store_messages(room, sender, bodies) -> list:
    """Stored messages as the relay stores them (numbered per room), without a socket or
    Kafka: ``bodies`` is a list of texts, or a count of "m<i>" ones."""
    import uuid

    from django.utils import timezone

    from chat import events
    from chat.services import IncomingMessage, message_store_batch

    if isinstance(bodies, int):
        bodies = [f"m{i}" for i in range(bodies)]
    return message_store_batch(
        items=[
            IncomingMessage(
                events.message_record(
                    event_id=str(uuid.uuid4()),
                    room_id=room.pk,
                    sender=sender.public_profile,
                    body=body,
                    gif_url=None,
                    client_msg_id=f"seed-{uuid.uuid4().hex}",
                    sent_at=timezone.now(),
                )
            )
            for body in bodies
        ]
    )
