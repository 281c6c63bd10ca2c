"""One loop for every long-running command: the Kafka relay, the outbox sweeper and the hakwon
scheduler.

A worker implements ``step()``: one round of work, returning how much it did. The loop around it
is the same for all of them: SIGTERM/SIGINT finish the current round and stop; a round that
raises is retried with exponential backoff (logged once when it starts failing and once when it
recovers, not on every retry); after every good round the worker beats in Redis, so ``/readyz``
can tell a live worker from one that died or is stuck; idle rounds log nothing.

What to do with a record that can never be handled (dead letters) is the relay's business
(``zzalu.relay``); the loop only sees rounds that worked or failed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from redis import RedisError

from . import metrics
from .heap import settle
from .redis import get_redis, key

logger = logging.getLogger("zzalu.worker")


class Backoff:
    def __init__(self, first: float = 0.2, cap: float = 10.0):
        self.first, self.cap, self.delay = first, cap, first

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.delay)
        self.delay = min(self.cap, self.delay * 2)

    def reset(self) -> None:
        self.delay = self.first


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for loops that finish their round before exiting."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# --- heartbeat -------------------------------------------------------------------------------


def heartbeat_key(name: str) -> str:
    return key("heartbeat", name)


class Heartbeat:
    """Each instance of a worker keeps its last good round's time in a sorted set per worker
    kind; readers ask whether any instance beat recently."""

    def __init__(self, name: str, every: float = 1.0):
        self.name, self.every = name, every
        self.member = f"{socket.gethostname()}:{os.getpid()}"
        self.last = 0.0

    def beat(self) -> None:
        metrics.WORKER_LAST_BEAT.labels(self.name).set(time.time())
        if time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        try:
            now = redis_now()  # one clock for writers and readers on different hosts
            pipe = get_redis().pipeline()
            pipe.zadd(heartbeat_key(self.name), {self.member: now})
            pipe.zremrangebyscore(heartbeat_key(self.name), "-inf", now - 86400)  # long gone
            pipe.execute()
        except RedisError:  # Redis is down: readers see it as down before they see us stale
            logger.debug("heartbeat not recorded", exc_info=True)

    def forget(self) -> None:
        try:
            get_redis().zrem(heartbeat_key(self.name), self.member)
        except RedisError:
            pass


def redis_now() -> float:
    seconds, micros = get_redis().time()
    return seconds + micros / 1e6


def heartbeat_age(name: str) -> float | None:
    """Seconds since any instance of worker ``name`` finished a good round (None: never)."""
    newest = get_redis().zrevrange(heartbeat_key(name), 0, 0, withscores=True)
    return redis_now() - newest[0][1] if newest else None


# --- the loop --------------------------------------------------------------------------------


class Worker:
    """One kind of long-running work. Subclasses implement ``step``; ``idle`` is how long to
    wait after a round that found nothing to do (a step that blocks by itself, like a Kafka
    poll, sets it to 0)."""

    name = "worker"
    idle: float = 1.0
    backoff_first, backoff_cap = 0.2, 10.0

    def start(self) -> None:
        """Open clients; runs once before the first round."""

    def step(self) -> int:
        raise NotImplementedError

    def alive(self) -> bool:
        """Whether a good round also means the worker can do its job (beats only then)."""
        return True

    def wait_idle(self, stop: threading.Event) -> None:
        if self.idle:
            stop.wait(self.idle)

    def close(self) -> None:
        """Release clients; runs once, also after a failure."""


def run_worker(worker: Worker, *, stop: threading.Event, metrics_port: int = 0) -> None:
    """Run ``worker`` until ``stop`` is set; the current round is finished first."""
    metrics.serve_metrics(metrics_port)
    beat = Heartbeat(worker.name)
    backoff = Backoff(worker.backoff_first, worker.backoff_cap)
    failing_since: float | None = None
    worker.start()
    logger.info("%s started", worker.name)
    try:
        while not stop.is_set():
            try:
                close_old_connections()  # a connection broken by a failure is replaced here
                done = worker.step()
            except Exception as exc:
                metrics.WORKER_FAILURES.labels(worker.name).inc()
                if failing_since is None:
                    failing_since = time.monotonic()
                    logger.exception("%s: round failed; retrying with backoff", worker.name)
                else:
                    logger.debug("%s: still failing: %r", worker.name, exc)
                backoff.wait(stop)
                continue
            if failing_since is not None:
                logger.warning(
                    "%s recovered after %.1fs", worker.name, time.monotonic() - failing_since
                )
                failing_since = None
            backoff.reset()
            if worker.alive():
                beat.beat()
            if not done:
                worker.wait_idle(stop)
    finally:
        worker.close()
        beat.forget()
        logger.info("%s stopped", worker.name)


class WorkerCommand(BaseCommand):
    """A management command that runs one Worker: shared options (``--metrics-port``, whose
    default is the setting named by ``metrics_port_setting``), signals and the loop."""

    metrics_port_setting = ""

    def add_arguments(self, parser):
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=getattr(settings, self.metrics_port_setting, 0),
            help="serve Prometheus metrics on this port (0: don't)",
        )

    def make_worker(self, stop: threading.Event, **options) -> Worker:
        raise NotImplementedError

    def handle(self, *args, metrics_port, **options):
        stop = stop_on_signals()
        worker = self.make_worker(stop, **options)
        settle()
        run_worker(worker, stop=stop, metrics_port=metrics_port)
