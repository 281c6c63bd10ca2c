"""The relay loop: poll a batch from Kafka, let each topic's handler store and announce it, then
commit. Nothing is committed before its batch is stored and announced, so a crash anywhere
re-delivers; handlers are idempotent, and receivers drop what they already have.

Batch handlers are plain functions (``chat.relay.handle_batch``, ``comments.relay.handle_batch``)
that take records and an ``announce`` callable; they never see a Kafka client.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer
from django.db import close_old_connections

from . import envelope

logger = logging.getLogger(__name__)

GroupMessage = tuple[str, dict[str, Any]]
Announce = Callable[[list[GroupMessage]], None]
Handler = Callable[..., int]


class Announcer:
    """Sends group messages from synchronous code over one long-lived event loop.

    The channel layer keeps its Redis connections per event loop, so reusing one loop keeps
    them warm. Raises if Redis cannot take a message: the caller retries, uncommitted.
    """

    def __init__(self, layer=None):
        self.loop = asyncio.new_event_loop()
        self.layer = layer or get_channel_layer()

    def __call__(self, messages: list[GroupMessage]) -> None:
        if messages:
            self.loop.run_until_complete(self._send(messages))

    async def _send(self, messages: list[GroupMessage]) -> None:
        for group, message in messages:  # one after another: keeps per-group order
            await self.layer.group_send(group, message)

    def close(self) -> None:
        self.loop.close()


class Backoff:
    def __init__(self, first: float = 0.2, cap: float = 10.0):
        self.first, self.cap, self.delay = first, cap, first

    def wait(self, stop: threading.Event) -> None:
        stop.wait(self.delay)
        self.delay = min(self.cap, self.delay * 2)

    def reset(self) -> None:
        self.delay = self.first


def decode_record(record, required: dict[str, tuple[str, ...]]) -> dict[str, Any] | None:
    """The record's envelope if its type is one of ``required``'s and has those fields; else
    None, logged. A record the relay cannot use must not stop the partition behind it."""
    try:
        event = envelope.decode(record.value)
    except ValueError:
        logger.error("skipping undecodable record at %s/%s", record.partition, record.offset)
        return None
    missing = [f for f in required.get(event["type"], ()) if f not in event]
    if event["type"] not in required or missing:
        logger.error(
            "skipping %s record at %s/%s (missing %s)",
            event["type"],
            record.partition,
            record.offset,
            missing,
        )
        return None
    return event


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for loops that finish their round before exiting."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def handle_until_done(
    handler: Handler, records: list, announce: Announce, stop: threading.Event
) -> bool:
    """Run a batch handler until it succeeds; database or Redis failures are retried with
    backoff. Returns False if asked to stop before the batch could be handled."""
    backoff = Backoff()
    while True:
        try:
            close_old_connections()
            handler(records, announce=announce)
            return True
        except Exception:
            logger.exception("batch of %d record(s) failed; retrying", len(records))
            if stop.is_set():
                return False
            backoff.wait(stop)


def by_topic(polled: dict) -> dict[str, list]:
    """Records of one poll grouped by topic, each partition's records in offset order."""
    grouped: dict[str, list] = defaultdict(list)
    for (topic, _partition), records in polled.items():
        grouped[topic].extend(records)
    return grouped


class Throughput:
    """Logs records/s and consumer lag about every ``every`` seconds."""

    def __init__(self, every: float = 10.0):
        self.every, self.count, self.since = every, 0, time.monotonic()

    def add(self, n: int, consumer) -> None:
        self.count += n
        elapsed = time.monotonic() - self.since
        if elapsed < self.every:
            return
        logger.info(
            "relay: %.1f records/s over %.0fs, lag %s",
            self.count / elapsed,
            elapsed,
            consumer.lag(),
        )
        self.count, self.since = 0, time.monotonic()


def run_relay(
    *,
    consumer,
    handlers: dict[str, Handler],
    announce: Announce,
    stop: threading.Event,
    log_every: float = 10.0,
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Poll, handle, commit, until ``stop`` is set (the current batch is finished first)."""
    stats = Throughput(log_every)
    while not stop.is_set():
        polled = consumer.poll(timeout_ms=250)
        records = by_topic(polled)
        if not records:
            consumer.commit()  # a quiet moment: send what the interval held back
            stats.add(0, consumer)
            continue
        if not all(
            handle_until_done(handlers[topic], batch, announce, stop)
            for topic, batch in records.items()
        ):
            logger.warning("stopping with an unhandled batch; it will be redelivered")
            return
        consumer.commit()  # after store and announce; a lost commit only redelivers
        count = sum(len(batch) for batch in records.values())
        stats.add(count, consumer)
        if on_batch:
            on_batch(count)
