"""The relay loop: poll a batch from Kafka, let each topic's handler store and announce it, then
commit. Nothing is committed before its batch is stored and announced, so a crash anywhere
re-delivers; handlers are idempotent, and receivers drop what they already have.

Batch handlers are plain functions (``chat.relay.handle_batch``, ``comments.relay.handle_batch``)
that take records and an ``announce`` callable; they never see a Kafka client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import redis
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings
from django.db import InterfaceError, InternalError, OperationalError
from redis import RedisError

from . import envelope, metrics
from .health import probe
from .kafka import KafkaUnavailable
from .worker import Worker

logger = logging.getLogger(__name__)

GroupMessage = tuple[str, dict[str, Any]]
Announce = Callable[[list[GroupMessage]], None]
Handler = Callable[..., int]
DeadLetter = Callable[[Any, Exception, int], None]

LAG_EVERY = 1.0  # seconds between readings of the consumer's lag

# Failures of what the relay depends on: retried with backoff, never dead-lettered.
# InternalError: e.g. a read-only database during a failover, while SELECT 1 still answers.
TRANSIENT = (
    OperationalError, InterfaceError, InternalError, RedisError, KafkaUnavailable, OSError
)  # fmt: skip


class Announcer:
    """Sends group messages from synchronous code, in order; raises if Redis cannot take them
    (the caller retries, uncommitted).

    With the Redis pub/sub layer (the default) a batch's messages go out in one pipelined round
    trip (``PubSubPublisher``); with another layer, one ``group_send`` after another over one
    long-lived event loop (the layer keeps its Redis connections per event loop).
    """

    def __init__(self, layer=None):
        self.layer = layer or get_channel_layer()
        self.publisher = PubSubPublisher.for_layer(self.layer)
        self.loop = None if self.publisher else asyncio.new_event_loop()

    def __call__(self, messages: list[GroupMessage]) -> None:
        if not messages:
            return
        if self.publisher:
            self.publisher.publish(messages)
        else:
            self.loop.run_until_complete(self._send(messages))

    async def _send(self, messages: list[GroupMessage]) -> None:
        for group, message in messages:  # one after another: keeps per-group order
            await self.layer.group_send(group, message)

    def close(self) -> None:
        if self.publisher:
            self.publisher.close()
        if self.loop:
            self.loop.close()


class PubSubPublisher:
    """``RedisPubSubChannelLayer.group_send`` for many messages in one round trip per host.

    The layer publishes a group message, serialized, on the Redis channel
    ``<prefix>__group__<group>`` of the host that name hashes to; this does the same for a whole
    batch, the commands of each host written at once and their replies read after, in order
    (so per-group order is kept). One round trip per message cost the relay about 0.2 ms of CPU
    each (docs/decisions/0015); redis-py's pipeline object about 0.07 ms a batch more than its
    connection alone (0017). tests/test_relay_announcer.py checks that the layer's own
    receivers get them.
    """

    def __init__(self, layer: RedisPubSubChannelLayer, hosts: list[dict[str, Any]]):
        self.layer = layer
        self.prefix = layer._kwargs.get("prefix", "asgi")
        # One connection per host, opened on first use and again after a failure; a Redis that
        # does not answer fails the batch within seconds (the relay retries it).
        self.connections = [
            redis.Redis.from_url(
                host["address"], socket_timeout=2, socket_connect_timeout=2
            ).connection_pool.make_connection()
            for host in hosts
        ]

    @classmethod
    def for_layer(cls, layer) -> PubSubPublisher | None:
        """A publisher for a pub/sub layer whose hosts are Redis URLs (None for other layers,
        or Sentinel hosts: those keep group_send)."""
        if not isinstance(layer, RedisPubSubChannelLayer) or layer._args:
            return None
        hosts = decode_hosts(layer._kwargs.get("hosts"))
        if any(set(host) != {"address"} for host in hosts):
            return None
        return cls(layer, hosts)

    def publish(self, messages: list[GroupMessage]) -> None:
        commands: dict[int, list[tuple]] = defaultdict(list)
        for group, message in messages:
            channel = f"{self.prefix}__group__{group}"
            host = _consistent_hash(channel, len(self.connections))
            commands[host].append(("PUBLISH", channel, self.layer.serialize(message)))
        for host, publishes in commands.items():
            try:
                self._send(self.connections[host], publishes)
            except (redis.ConnectionError, redis.TimeoutError):
                # Once more on a new connection: the kept one may have outlived a Redis restart.
                # A message sent twice is dropped by its receivers (they number what they got).
                self._send(self.connections[host], publishes)

    @staticmethod
    def _send(connection, publishes: list[tuple]) -> None:
        try:
            connection.send_packed_command(connection.pack_commands(publishes), check_health=False)
            for _ in publishes:
                connection.read_response()
        except BaseException:
            connection.disconnect()  # unread replies must not answer the next batch
            raise

    def close(self) -> None:
        for connection in self.connections:
            connection.disconnect()


class PoisonRecord(ValueError):
    """A record that can never be handled: not JSON, not our contract, or fields that can
    never be stored. It goes to the dead letters without a second try."""


def row_id(value: Any) -> int:
    """A primary key from a record: a JSON integer from 1 to 2**63 - 1, or ValueError (not a
    string or a fraction that int() would quietly turn into someone else's id; a larger number
    would fail the database query, not the record's check)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ValueError(f"not an id: {value!r}"[:100])
    return value


def decode_record(record, required: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The record's envelope if its type is one of ``required``'s and has those fields;
    raises PoisonRecord otherwise."""
    try:
        event = envelope.decode(record.value)
    except (ValueError, TypeError) as exc:
        raise PoisonRecord(f"not an event envelope: {exc}") from exc
    if event["type"] not in required:
        raise PoisonRecord(f"unknown event type {event['type'][:100]!r}")
    missing = [f for f in required[event["type"]] if f not in event]
    if missing:
        raise PoisonRecord(f"{event['type']} without {', '.join(missing)}")
    return event


def by_topic(polled: dict) -> dict[str, list]:
    """Records of one poll grouped by topic, each partition's records in offset order."""
    grouped: dict[str, list] = defaultdict(list)
    for (topic, _partition), records in polled.items():
        grouped[topic].extend(records)
    return grouped


def dependencies_answer() -> bool:
    """Whether the database and Redis answer now: a record that fails while they do is the
    record's fault, not theirs."""
    return probe("database") and probe("redis")


class Relay(Worker):
    """Poll, handle each topic's records, commit — and move past records that can't be handled.

    A batch that fails is split in halves until the failing record stands alone; its
    batch-mates are handled without it, in log order. A record that fails alone
    ``RELAY_POISON_ATTEMPTS`` times while the database and Redis answer (at once, for a
    PoisonRecord) is handed to ``dead_letter`` (which writes ``<topic>.dlq``), and the relay
    moves on: it is committed with the rest. A failure of the dependencies themselves
    (database, Redis, broker) leaves the work where it is: the loop retries it with backoff,
    and nothing is dead-lettered.
    """

    name = "relay"
    idle = 0  # poll() waits by itself

    def __init__(self, *, consumer, handlers: dict[str, Handler], announce: Announce,
                 dead_letter: DeadLetter, log_every: float = 10.0,
                 max_batch: int = 500):  # fmt: skip
        self.consumer, self.handlers, self.announce = consumer, handlers, announce
        self.dead_letter = dead_letter
        # Polled and not yet handled, oldest first: retried after a failure, never re-polled.
        self.pending: deque[tuple[str, list]] = deque()
        self.attempts: dict[tuple[str, int, int], int] = defaultdict(int)
        self.log_every, self.count, self.since = log_every, 0, time.monotonic()
        self.max_batch = max_batch
        self.lags: dict[tuple[str, int], int] = {}
        self.lag_measured_at = -LAG_EVERY
        self.lag_measured_idle = True  # the last reading was after an empty poll
        self.lag = metrics.LagCollector(lambda: self.lags)

    def step(self) -> int:
        if not self.pending:
            polled = by_topic(self.consumer.poll(timeout_ms=250, max_records=self.max_batch))
            self._measure_lag(idle=not polled)
            if not polled:
                self.consumer.commit()  # a quiet moment: send what the interval held back
                self._report(0)
                return 0
            self.pending.extend(polled.items())
        count = 0
        while self.pending:
            topic, records = self.pending[0]
            started = time.perf_counter()
            self._handle(topic, records)
            metrics.BATCH_SECONDS.labels(topic).observe(time.perf_counter() - started)
            self.pending.popleft()
            count += len(records)
        self.attempts.clear()
        self.consumer.commit()  # after store and announce; a lost commit only redelivers
        self._report(count)
        return count

    def _handle(self, topic: str, records: list) -> None:
        """Handle ``records``, isolating and dead-lettering any that can never be handled.
        Raises (leaving ``records`` to retry) when the failure is not the records' own."""
        chunks = [records]
        while chunks:
            chunk = chunks[-1]
            try:
                self.handlers[topic](chunk, announce=self.announce)
            except Exception as exc:
                if isinstance(exc, TRANSIENT):
                    self._requeue(topic, records, chunks)
                    raise
                if len(chunk) > 1:
                    middle = len(chunk) // 2
                    chunks[-1:] = [chunk[middle:], chunk[:middle]]  # left half first
                    continue
                record = chunk[0]
                where = (record.topic, record.partition, record.offset)
                self.attempts[where] += 1  # failures alone, not those of its batches
                tries = self.attempts[where]
                if not isinstance(exc, PoisonRecord):
                    if not dependencies_answer():
                        self._requeue(topic, records, chunks)
                        raise
                    if tries < settings.RELAY_POISON_ATTEMPTS:
                        continue
                try:
                    self._dead_letter(record, exc, tries)
                except Exception:  # Kafka or the database is away: this record waits
                    self._requeue(topic, records, chunks)
                    raise
                chunks.pop()
                continue
            metrics.RECORDS_HANDLED.labels(topic).inc(len(chunk))
            chunks.pop()

    def _measure_lag(self, *, idle: bool) -> None:
        """Lag after a poll, at most every LAG_EVERY seconds, and after the first poll that
        found records since a reading at an idle one: local calls to the client, no broker
        round trip, but two per partition (about 0.1 ms a poll, as much as a small batch's
        Kafka work). A relay stuck in a batch keeps this figure (so it must be read after
        that batch was polled, not before); its heartbeat goes stale."""
        now = time.monotonic()
        if now - self.lag_measured_at >= LAG_EVERY or (self.lag_measured_idle and not idle):
            self.lags, self.lag_measured_at = self.consumer.lag(), now
            self.lag_measured_idle = idle

    def _requeue(self, topic: str, records: list, chunks: list[list]) -> None:
        """What is left of ``records`` (the chunks not yet handled, in log order) is retried."""
        left = [r for chunk in reversed(chunks) for r in chunk]
        if len(left) != len(records):
            self.pending[0] = (topic, left)

    def _dead_letter(self, record, exc: Exception, attempts: int) -> None:
        logger.error(
            "dead-lettering %s/%s@%s after %d attempt(s): %s: %s",
            record.topic, record.partition, record.offset, attempts,
            exc.__class__.__name__, str(exc)[:300],
        )  # fmt: skip
        self.dead_letter(record, exc, attempts)  # raises (and is retried) if Kafka is away
        metrics.RECORDS_DEAD_LETTERED.labels(record.topic).inc()

    def _report(self, n: int) -> None:
        """Records/s and lag every ``log_every`` seconds, only while records flow."""
        self.count += n
        elapsed = time.monotonic() - self.since
        if elapsed < self.log_every:
            return
        if self.count:
            lags = self.lags
            logger.info(
                "relay: %.1f records/s over %.0fs, lag %d",
                self.count / elapsed, elapsed, sum(lags.values()),
            )  # fmt: skip
        self.count, self.since = 0, time.monotonic()

    def start(self) -> None:
        metrics.REGISTRY.register(self.lag)

    def alive(self) -> bool:
        # An empty poll is a good round even when the broker is out of reach or the group
        # dropped us: only a relay that owns partitions counts as delivering.
        return self.consumer.assigned()

    def close(self) -> None:
        """Commit what was handled (never what was only polled), leave the group."""
        metrics.REGISTRY.unregister(self.lag)
        if self.pending:
            logger.warning("stopping with unhandled records; they will be redelivered")
        self.consumer.close()
        if isinstance(self.announce, Announcer):
            self.announce.close()
